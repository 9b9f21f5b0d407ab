import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileSubmission, type CompiledProgram, type CompileOutcome, type LanguageId } from "../judge/languages.js";
import { probeSandbox, Sandbox, type SandboxLimits, type SandboxResult } from "../judge/sandbox.js";
import { judgeSlots, processesOfUser, type JudgeSlot } from "../judge/slots.js";
import { Workspace } from "../judge/workspace.js";

/**
 * Shared pieces of the judge's tests. They run the real sandbox: when it cannot work on this machine
 * the suites fail with the reason (CI installs bubblewrap and runs as root), they never skip.
 */

/**
 * Slot uids of this test process: derived from its pid, so suites running at once on one machine
 * (several worktrees, say) never share a uid, which the sandbox would rightly refuse.
 */
export const TEST_UID_BASE = 1_000_000 + process.pid * 8;

/** Slots 0..3 of this test process. */
export const testSlots: readonly JudgeSlot[] = judgeSlots(4, TEST_UID_BASE);

/** Every uid this test process may give a slot: 0..3 for its own sandbox, 4..7 for the workers it starts. */
const everyTestSlot: readonly JudgeSlot[] = judgeSlots(8, TEST_UID_BASE);

/** The uid base of the `index`-th pair of worker slots a test starts (slots 4-5, then 6-7). */
export const workerUidBase = (index: 0 | 1) => TEST_UID_BASE + 4 + 2 * index;

/** The first slot, for tests that need only one. */
export const testSlot = testSlots[0] as JudgeSlot;

let opened: Promise<Sandbox> | undefined;

/** The machine's sandbox, opened once per test run; fails loudly (with the probe's reason) when unusable. */
export function testSandbox(): Promise<Sandbox> {
  opened ??= (async () => {
    const probe = await probeSandbox({}, testSlot);
    if (!probe.available) {
      assert.fail(`the judge's sandbox does not work on this machine: ${probe.reason}`);
    }
    return Sandbox.open();
  })();
  return opened;
}

/** Generous limits for a small program; tests override what they exercise. */
export const SMALL_LIMITS: SandboxLimits = {
  cpuTimeMs: 2_000,
  wallTimeMs: 5_000,
  memoryBytes: 64 * 1024 * 1024,
  processes: 4,
  outputBytes: 1024 * 1024,
  stderrBytes: 64 * 1024,
  fileSizeBytes: 1024 * 1024,
  openFiles: 64,
  tmpBytes: 4 * 1024 * 1024,
};

/** Runs a Python script in the sandbox on `slot` with a fresh workspace, then removes the workspace. */
export async function runPython(
  script: string,
  options: { slot?: JudgeSlot; stdin?: string | Buffer; limits?: Partial<SandboxLimits> } = {},
): Promise<SandboxResult> {
  const sandbox = await testSandbox();
  const slot = options.slot ?? testSlot;
  const workspace = await Workspace.create(slot);
  try {
    await workspace.write("main.py", script);
    return await sandbox.run({
      slot,
      argv: ["/usr/bin/python3", "-I", "/box/main.py"],
      workDir: workspace.dir,
      stdin: options.stdin === undefined ? undefined : Buffer.from(options.stdin),
      limits: { ...SMALL_LIMITS, ...options.limits },
    });
  } finally {
    await workspace.dispose();
  }
}

/** Asserts, by reading /proc, that no process of any test slot's user is left. */
export function assertNoSlotProcesses(): void {
  for (const slot of everyTestSlot) {
    assert.deepEqual(processesOfUser(slot.uid), [], `processes of slot ${slot.index} (uid ${slot.uid}) are left`);
  }
}

/** A run's standard output as text. */
export const textOf = (result: SandboxResult) => result.stdout.toString("utf8");

/** A submission compiled on `slot` in a fresh workspace (by the test sandbox unless told); call `dispose` when done with it. */
export async function compiledOn(
  slot: JudgeSlot,
  language: LanguageId,
  source: string,
  sandbox?: Sandbox,
): Promise<{ outcome: CompileOutcome; workspace: Workspace; dispose: () => Promise<void> }> {
  sandbox ??= await testSandbox();
  const workspace = await Workspace.create(slot);
  try {
    const outcome = await compileSubmission(sandbox, { language, source, workspace, slot });
    return { outcome, workspace, dispose: () => workspace.dispose() };
  } catch (error) {
    await workspace.dispose();
    throw error;
  }
}

/** The program of a compile that must have succeeded. */
export function programOf(outcome: CompileOutcome): CompiledProgram {
  if (!outcome.ok) assert.fail(`the compile failed:\n${outcome.log}`);
  return outcome.program;
}

/**
 * The fake sandbox's way of starting as the real one does: it says "ready" on fd 4 and waits for the
 * worker's go-ahead on fd 3. What follows in a fake's script is the program.
 */
export const FAKE_SANDBOX_READY = "printf . >&4 && exec 4>&- && read -r line <&3 && exec 3<&-";

/**
 * Calls `use` with the path of a stand-in for bubblewrap: `--version` answers as the real one, any other
 * call runs the shell `script` instead of building a sandbox, as the slot's user and in the run's cgroup.
 * For what the real sandbox cannot be made to do on purpose (a compiler that crashes, say).
 */
export async function withFakeBubblewrap<T>(script: string, use: (bwrapPath: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-fake-bwrap-"));
  try {
    // The slot's user starts it: the folder must let that user reach it.
    await fs.chmod(dir, 0o755);
    const bwrap = path.join(dir, "bwrap");
    await fs.writeFile(bwrap, `#!/bin/sh\n[ "$1" = --version ] && exec /usr/bin/bwrap --version\n${script}\n`, {
      mode: 0o755,
    });
    return await use(bwrap);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
