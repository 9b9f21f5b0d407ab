import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import { promisify } from "node:util";
import { JudgeFault } from "./faults.js";
import type { Sandbox, SandboxLimits, SandboxResult } from "./sandbox.js";
import type { JudgeSlot } from "./slots.js";
import { BOX_DIR, type Workspace } from "./workspace.js";

/**
 * The languages a submission may be written in: how each is checked or compiled (in the sandbox,
 * under limits of its own) and how the result is run.
 *
 * - PYTHON: /usr/bin/python3 with `-I` (isolated: no PYTHON* variables, no user site, the script's
 *   folder not on the path). `-S` would start 2 ms faster but also removes `exit()` and `quit()`,
 *   which students call. "Compiling" is a syntax check, so a syntax error is a COMPILE_ERROR with
 *   the interpreter's message instead of a runtime error on test 1.
 * - CPP: `g++ -std=c++17 -O2 -pipe -static`. Static linking costs nothing noticeable at compile
 *   time and saves the dynamic loader's work on every run (about 2 ms per test).
 */

/** A language of the contract. */
export type LanguageId = "PYTHON" | "CPP";

/** Every language, in the contract's order. */
export const LANGUAGE_IDS: readonly LanguageId[] = ["PYTHON", "CPP"];

/** A compile log is cut to this many bytes (the contract's 8 KiB). */
export const COMPILE_LOG_LIMIT_BYTES = 8 * 1024;

/** The limits of a compile step, the same for every task. */
export const COMPILE_LIMITS: SandboxLimits = {
  cpuTimeMs: 10_000,
  wallTimeMs: 20_000,
  memoryBytes: 512 * 1024 * 1024,
  // The driver, cc1plus, as, collect2 and ld, some at once.
  processes: 16,
  outputBytes: 64 * 1024,
  stderrBytes: 64 * 1024,
  fileSizeBytes: 64 * 1024 * 1024,
  openFiles: 256,
  tmpBytes: 128 * 1024 * 1024,
};

const PYTHON = "/usr/bin/python3";
const GXX = "/usr/bin/g++";

/** Checks the syntax without writing a .pyc (the work folder is read-only then). */
const PYTHON_SYNTAX_CHECK = [
  "import sys, traceback",
  "path = sys.argv[1]",
  "try:",
  "    compile(open(path, 'rb').read(), 'main.py', 'exec')",
  "except (SyntaxError, ValueError) as error:",
  "    sys.stderr.write(''.join(traceback.format_exception_only(type(error), error)))",
  "    sys.exit(1)",
].join("\n");

interface LanguageSpec {
  sourceFile: string;
  /** The compile or check command; `writable` when it writes the program into /box. */
  compile: { argv: string[]; writable: boolean };
  /** The file the compile step must leave, if any. */
  output: string | undefined;
  run: string[];
}

const SPECS: Record<LanguageId, LanguageSpec> = {
  PYTHON: {
    sourceFile: "main.py",
    compile: { argv: [PYTHON, "-I", "-c", PYTHON_SYNTAX_CHECK, `${BOX_DIR}/main.py`], writable: false },
    output: undefined,
    run: [PYTHON, "-I", `${BOX_DIR}/main.py`],
  },
  CPP: {
    sourceFile: "main.cpp",
    compile: {
      argv: [
        GXX,
        "-std=c++17",
        "-O2",
        "-pipe",
        "-static",
        "-DONLINE_JUDGE",
        "-fdiagnostics-color=never",
        "-o",
        `${BOX_DIR}/main`,
        `${BOX_DIR}/main.cpp`,
      ],
      writable: true,
    },
    output: "main",
    run: [`${BOX_DIR}/main`],
  },
};

/** A program ready to run: where it lives and the command that runs it inside the sandbox. */
export interface CompiledProgram {
  language: LanguageId;
  workspace: Workspace;
  argv: readonly string[];
}

/** The outcome of the compile step: a program, or a COMPILE_ERROR with its log. */
export type CompileOutcome =
  { ok: true; program: CompiledProgram; log: string } | { ok: false; log: string; result: SandboxResult };

/**
 * Cuts `text` to at most `limit` bytes of UTF-8 without splitting a character, ending with a note
 * when something was cut.
 */
export function truncateLog(text: string, limit = COMPILE_LOG_LIMIT_BYTES): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= limit) return text;
  const note = "\n… (truncated)";
  let end = limit - Buffer.byteLength(note);
  // Step back over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8") + note;
}

function limitNote(result: SandboxResult): string | undefined {
  if (result.memoryLimitExceeded) {
    return `Compilation exceeded the memory limit (${COMPILE_LIMITS.memoryBytes / 1024 / 1024} MB).`;
  }
  if (result.cpuTimeExceeded || result.wallTimeExceeded) {
    return `Compilation exceeded the time limit (${COMPILE_LIMITS.cpuTimeMs / 1000} s).`;
  }
  if (result.outputLimitExceeded) return "Compilation printed too much.";
  return undefined;
}

/**
 * Writes `source` into the workspace and compiles (or syntax-checks) it in the sandbox under
 * COMPILE_LIMITS.
 * @returns the program, or a failed outcome whose log (at most 8 KiB) says why
 * @throws JudgeFault when the sandbox failed, or the compiler claimed success without a program
 */
export async function compileSubmission(
  sandbox: Sandbox,
  submission: { language: LanguageId; source: string | Buffer; workspace: Workspace; slot: JudgeSlot },
): Promise<CompileOutcome> {
  const { language, source, workspace, slot } = submission;
  const spec = SPECS[language];
  await workspace.write(spec.sourceFile, source);
  const result = await sandbox.run({
    slot,
    argv: spec.compile.argv,
    workDir: workspace.dir,
    workDirWritable: spec.compile.writable,
    limits: COMPILE_LIMITS,
  });
  const said = Buffer.concat([result.stdout, result.stderr]).toString("utf8");
  const note = limitNote(result);
  if (note !== undefined || result.exitCode !== 0) {
    const reason = note ?? (result.signal === null ? "" : `The compiler was killed by ${result.signal}.`);
    // The reason is never cut: a flood of output would otherwise push it out of the log it explains.
    const room = COMPILE_LOG_LIMIT_BYTES - (reason === "" ? 0 : Buffer.byteLength(reason) + 1);
    const log = [truncateLog(said.trimEnd(), room), reason].filter((part) => part !== "").join("\n");
    return { ok: false, log, result };
  }
  if (spec.output !== undefined) {
    try {
      await fs.access(workspace.hostPath(spec.output));
    } catch {
      throw new JudgeFault(`the ${language} compiler succeeded without writing ${spec.output}`);
    }
  }
  return { ok: true, program: { language, workspace, argv: spec.run }, log: truncateLog(said) };
}

/** The runtime of each language as installed on this machine, for the judge's status. */
export async function languageVersions(): Promise<Record<LanguageId, string>> {
  const run = promisify(execFile);
  const [python, gxx] = await Promise.all([run(PYTHON, ["--version"]), run(GXX, ["-dumpfullversion"])]);
  return { PYTHON: python.stdout.trim(), CPP: `g++ ${gxx.stdout.trim()}` };
}
