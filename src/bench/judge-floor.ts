/**
 * The judge's floor and the whole judge against it.
 *
 * The floor: how fast the sandbox alone can run a Python a+b, with no queue and no database. It
 * measures one run at a time on one slot against the same program started bare (no sandbox), which
 * gives the sandbox's start overhead per run, then runs in a plain loop on every slot at once for
 * runs/s. The judge: the same a+b sent as queued submissions of five tests each to a real worker
 * process on its own embedded PostgreSQL, submissions/s from the commit of the queue to the last
 * verdict. A report, not a test: it asserts nothing.
 *
 *   npx tsx src/bench/judge-floor.ts            # the floor alone: 200 runs on 2 slots
 *   JUDGE_FLOOR_RUNS=500 JUDGE_FLOOR_SLOTS=2 npx tsx src/bench/judge-floor.ts
 *   BENCH_ONLY=judge npm run bench              # the judge against the floor
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { QueryTypes } from "sequelize";
import { loadConfig } from "../config/index.js";
import { connect, ensureDatabaseExists } from "../db/database.js";
import { inTransaction } from "../db/db.js";
import { startEmbeddedPostgres } from "../db/embedded.js";
import type { Logger } from "../logging/logger.js";
import { initModels } from "../modules/index.js";
import { enqueueJudging, insertSubmission, JUDGING_ATTEMPTS } from "../modules/submissions/queries.js";
import { JudgeFault } from "../judge/faults.js";
import { Sandbox, type SandboxResult } from "../judge/sandbox.js";
import { judgeSlots, DEFAULT_SLOT_UID_BASE, type JudgeSlot } from "../judge/slots.js";
import { Workspace } from "../judge/workspace.js";
import { runLimits } from "../judge/verdict.js";
import { startJudgeWorker } from "./processes.js";
import { percentile, type TargetOutcome } from "./report.js";

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
  /** Sandboxed runs that failed in the sandbox itself and ran again, as a worker hands a submission back. */
  faults: number;
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
    let faults = 0;
    const sandboxedRun = async (slot: JudgeSlot, workspace: Workspace) => {
      const started = performance.now();
      const request = { slot, argv: [PYTHON, "-I", "/box/main.py"], workDir: workspace.dir, stdin: INPUT, limits };
      let result: SandboxResult | undefined;
      // A fault of the sandbox (a cgroup file that would not read, once in a few thousand runs here) costs
      // a worker one more attempt, not its queue; the floor counts it and runs again the same way.
      for (let attempt = 1; result === undefined; attempt++) {
        try {
          result = await sandbox.run(request);
        } catch (error) {
          if (!(error instanceof JudgeFault) || attempt >= JUDGING_ATTEMPTS) throw error;
          faults++;
        }
      }
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
      faults,
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
    `  sandbox faults    ${report.faults} (each run again, as a worker would)`,
  ].join("\n");
}

/** The judge's throughput target: at least this share of the floor's submissions/s. */
export const JUDGE_VS_FLOOR = 0.7;

/** Tests per submission in the judge scenario. */
const TESTS_PER_SUBMISSION = 5;

/** What the judge scenario measured. */
export interface JudgeBenchOutcome {
  submissions: number;
  testsEach: number;
  slots: number;
  /** From the commit that queued them to the last verdict. */
  seconds: number;
  submissionsPerSecond: number;
  /** How many came out ACCEPTED after one attempt (all of them, or the figure means little). */
  acceptedFirstTime: number;
  /** The same number of sandboxed runs in a plain loop on as many slots. */
  floor: JudgeFloorReport;
  floorSubmissionsPerSecond: number;
  ratio: number;
}

/**
 * Queues `submissions` accepted Python a+b solutions of five tests each in one transaction while one
 * worker process with `slotCount` slots waits on an empty queue, and times them to the last verdict;
 * then measures the floor with as many sandboxed runs (submissions × tests) on as many slots.
 * @param benchDir - where its own embedded PostgreSQL lives (a fresh database each run)
 * @param runtime - how the worker runs: `dist` (built by the caller) or `tsx`
 * @param uidBase - the slots' first uid; nothing else on the machine may use the range
 */
export async function measureJudgeThroughput(options: {
  benchDir: string;
  runtime: "dist" | "tsx";
  logger: Logger;
  submissions?: number;
  slotCount?: number;
  uidBase?: number;
  say?: (message: string) => void;
}): Promise<JudgeBenchOutcome> {
  const { submissions = 200, slotCount = 2, uidBase = DEFAULT_SLOT_UID_BASE + 400, say = () => undefined } = options;
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(options.benchDir, "judge-postgres"),
    logger: options.logger,
  });
  try {
    // A fresh database each run: the queue and the submissions of the last one would blur this one.
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("DROP DATABASE IF EXISTS shtp_judge_bench WITH (FORCE)");
    } finally {
      await admin.end();
    }
    const url = await ensureDatabaseExists(postgres.url, "shtp_judge_bench");
    const database = await connect(url, loadConfig({}).database, initModels, { logger: options.logger });
    const db = { sequelize: database.sequelize };
    try {
      const [user] = await database.sequelize.query<{ id: string }>(
        `WITH g AS (INSERT INTO groups (name) VALUES ('bench') RETURNING id)
         INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, password_hash)
         SELECT 'judge-bench@bench.shtp.local', 'judge_bench', 'Judge', 'Bench', 'student', g.id, '-' FROM g
         RETURNING id`,
        { type: QueryTypes.SELECT },
      );
      const [task] = await database.sequelize.query<{ id: string }>(
        `INSERT INTO tasks (title, statement, languages) VALUES ('a+b', 'Add two numbers.', '{python}') RETURNING id`,
        { type: QueryTypes.SELECT },
      );
      if (!user || !task) throw new Error("the judge bench's user and task were not made");
      for (let ordinal = 1; ordinal <= TESTS_PER_SUBMISSION; ordinal++) {
        await database.sequelize.query(
          "INSERT INTO task_tests (task_id, ordinal, input, output, demo) VALUES (:taskId, :ordinal, :input, :output, false)",
          {
            replacements: {
              taskId: task.id,
              ordinal,
              input: `${ordinal} ${ordinal * 7}\n`,
              output: `${ordinal * 8}\n`,
            },
          },
        );
      }
      const worker = await startJudgeWorker({
        databaseUrl: url,
        benchDir: options.benchDir,
        runtime: options.runtime,
        slots: slotCount,
        uidBase,
      });
      let seconds: number;
      try {
        say(
          `judge: queueing ${submissions} a+b submissions (${TESTS_PER_SUBMISSION} tests each) for ${slotCount} slots`,
        );
        const queuedAt = performance.now();
        await inTransaction(db, async (tx) => {
          const jobs = [];
          for (let i = 0; i < submissions; i++) {
            const row = await insertSubmission(
              tx,
              {
                userId: user.id,
                taskId: task.id,
                contestId: null,
                challengeDay: null,
                language: "python",
                source: SOURCE,
              },
              "UTC",
            );
            if (!row) throw new Error("a bench submission was not inserted");
            jobs.push({ submissionId: row.id, attempt: row.judgeRound });
          }
          await enqueueJudging(tx, jobs);
        });
        const deadline = Date.now() + 30 * 60_000;
        for (;;) {
          const [left] = await database.sequelize.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM submissions WHERE status IN ('queued', 'judging')",
            { type: QueryTypes.SELECT },
          );
          if ((left?.n ?? 0) === 0) break;
          if (Date.now() > deadline) throw new Error(`the judge left ${left?.n} submissions unjudged`);
          await sleep(50);
        }
        seconds = (performance.now() - queuedAt) / 1000;
      } finally {
        await worker.stop();
      }
      const [accepted] = await database.sequelize.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM submissions WHERE verdict = 'accepted' AND attempts = 1",
        { type: QueryTypes.SELECT },
      );
      say(
        `judge: ${submissions} judged in ${seconds.toFixed(1)} s; the floor: ${submissions * TESTS_PER_SUBMISSION} runs`,
      );
      const floor = await measureJudgeFloor(submissions * TESTS_PER_SUBMISSION, slotCount, 60, uidBase);
      const submissionsPerSecond = submissions / seconds;
      const floorSubmissionsPerSecond = floor.throughput.runsPerSecond / TESTS_PER_SUBMISSION;
      return {
        submissions,
        testsEach: TESTS_PER_SUBMISSION,
        slots: slotCount,
        seconds,
        submissionsPerSecond,
        acceptedFirstTime: accepted?.n ?? 0,
        floor,
        floorSubmissionsPerSecond,
        ratio: submissionsPerSecond / floorSubmissionsPerSecond,
      };
    } finally {
      await database.close();
    }
  } finally {
    await postgres.stop();
  }
}

/** The judge's target, judged. */
export function judgeTarget(outcome: JudgeBenchOutcome | undefined, note = "not run"): TargetOutcome {
  const target = `judge ≥ ${JUDGE_VS_FLOOR} × floor submissions/s (Python a+b, ${TESTS_PER_SUBMISSION} tests, 2 slots)`;
  if (!outcome) return { target, value: note, verdict: "not available" };
  return {
    target,
    value: outcome.ratio.toFixed(2),
    verdict: outcome.acceptedFirstTime === outcome.submissions && outcome.ratio >= JUDGE_VS_FLOOR ? "met" : "not met",
  };
}

/** The judge scenario as lines of text, the floor's figures included. */
export function renderJudgeBench(outcome: JudgeBenchOutcome): string {
  return [
    `judge: ${outcome.submissions} submissions × ${outcome.testsEach} tests on ${outcome.slots} slots in ` +
      `${outcome.seconds.toFixed(1)} s = ${outcome.submissionsPerSecond.toFixed(2)} submissions/s ` +
      `(${outcome.acceptedFirstTime} accepted at the first attempt)`,
    `  floor: ${outcome.floorSubmissionsPerSecond.toFixed(2)} submissions/s ` +
      `(${outcome.floor.throughput.runsPerSecond.toFixed(1)} sandboxed runs/s ÷ ${outcome.testsEach}); ` +
      `judge / floor = ${outcome.ratio.toFixed(2)} (target ≥ ${JUDGE_VS_FLOOR})`,
    renderJudgeFloor(outcome.floor),
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.JUDGE_FLOOR_RUNS ?? 200);
  const slots = Number(process.env.JUDGE_FLOOR_SLOTS ?? 2);
  const report = await measureJudgeFloor(runs, slots);
  process.stdout.write(`${renderJudgeFloor(report)}\n`);
}
