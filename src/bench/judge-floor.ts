/**
 * The judge's floor: how fast the sandbox alone can run a Python a+b, with no queue and no database.
 * It measures one run at a time on one slot against the same program started bare (no sandbox), which
 * gives the sandbox's start overhead per run, then runs in a plain loop on every slot at once for
 * runs/s. A report, not a test: it asserts nothing.
 *
 *   npx tsx src/bench/judge-floor.ts            # 200 runs on 2 slots
 *   JUDGE_FLOOR_RUNS=500 JUDGE_FLOOR_SLOTS=2 npx tsx src/bench/judge-floor.ts
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { Sandbox } from "../judge/sandbox.js";
import { judgeSlots, DEFAULT_SLOT_UID_BASE, type JudgeSlot } from "../judge/slots.js";
import { Workspace } from "../judge/workspace.js";
import { runLimits } from "../judge/verdict.js";
import { percentile } from "./report.js";

const PYTHON = "/usr/bin/python3";
const SOURCE = "a, b = map(int, input().split())\nprint(a + b)\n";
const INPUT = Buffer.from("20 22\n");
const EXPECTED = "42\n";

/** Median and 90th percentile of a series, and its best (which a busy machine disturbs least), in ms. */
export interface Spread {
  minMs: number;
  medianMs: number;
  p90Ms: number;
}

/** What the floor measured. */
export interface JudgeFloorReport {
  sandbox: string;
  /** One run at a time, sandboxed, from the call to the result (cgroup and clean-up included). */
  sandboxed: Spread;
  /** One run at a time of `python3 -I main.py` spawned directly. */
  bare: Spread;
  /** sandboxed − bare: what the sandbox adds to each run. */
  overhead: Spread;
  /** Sandbox-reported wall and CPU time of the program itself (median). */
  programWallMs: number;
  programCpuMs: number;
  throughput: { runs: number; slots: number; seconds: number; runsPerSecond: number };
  bareThroughput: { runs: number; slots: number; seconds: number; runsPerSecond: number };
}

const spreadOf = (samples: number[]): Spread => ({
  minMs: Math.min(...samples),
  medianMs: percentile(samples, 0.5),
  p90Ms: percentile(samples, 0.9),
});

function bareRun(workspace: Workspace): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-I", workspace.hostPath("main.py")], { env: {}, stdio: ["pipe", "pipe", "ignore"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 || output !== EXPECTED) reject(new Error(`bare python3 answered ${code}: ${output}`));
      else resolve(performance.now() - started);
    });
    child.stdin.end(INPUT);
  });
}

/**
 * Measures the sandbox's floor.
 * @param runs - sandboxed runs of the throughput loop (split evenly over the slots)
 * @param slots - slots run at once in the throughput loop
 * @param latencyRuns - one-at-a-time runs for the overhead figures, sandboxed and bare each
 */
export async function measureJudgeFloor(
  runs = 200,
  slotCount = 2,
  latencyRuns = 60,
  uidBase = DEFAULT_SLOT_UID_BASE,
): Promise<JudgeFloorReport> {
  const sandbox = await Sandbox.open();
  const slots = judgeSlots(slotCount, uidBase);
  const workspaces = await Promise.all(slots.map((slot) => Workspace.create(slot)));
  const limits = runLimits({ timeLimitMs: 1000, memoryLimitMb: 256 });
  try {
    await Promise.all(workspaces.map((workspace) => workspace.write("main.py", SOURCE)));
    const sandboxedRun = async (slot: JudgeSlot, workspace: Workspace) => {
      const started = performance.now();
      const result = await sandbox.run({
        slot,
        argv: [PYTHON, "-I", "/box/main.py"],
        workDir: workspace.dir,
        stdin: INPUT,
        limits,
      });
      if (result.exitCode !== 0 || result.stdout.toString() !== EXPECTED) {
        throw new Error(`the sandboxed a+b answered ${result.exitCode}: ${result.stderr.toString()}`);
      }
      return { ms: performance.now() - started, wallMs: result.wallMs, cpuMs: result.cpuMs };
    };
    const [slot, workspace] = [slots[0] as JudgeSlot, workspaces[0] as Workspace];
    for (let i = 0; i < 5; i++) {
      await sandboxedRun(slot, workspace);
      await bareRun(workspace);
    }

    // Alternate, so a change in the machine's load touches both series alike.
    const sandboxed: { ms: number; wallMs: number; cpuMs: number }[] = [];
    const bare: number[] = [];
    for (let i = 0; i < latencyRuns; i++) {
      sandboxed.push(await sandboxedRun(slot, workspace));
      bare.push(await bareRun(workspace));
    }
    const sandboxedSpread = spreadOf(sandboxed.map((sample) => sample.ms));
    const bareSpread = spreadOf(bare);

    const loop = async (count: number, once: (index: number) => Promise<unknown>) => {
      const started = performance.now();
      const perSlot = Math.ceil(count / slotCount);
      await Promise.all(
        slots.map(async (_, index) => {
          for (let i = 0; i < perSlot; i++) await once(index);
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      return { runs: perSlot * slotCount, slots: slotCount, seconds, runsPerSecond: (perSlot * slotCount) / seconds };
    };
    const throughput = await loop(runs, (index) =>
      sandboxedRun(slots[index] as JudgeSlot, workspaces[index] as Workspace),
    );
    const bareThroughput = await loop(runs, (index) => bareRun(workspaces[index] as Workspace));
    return {
      sandbox: sandbox.description,
      sandboxed: sandboxedSpread,
      bare: bareSpread,
      overhead: {
        minMs: sandboxedSpread.minMs - bareSpread.minMs,
        medianMs: sandboxedSpread.medianMs - bareSpread.medianMs,
        p90Ms: sandboxedSpread.p90Ms - bareSpread.p90Ms,
      },
      programWallMs: spreadOf(sandboxed.map((sample) => sample.wallMs)).medianMs,
      programCpuMs: spreadOf(sandboxed.map((sample) => sample.cpuMs)).medianMs,
      throughput,
      bareThroughput,
    };
  } finally {
    await Promise.all(workspaces.map((workspace) => workspace.dispose()));
  }
}

/** The report as lines of text. */
export function renderJudgeFloor(report: JudgeFloorReport): string {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const spread = (of: Spread) => `median ${ms(of.medianMs)}, p90 ${ms(of.p90Ms)}, best ${ms(of.minMs)}`;
  const rate = (loop: JudgeFloorReport["throughput"]) =>
    `${loop.runsPerSecond.toFixed(1)} runs/s (${loop.runs} runs on ${loop.slots} slots in ${loop.seconds.toFixed(1)} s)`;
  return [
    `judge floor: Python a+b, ${report.sandbox}`,
    `  sandboxed run     ${spread(report.sandboxed)}` +
      ` (program: wall ${ms(report.programWallMs)}, CPU ${ms(report.programCpuMs)})`,
    `  bare python3      ${spread(report.bare)}`,
    `  sandbox overhead  ${spread(report.overhead)}`,
    `  sandboxed loop    ${rate(report.throughput)}`,
    `  bare loop         ${rate(report.bareThroughput)}`,
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.JUDGE_FLOOR_RUNS ?? 200);
  const slots = Number(process.env.JUDGE_FLOOR_SLOTS ?? 2);
  const report = await measureJudgeFloor(runs, slots);
  process.stdout.write(`${renderJudgeFloor(report)}\n`);
}
