import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Database } from "../db/database.js";
import type { Db } from "../db/db.js";
import { startPeriodicJob } from "../lifecycle/periodic.js";
import { within } from "../lifecycle/within.js";
import type { Logger } from "../logging/logger.js";
import { recordWorkerHeartbeat, removeWorker, type RuntimeRow } from "../modules/judge/service.js";
import {
  claimSubmission,
  completeJob,
  extendLease,
  finishSubmission,
  maintainJudgingQueue,
  publishProgress,
  recordTestResult,
  releaseAbandonedSubmissions,
  releaseSubmission,
  takeJudgingJobs,
  type FetchedJob,
  type JudgingClaim,
  type Lease,
  type Outcome,
  type Progress,
  type QueueMaintenance,
  type TestVerdictName,
  type VerdictName,
} from "../modules/submissions/service.js";
import type { CheckerName, LanguageName } from "../modules/tasks/service.js";
import type { CheckerKind } from "./checker.js";
import { JudgeFault } from "./faults.js";
import { compileSubmission, LANGUAGE_IDS, languageVersions, type LanguageId } from "./languages.js";
import { probeSandbox, Sandbox } from "./sandbox.js";
import { judgeSlots, type JudgeSlot } from "./slots.js";
import { judgeTests, type Verdict } from "./verdict.js";
import { Workspace } from "./workspace.js";

/**
 * The judge worker: takes judging jobs off the queue, one per free slot, and judges each under a lease
 * through the submissions module's fenced API. Every write carries the lease token, so a worker that
 * lost its lease (it stalled past the expiry, or the submission was sent to the judge again) changes
 * nothing; a fault of the judge's own hands the submission back for another attempt.
 */

/** How a worker runs. */
export interface WorkerOptions {
  db: Db;
  sandbox: Sandbox;
  /** One submission at a time on each. */
  slots: readonly JudgeSlot[];
  logger: Logger;
  /** Stable for the life of the process; shown in /judge/status. */
  workerId?: string;
  /** How long a claim holds without news from this worker; it is extended every third of it. */
  leaseSeconds?: number;
  /** How long to wait before asking an empty queue again. */
  pollMs?: number;
  heartbeatSeconds?: number;
}

export const DEFAULT_LEASE_SECONDS = 60;
export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_HEARTBEAT_SECONDS = 15;

/** How often, by default, a judge runs the queue's upkeep (jobs of dead workers handed out again). */
export const DEFAULT_MAINTENANCE_SECONDS = 60;

/** How long a worker stopping with jobs still running waits for them before handing them back. */
export const DEFAULT_STOP_GRACE_MS = 60_000;

const languageIds: Record<LanguageName, LanguageId> = { python: "PYTHON", cpp: "CPP" };
const languageNamesById: Record<LanguageId, LanguageName> = { PYTHON: "python", CPP: "cpp" };
const checkerKinds: Record<CheckerName, CheckerKind> = { lines: "LINES", tokens: "TOKENS" };

/** The judge's verdicts as the submissions module stores them (the wire names come from those). */
const storedVerdicts: Record<Verdict, VerdictName> = {
  ACCEPTED: "accepted",
  WRONG_ANSWER: "wrong_answer",
  TIME_LIMIT: "time_limit",
  MEMORY_LIMIT: "memory_limit",
  OUTPUT_LIMIT: "output_limit",
  RUNTIME_ERROR: "runtime_error",
  COMPILE_ERROR: "compile_error",
};

function storedTestVerdict(verdict: Verdict): TestVerdictName {
  const stored = storedVerdicts[verdict];
  // judgeTests never gives a single test COMPILE_ERROR: the compile step ends judging before any test.
  if (stored === "compile_error") throw new JudgeFault("a test was given a compile error");
  return stored;
}

/** The lease was taken from this worker, or the worker is stopping: stop judging, write nothing more. */
class JudgingAbandoned extends Error {
  override name = "JudgingAbandoned";
}

/** A job in progress on a slot. */
interface Running {
  slot: JudgeSlot;
  job: FetchedJob;
  /** Set when the worker stops before the job finishes: it is handed back instead. */
  abandoned: boolean;
  /** Gives the slot to the next job (once): as soon as the sandbox is done, before the verdict is written. */
  freeSlot: () => void;
  done: Promise<void>;
}

/** One worker process's judge: a loop taking jobs while slots are free, and a heartbeat. */
export class JudgeWorker {
  readonly workerId: string;
  private readonly leaseSeconds: number;
  private readonly pollMs: number;
  private readonly heartbeatMs: number;
  private readonly idle: JudgeSlot[];
  private readonly running = new Set<Running>();
  private runtimes: RuntimeRow[] = [];
  private stopping = false;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** The heartbeat in flight, so the row is not written again after a clean stop removed it. */
  private beating: Promise<void> = Promise.resolve();
  /** Wakes the loop when a slot frees or the worker stops. */
  private wake: (() => void) | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {
    if (options.slots.length === 0) throw new RangeError("a judge worker needs at least one slot");
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}`;
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.heartbeatMs = (options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
    this.idle = [...options.slots];
  }

  /** The jobs being judged now. */
  get busySlots(): number {
    return this.running.size;
  }

  /** Registers the worker (its first heartbeat) and starts taking jobs. */
  async start(): Promise<void> {
    const versions = await languageVersions();
    this.runtimes = LANGUAGE_IDS.map((id) => ({ language: languageNamesById[id], version: versions[id] }));
    await this.beat();
    this.heartbeat = setInterval(() => {
      this.beating = this.beat();
    }, this.heartbeatMs);
    this.heartbeat.unref();
    this.loop = this.takeJobs();
    this.options.logger.info(
      { workerId: this.workerId, slots: this.options.slots.map((slot) => slot.uid) },
      "judge worker started",
    );
  }

  /**
   * Stops taking jobs and lets the running ones finish; those still running after `graceMs` are handed
   * back (QUEUED again, their sandboxed programs killed). Then the worker's row is removed.
   */
  stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.wake?.();
      clearInterval(this.heartbeat);
      await this.loop;
      const all = () => Promise.all([...this.running].map((entry) => entry.done));
      const finished = await within(
        all().then(() => true),
        graceMs,
        false,
      );
      if (!finished) {
        this.options.logger.warn(
          { jobs: this.running.size, graceMs },
          "judge worker stopping: handing back what is still running",
        );
        for (const entry of this.running) entry.abandoned = true;
        // Again until every job has ended: one may have been between two tests when the first kill came.
        let ended = false;
        const allEnded = all().then(() => (ended = true));
        while (!ended) {
          await this.options.sandbox.killRuns();
          await within(allEnded, 100, false);
        }
      }
      await this.beating;
      await removeWorker(this.options.db, this.workerId).catch((error: unknown) =>
        this.options.logger.warn({ err: error }, "could not remove the judge worker's row"),
      );
      this.options.logger.info({ workerId: this.workerId }, "judge worker stopped");
    })();
    return this.stopped;
  }

  private async beat(): Promise<void> {
    try {
      await recordWorkerHeartbeat(this.options.db, {
        workerId: this.workerId,
        host: os.hostname(),
        slots: this.options.slots.length,
        runtimes: this.runtimes,
      });
    } catch (error) {
      this.options.logger.warn({ err: error }, "judge heartbeat failed; will retry");
    }
  }

  /** Waits until a slot frees, the worker stops, or `ms` pass. */
  private async pause(ms: number): Promise<void> {
    const controller = new AbortController();
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      sleep(ms, undefined, { signal: controller.signal }).then(resolve, () => undefined);
    });
    controller.abort();
    this.wake = undefined;
  }

  /**
   * Fetches as many jobs as there are free slots, again as soon as one frees. pg-boss's own `work()`
   * fetches a batch and waits for every job of it before fetching again, so one slow submission would
   * leave the other slots idle.
   */
  private async takeJobs(): Promise<void> {
    while (!this.stopping) {
      const free = this.idle.length;
      if (free === 0) {
        await this.pause(this.pollMs);
        continue;
      }
      let jobs: FetchedJob[] = [];
      try {
        jobs = await takeJudgingJobs(this.options.db, free);
      } catch (error) {
        this.options.logger.warn({ err: error }, "taking judging jobs failed; will retry");
      }
      for (const job of jobs) {
        const slot = this.idle.pop();
        // The queue gave no more jobs than there were free slots.
        if (slot === undefined) break;
        this.begin(slot, job);
      }
      if (jobs.length < free) await this.pause(this.pollMs);
    }
  }

  private begin(slot: JudgeSlot, job: FetchedJob): void {
    let slotFreed = false;
    const freeSlot = () => {
      if (slotFreed) return;
      slotFreed = true;
      this.idle.push(slot);
      this.wake?.();
    };
    const entry: Running = { slot, job, abandoned: false, freeSlot, done: Promise.resolve() };
    this.running.add(entry);
    entry.done = this.judgeJob(entry)
      .catch((error: unknown) =>
        this.options.logger.error({ err: error, submissionId: job.data.submissionId }, "judging job failed"),
      )
      .finally(() => {
        this.running.delete(entry);
        freeSlot();
      });
  }

  private async judgeJob(entry: Running): Promise<void> {
    const { db, logger } = this.options;
    const { job } = entry;
    const takenAt = Date.now();
    const claimed = await claimSubmission(db, job.data, this.leaseSeconds, job.id);
    if (claimed.kind !== "claimed") {
      // Nothing to judge (another round, done, held by another worker, or its attempts spent); the
      // claim's transaction completed the job.
      logger.debug({ submissionId: job.data.submissionId, outcome: claimed.kind }, "judging job needed nothing");
      return;
    }
    const { claim } = claimed;
    const lease: Lease = { submissionId: claim.submissionId, leaseToken: claim.leaseToken };
    let leaseLost = false;
    const keeper = setInterval(
      () => {
        extendLease(db, lease, this.leaseSeconds).then(
          (expiry) => (leaseLost ||= expiry === null),
          (error: unknown) => logger.warn({ err: error, submissionId: lease.submissionId }, "extending a lease failed"),
        );
      },
      (this.leaseSeconds * 1000) / 3,
    );
    const log = logger.child({ submissionId: claim.submissionId, attempt: claim.attempt, slot: entry.slot.index });
    try {
      const outcome = await this.judgeClaim(entry, claim, lease, () => leaseLost);
      // Nothing of this submission runs in the sandbox any more: the slot may take the next job while
      // the verdict is written.
      entry.freeSlot();
      const recorded = await finishSubmission(db, lease, outcome, job.id);
      if (recorded) log.info({ verdict: outcome.verdict, ms: Date.now() - takenAt }, "judged");
      else this.completeIfStillOurs(job, takenAt, log);
    } catch (error) {
      if (error instanceof JudgingAbandoned && !entry.abandoned) {
        log.warn("the lease was taken over; this attempt's writes were refused");
        this.completeIfStillOurs(job, takenAt, log);
        return;
      }
      // A stop kills what runs, a sandbox still being set up too (which then fails as "did not start"):
      // that is no fault of the judge, and the hand-back says why.
      if (!(error instanceof JudgingAbandoned) && !entry.abandoned) {
        log.warn(
          { err: error },
          error instanceof JudgeFault ? "judge fault: handing back" : "judging failed: handing back",
        );
      }
      const released = await releaseSubmission(db, lease, job.id);
      // An abandoned entry's error was not logged above: it goes here, whatever it was (the stop's kill, mostly).
      log.info(
        entry.abandoned ? { released, err: error } : { released },
        entry.abandoned ? "handed back: the worker is stopping" : "handed back",
      );
      if (released === "stale") this.completeIfStillOurs(job, takenAt, log);
    } finally {
      clearInterval(keeper);
    }
  }

  /**
   * A job whose lease was lost, completed outside the verdict's transaction: only while pg-boss cannot
   * have handed it out again (its expiry, with a margin, has not come since it was taken), because a
   * job handed out again has the same id and now belongs to the worker that holds it. Past that, it is
   * left to expire and to be found stale by whoever takes it next.
   */
  private completeIfStillOurs(job: FetchedJob, takenAt: number, log: Logger): void {
    const marginMs = 5000;
    if (Date.now() - takenAt >= job.expireInSeconds * 1000 - marginMs) return;
    completeJob(this.options.db, job.id).catch((error: unknown) =>
      log.warn({ err: error }, "completing a stale judging job failed; it expires by itself"),
    );
  }

  /** Compiles and runs a claimed submission, writing each test's result under the lease. */
  private async judgeClaim(
    entry: Running,
    claim: JudgingClaim,
    lease: Lease,
    leaseLost: () => boolean,
  ): Promise<Outcome> {
    const { db, sandbox, logger } = this.options;
    const { slot } = entry;
    const totalTests = claim.tests.length;
    // The database writes of a judging go in order on a chain of their own while the sandbox goes on
    // with the next test, so a slot never waits for a round trip. A result the lease refused, or a
    // write that failed, stops judging at the next test, and the chain is drained before the verdict.
    let writes = Promise.resolve();
    let refused = false;
    let writeError: Error | undefined;
    const inOrder = (write: () => Promise<unknown>) => {
      writes = writes
        .then(async () => {
          if (!refused && writeError === undefined) await write();
        })
        .catch((error: unknown) => {
          writeError ??= error instanceof Error ? error : new Error(String(error));
        });
    };
    const progress = (stage: Progress["stage"], test: number) =>
      inOrder(() =>
        publishProgress(db, claim.userId, { submissionId: claim.submissionId, stage, test, totalTests }).catch(
          (error: unknown) => logger.debug({ err: error }, "publishing judging progress failed"),
        ),
      );
    const stillOurs = () => {
      if (writeError !== undefined) throw writeError;
      if (entry.abandoned || leaseLost() || refused) throw new JudgingAbandoned();
    };
    const written = async () => {
      await writes;
      stillOurs();
    };
    progress("compiling", 0);
    const workspace = await Workspace.create(slot);
    try {
      const compiled = await compileSubmission(sandbox, {
        language: languageIds[claim.language],
        source: claim.source,
        workspace,
        slot,
      });
      stillOurs();
      if (!compiled.ok) {
        await written();
        return {
          verdict: "compile_error",
          failedTest: null,
          passedTests: 0,
          totalTests,
          maxTimeMs: 0,
          maxMemoryKb: 0,
          compileLog: compiled.log,
          testsVersion: claim.testsVersion,
        };
      }
      progress("testing", 1);
      const judged = await judgeTests({
        sandbox,
        program: compiled.program,
        limits: { timeLimitMs: claim.timeLimitMs, memoryLimitMb: claim.memoryLimitMb },
        tests: claim.tests.map((test) => ({ ordinal: test.ordinal, input: test.input, expected: test.output })),
        checker: checkerKinds[claim.checker],
        slot,
        onTest: (test, finished, total) => {
          stillOurs();
          const row = {
            ordinal: test.ordinal,
            verdict: storedTestVerdict(test.verdict),
            timeMs: test.timeMs,
            memoryKb: test.memoryKb,
          };
          inOrder(async () => {
            refused = !(await recordTestResult(db, lease, row));
          });
          if (test.verdict === "ACCEPTED" && finished < total) progress("testing", finished + 1);
        },
      });
      await written();
      return {
        verdict: storedVerdicts[judged.verdict],
        failedTest: judged.failedTest,
        passedTests: judged.passedTests,
        totalTests,
        maxTimeMs: judged.maxTimeMs,
        maxMemoryKb: judged.maxMemoryKb,
        compileLog: compiled.log,
        testsVersion: claim.testsVersion,
      };
    } finally {
      // Nothing of this attempt may still be writing once it is finished or handed back.
      await writes;
      await workspace.dispose();
    }
  }
}

/** A running judge process: its worker, the queue's upkeep and the database, stopped in that order. */
export interface JudgeProcess {
  worker: JudgeWorker;
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts a worker with its own sandbox and the queue's upkeep over an open database; the server's
 * in-process slot and the worker process share it.
 * @throws JudgeFault when the sandbox does not work on this machine
 */
export async function startJudge(options: {
  database: Pick<Database, "url" | "sequelize">;
  logger: Logger;
  uidBase: number;
  slots: number;
  leaseSeconds?: number;
  pollMs?: number;
  maintenanceSeconds?: number;
}): Promise<JudgeProcess> {
  const { database, logger } = options;
  const slots = judgeSlots(options.slots, options.uidBase);
  const probe = await probeSandbox({}, slots[0]);
  if (!probe.available) throw new JudgeFault(probe.reason);
  const sandbox = await Sandbox.open();
  const worker = new JudgeWorker({
    db: { sequelize: database.sequelize },
    sandbox,
    slots,
    logger,
    leaseSeconds: options.leaseSeconds,
    pollMs: options.pollMs,
  });
  const maintenanceMs = (options.maintenanceSeconds ?? DEFAULT_MAINTENANCE_SECONDS) * 1000;
  const maintenance: QueueMaintenance = await maintainJudgingQueue(database.url, maintenanceMs / 1000, (error) =>
    logger.warn({ err: error }, "judging queue maintenance failed; will retry"),
  );
  // The queue's upkeep hands out again a dead worker's job only at its expiry; its round's lease runs out
  // much sooner, and this gives such rounds back at once.
  const abandonedSweep = startPeriodicJob(
    "abandoned judging rounds",
    async () => {
      const released = await releaseAbandonedSubmissions({ sequelize: database.sequelize });
      if (released > 0)
        logger.warn({ rounds: released }, "gave back judging rounds whose worker stopped extending its lease");
    },
    { firstAfterMs: maintenanceMs, everyMs: maintenanceMs },
    logger,
  );
  const stopUpkeep = async () => {
    await abandonedSweep.stop();
    await maintenance.stop();
  };
  try {
    await worker.start();
  } catch (error) {
    await stopUpkeep();
    throw error;
  }
  return {
    worker,
    async stop(graceMs: number) {
      await worker.stop(graceMs);
      await stopUpkeep();
    },
  };
}
