import { outputsMatch, type CheckerKind } from "./checker.js";
import type { CompiledProgram } from "./languages.js";
import type { Sandbox, SandboxLimits, SandboxResult } from "./sandbox.js";
import type { JudgeSlot } from "./slots.js";

/**
 * Turns sandbox results into verdicts: one test at a time in the contract's order, and a whole
 * submission by running its tests in order up to the first one that is not accepted.
 */

/** The verdicts of the contract. */
export type Verdict =
  "ACCEPTED" | "WRONG_ANSWER" | "TIME_LIMIT" | "MEMORY_LIMIT" | "OUTPUT_LIMIT" | "RUNTIME_ERROR" | "COMPILE_ERROR";

/** A task's limits as teachers set them. */
export interface TaskLimits {
  timeLimitMs: number;
  memoryLimitMb: number;
}

/** The most a program may print to standard output on one test: twice the largest test field. */
export const DEFAULT_OUTPUT_LIMIT_BYTES = 16 * 1024 * 1024;

/** The wall-clock limit for a CPU limit: max(2 × limit, limit + 1 s), so waiting programs end too. */
export function wallTimeLimitMs(timeLimitMs: number): number {
  return Math.max(2 * timeLimitMs, timeLimitMs + 1000);
}

/** The sandbox limits of one test run of a task. */
export function runLimits(task: TaskLimits, outputLimitBytes = DEFAULT_OUTPUT_LIMIT_BYTES): SandboxLimits {
  return {
    cpuTimeMs: task.timeLimitMs,
    wallTimeMs: wallTimeLimitMs(task.timeLimitMs),
    memoryBytes: task.memoryLimitMb * 1024 * 1024,
    // Room for a few threads of a runtime; a fork bomb stops here.
    processes: 8,
    outputBytes: outputLimitBytes,
    stderrBytes: 64 * 1024,
    fileSizeBytes: 16 * 1024 * 1024,
    openFiles: 64,
    tmpBytes: 16 * 1024 * 1024,
  };
}

/**
 * The verdict of one test, first match wins: memory limit; time limit (CPU or wall); output limit;
 * runtime error (a signal or a non-zero exit); wrong answer; accepted. `answerAccepted` is only
 * asked when the program ended cleanly.
 */
export function testVerdict(result: SandboxResult, answerAccepted: () => boolean): Verdict {
  if (result.memoryLimitExceeded) return "MEMORY_LIMIT";
  if (result.cpuTimeExceeded || result.wallTimeExceeded) return "TIME_LIMIT";
  if (result.outputLimitExceeded) return "OUTPUT_LIMIT";
  if (result.signal !== null || result.exitCode !== 0) return "RUNTIME_ERROR";
  return answerAccepted() ? "ACCEPTED" : "WRONG_ANSWER";
}

/** The time shown for a test: CPU time, or the wall time that ended a program that was waiting. */
export function reportedTimeMs(result: SandboxResult): number {
  return result.wallTimeExceeded && !result.cpuTimeExceeded ? result.wallMs : result.cpuMs;
}

/** One test of a task. */
export interface JudgeTest {
  /** 1-based position of the test in the task. */
  ordinal: number;
  input: Buffer | string;
  expected: Buffer | string;
}

/** What a finished test reports: never its input, output or the program's output. */
export interface TestOutcome {
  ordinal: number;
  verdict: Verdict;
  timeMs: number;
  memoryKb: number;
}

/** The outcome of judging a compiled submission. */
export interface JudgeOutcome {
  verdict: Verdict;
  /** The ordinal of the first test that was not accepted; null when all were. */
  failedTest: number | null;
  passedTests: number;
  maxTimeMs: number;
  maxMemoryKb: number;
  /** The tests that ran, in order: every accepted one and the failed one. */
  tests: TestOutcome[];
}

/** Everything `judgeTests` needs. */
export interface JudgeRequest {
  sandbox: Sandbox;
  program: CompiledProgram;
  limits: TaskLimits;
  tests: readonly JudgeTest[];
  checker: CheckerKind;
  slot: JudgeSlot;
  /** Called after each test, before the next starts (the worker writes rows and progress). */
  onTest?: (outcome: TestOutcome, finished: number, total: number) => void | Promise<void>;
  outputLimitBytes?: number;
}

const asBuffer = (data: Buffer | string) => (typeof data === "string" ? Buffer.from(data, "utf8") : data);

/**
 * Runs the tests in ordinal order and stops at the first one that is not accepted.
 * @throws JudgeFault from the sandbox (the job is retried; no verdict was reached)
 * @throws RangeError for an empty test list: a task without tests cannot be judged
 */
export async function judgeTests(request: JudgeRequest): Promise<JudgeOutcome> {
  const { sandbox, program, checker, slot, onTest } = request;
  if (request.tests.length === 0) throw new RangeError("a submission cannot be judged without tests");
  const tests = [...request.tests].sort((a, b) => a.ordinal - b.ordinal);
  const limits = runLimits(request.limits, request.outputLimitBytes);
  const outcomes: TestOutcome[] = [];
  for (const test of tests) {
    const result = await sandbox.run({
      slot,
      argv: program.argv,
      workDir: program.workspace.dir,
      stdin: asBuffer(test.input),
      limits,
    });
    const verdict = testVerdict(result, () => outputsMatch(checker, result.stdout, asBuffer(test.expected)));
    const outcome = { ordinal: test.ordinal, verdict, timeMs: reportedTimeMs(result), memoryKb: result.memoryKb };
    outcomes.push(outcome);
    await onTest?.(outcome, outcomes.length, tests.length);
    if (verdict !== "ACCEPTED") break;
  }
  const failed = outcomes.find((outcome) => outcome.verdict !== "ACCEPTED");
  return {
    verdict: failed?.verdict ?? "ACCEPTED",
    failedTest: failed?.ordinal ?? null,
    passedTests: outcomes.filter((outcome) => outcome.verdict === "ACCEPTED").length,
    maxTimeMs: Math.max(...outcomes.map((outcome) => outcome.timeMs)),
    maxMemoryKb: Math.max(...outcomes.map((outcome) => outcome.memoryKb)),
    tests: outcomes,
  };
}
