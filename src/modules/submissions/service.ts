import { isUtf8 } from "node:buffer";
import fs from "node:fs/promises";
import type { Actor } from "../../auth/roles.js";
import { inTransaction, type Db, type TransactionDb } from "../../db/db.js";
import {
  AppError,
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "../../errors/index.js";
import { seqCursor } from "../../validation/fields.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { challengeForSubmission } from "../challenges/service.js";
import { contestForSubmission } from "../contests/service.js";
import { notify } from "../notifications/service.js";
import { taskForSubmission, type CheckerName, type LanguageName } from "../tasks/service.js";
import { authorize, listedUser } from "./policy.js";
import {
  claimRow,
  completeJudgingJob,
  enqueueJudging,
  extendLeaseRow,
  failSpentRow,
  fetchJudgingJobs,
  heldLeaseRow,
  findSubmission,
  finishRow,
  insertSubmission,
  insertTestResult,
  notifyProgress,
  rejudgeSubmissionRow,
  rejudgeTaskRows,
  releaseAbandonedRows,
  releaseRow,
  setRejection,
  sourceOf,
  startQueueMaintenance,
  submissionsPage,
  type Addressee,
  type JudgingJob,
  type Outcome,
  type SubmissionRow,
  type TestResultRow,
} from "./queries.js";
import { SOURCE_MAX_BYTES, type SubmissionListQuery } from "./schema.js";
import type { SubmissionThrottle } from "./throttle.js";

export { PROGRESS_CHANNEL, JUDGING_QUEUE } from "./queries.js";
export type { QueueMaintenance } from "./queries.js";
export type {
  FetchedJob,
  JudgingJob,
  Outcome,
  StatusName,
  SubmissionRow,
  TestResultRow,
  TestVerdictName,
  VerdictName,
} from "./queries.js";

/** A solution as a client sends it. */
export interface SolutionInput {
  taskId: string;
  contestId?: string;
  /** YYYY-MM-DD. */
  challengeDay?: string;
  language: LanguageName;
  source: string;
}

/** What submitting needs from the process. */
export interface SubmitContext {
  /** The school's time zone. */
  zone: string;
  throttle: SubmissionThrottle;
}

/**
 * The source of a request: the message's `source`, or the text of the `source` file part (the upload
 * has capped it at 64 KiB already), never both.
 * @param filePath - the received file part, if the request was multipart
 * @throws AppError invalid_argument for both at once, unsupported_media_type for a file that is not UTF-8
 */
export async function receivedSource(messageSource: string, filePath: string | undefined): Promise<string> {
  if (filePath === undefined) return messageSource;
  if (messageSource !== "") {
    throw InvalidArgumentError("Send the source once: as the `source` file or in the message, not both.", [
      { field: "source", description: "Leave empty when the source is a file part." },
    ]);
  }
  const bytes = await fs.readFile(filePath);
  if (!isUtf8(bytes)) {
    throw new AppError("unsupported_media_type", "The `source` file must be UTF-8 text.", {
      fieldViolations: [{ field: "source", description: "Not UTF-8 text." }],
    });
  }
  return bytes.toString("utf8");
}

/**
 * Checks a source before anything else: over the contract's 64 KiB is 413, as a file part over it
 * is; an empty one, or one with a NUL character, is 400.
 * @throws AppError payload_too_large, invalid_argument
 */
export function assertSourceAcceptable(source: string): void {
  const bytes = Buffer.byteLength(source, "utf8");
  if (bytes > SOURCE_MAX_BYTES) {
    throw new AppError("payload_too_large", `The source is ${bytes} bytes; at most ${SOURCE_MAX_BYTES} are taken.`);
  }
  if (source.trim() === "") {
    throw InvalidArgumentError("The source is empty.", [{ field: "source", description: "Required." }]);
  }
  // PostgreSQL text cannot hold NUL, and no source needs one.
  if (source.includes("\u0000")) {
    throw InvalidArgumentError("The source holds a NUL character.", [{ field: "source", description: "No NUL." }]);
  }
}

/**
 * Accepts a solution for judging: 202 with the QUEUED submission. In order: the task must be one the
 * caller sees (404); a contest must be one they see (404) that has the task and is open now (422);
 * a challenge day must exist for them (404), have the task and be today (422); the task must take
 * the language and have tests (422); then the user's rate limits (429). The row and its judging job
 * are written in one transaction, and the insert checks the window again at that instant.
 * @throws AppError not_found, failed_precondition, rate_limited, payload_too_large
 */
export async function submitSolution(
  db: Db,
  actor: Actor,
  solution: SolutionInput,
  context: SubmitContext,
): Promise<SubmissionRow> {
  assertSourceAcceptable(solution.source);
  const task = await taskForSubmission(db, actor, solution.taskId, context.zone);
  if (solution.contestId !== undefined) {
    const contest = await contestForSubmission(db, actor, solution.contestId);
    if (!contest.taskIds.includes(task.id.toLowerCase())) {
      throw FailedPreconditionError("The task is not part of this contest.", [
        { field: "taskId", description: "Not a task of the contest." },
      ]);
    }
    if (!contest.open) throw contestClosed();
  }
  if (solution.challengeDay !== undefined) {
    const challenge = await challengeForSubmission(db, actor, solution.challengeDay, context.zone);
    if (challenge.taskId.toLowerCase() !== task.id.toLowerCase()) {
      throw FailedPreconditionError("That day's challenge is another task.", [
        { field: "taskId", description: "Not the task of the day." },
      ]);
    }
    if (!challenge.isToday) throw challengeClosed();
  }
  if (!task.languages.includes(solution.language)) {
    throw FailedPreconditionError(`The task takes ${task.languages.join(", ")}.`, [
      { field: "language", description: "Not a language of the task." },
    ]);
  }
  if (task.testCount === 0) throw FailedPreconditionError("The task has no tests yet.");
  // Counted outside the transaction: the limiter takes a pool connection of its own.
  await context.throttle.consume(actor.id);
  const id = await inTransaction(db, async (tx) => {
    const inserted = await insertSubmission(
      tx,
      {
        userId: actor.id,
        taskId: task.id,
        contestId: solution.contestId ?? null,
        challengeDay: solution.challengeDay ?? null,
        language: solution.language,
        source: solution.source,
      },
      context.zone,
    );
    if (!inserted) throw solution.contestId !== undefined ? contestClosed() : challengeClosed();
    await enqueueJudging(tx, [{ submissionId: inserted.id, attempt: inserted.judgeRound }]);
    return inserted.id;
  });
  return loadSubmission(db, id);
}

const contestClosed = () =>
  FailedPreconditionError("The contest is not open: solutions are taken from its start until its deadline.", [
    { field: "contestId", description: "Not open now." },
  ]);

const challengeClosed = () =>
  FailedPreconditionError("Only today's day challenge takes solutions.", [
    { field: "challengeDay", description: "Not today." },
  ]);

async function loadSubmission(db: Db, id: string, options: { lock?: boolean } = {}): Promise<SubmissionRow> {
  const row = await findSubmission(db, id, options);
  if (!row) throw NotFoundError("The submission");
  return row;
}

/**
 * One submission with its per-test results, for its owner and staff.
 * @throws AppError not_found
 */
export async function getSubmission(db: Db, actor: Actor, id: string): Promise<SubmissionRow> {
  const row = await loadSubmission(db, id);
  authorize(actor, "read", row);
  return row;
}

/**
 * A page of submissions, newest first: a student's own, staff anyone's, filtered by task, contest
 * and user.
 * @throws AppError permission_denied (a student naming someone else), invalid_argument (cursor)
 */
export async function listSubmissions(
  db: Db,
  actor: Actor,
  query: SubmissionListQuery,
): Promise<{ items: SubmissionRow[]; nextCursor: string }> {
  const userId = listedUser(actor, query.userId);
  const before = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : undefined;
  const rows = await submissionsPage(
    db,
    { userId, taskId: query.taskId, contestId: query.contestId },
    before,
    query.limit + 1,
  );
  return pageOf(rows, query.limit, (row) => [row.seq]);
}

/**
 * A submission's source, for its owner and staff only.
 * @throws AppError not_found
 */
export async function getSource(db: Db, actor: Actor, id: string): Promise<{ language: LanguageName; source: string }> {
  const source = await sourceOf(db, id);
  if (!source) throw NotFoundError("The submission");
  authorize(actor, "readSource", source);
  return source;
}

/**
 * Sends one submission back to the queue as a new judging round, with its job, in the caller's
 * transaction; a worker still holding the old round finds its lease gone.
 * @throws AppError not_found, permission_denied
 */
export async function rejudgeSubmission(db: TransactionDb, actor: Actor, id: string): Promise<SubmissionRow> {
  authorize(actor, "rejudge", await loadSubmission(db, id, { lock: true }));
  await enqueueJudging(db, toJobs(await rejudgeSubmissionRow(db, id)));
  return loadSubmission(db, id);
}

/**
 * Sends every submission of a task back to the queue (one statement for the rows, one for the jobs).
 * The caller has checked the task and the actor.
 * @returns how many went back
 */
export async function rejudgeTask(db: TransactionDb, taskId: string): Promise<number> {
  const requeued = await rejudgeTaskRows(db, taskId);
  await enqueueJudging(db, toJobs(requeued));
  return requeued.length;
}

const toJobs = (rows: readonly { id: string; judgeRound: number }[]): JudgingJob[] =>
  rows.map((row) => ({ submissionId: row.id, attempt: row.judgeRound }));

const quoted = (title: string) => `«${title}»`;

/**
 * Sets a submission aside with a reason (staff): its verdict stays, but it never counts towards a
 * mark or a leaderboard. The student is told why.
 * @throws AppError not_found, permission_denied, conflict (already rejected)
 */
export async function rejectSubmission(
  db: TransactionDb,
  actor: Actor,
  id: string,
  reason: string,
): Promise<SubmissionRow> {
  const submission = await loadSubmission(db, id, { lock: true });
  authorize(actor, "reject", submission);
  if (submission.rejectedAt) throw ConflictError("The submission is already rejected.");
  await setRejection(db, id, { by: actor.id, reason });
  await notify(
    db,
    { kind: "users", userIds: [submission.userId] },
    {
      type: "message",
      payload: {
        text: `Your solution to ${quoted(submission.taskTitle)} was rejected and no longer counts: ${reason}`,
        severity: "warning",
      },
    },
  );
  return loadSubmission(db, id);
}

/**
 * Lifts a rejection (staff): the submission counts again, and the student is told.
 * @throws AppError not_found, permission_denied, conflict (not rejected)
 */
export async function restoreSubmission(db: TransactionDb, actor: Actor, id: string): Promise<SubmissionRow> {
  const submission = await loadSubmission(db, id, { lock: true });
  authorize(actor, "reject", submission);
  if (!submission.rejectedAt) throw ConflictError("The submission is not rejected.");
  await setRejection(db, id, null);
  await notify(
    db,
    { kind: "users", userIds: [submission.userId] },
    {
      type: "message",
      payload: { text: `Your solution to ${quoted(submission.taskTitle)} counts again.`, severity: "info" },
    },
  );
  return loadSubmission(db, id);
}

// ---------------------------------------------------------------------------------------------------
// The judge's side. A worker takes a job `{ submissionId, attempt }` from the queue, claims the round,
// writes results under its lease token and finishes; every write is fenced by that token, so a late
// or duplicate worker changes nothing. Each function runs in a transaction of its own.
// ---------------------------------------------------------------------------------------------------

/** A worker's hold on a submission: only the current holder's writes take effect. */
export interface Lease {
  submissionId: string;
  leaseToken: string;
}

/** Everything a worker needs to judge a claimed submission. */
export interface JudgingClaim extends Lease {
  leaseExpiresAt: Date;
  /** Which attempt of this round this is (1..3). */
  attempt: number;
  userId: string;
  taskId: string;
  language: LanguageName;
  source: string;
  timeLimitMs: number;
  memoryLimitMb: number;
  checker: CheckerName;
  /** The version of the tests below; record it with the verdict. */
  testsVersion: number;
  /** Every test, in order; expected outputs stay with the worker, never in the sandbox. */
  tests: { ordinal: number; input: string; output: string }[];
}

/** What claiming a job's round gave. */
export type ClaimOutcome =
  | { kind: "claimed"; claim: JudgingClaim }
  /** Its three attempts were spent: now FAILED, and the student told. */
  | { kind: "failed" }
  /** Another worker judges the round under a lease that runs until `until`. */
  | { kind: "held"; until: Date }
  /** Another round, or done: nothing to do. */
  | { kind: "stale" };

/**
 * Claims a job's judging round: QUEUED (or JUDGING under an expired lease) becomes JUDGING under a
 * fresh lease token, with one more attempt; the fourth hand-out of a round fails it instead.
 *
 * Given the queue job's id, every outcome but "claimed" completes that job in the same transaction.
 * A round held by another worker also gets a new job that waits until the lease runs out: the job
 * may be the round's only one, handed out again while its holder still lives, and the round must not
 * be left without a job should that holder die later.
 * @param job - the queue job's data
 * @param leaseSeconds - how long the lease holds unless extended
 * @param jobId - the queue job taken, to complete with the outcome
 */
export function claimSubmission(db: Db, job: JudgingJob, leaseSeconds: number, jobId?: string): Promise<ClaimOutcome> {
  return inTransaction(db, async (tx): Promise<ClaimOutcome> => {
    const done = async <T extends ClaimOutcome>(outcome: T): Promise<T> => {
      if (jobId !== undefined) await completeJudgingJob(tx, jobId);
      return outcome;
    };
    const spent = await failSpentRow(tx, job.submissionId, job.attempt);
    if (spent) {
      await tellFailed(tx, spent);
      return done({ kind: "failed" });
    }
    const row = await claimRow(tx, job.submissionId, job.attempt, leaseSeconds);
    if (!row) {
      const heldUntil = await heldLeaseRow(tx, job.submissionId, job.attempt);
      if (heldUntil === null) return done({ kind: "stale" });
      if (jobId !== undefined) await enqueueJudging(tx, [job], heldUntil);
      return done({ kind: "held", until: heldUntil });
    }
    return {
      kind: "claimed",
      claim: {
        submissionId: row.id,
        leaseToken: row.leaseToken,
        leaseExpiresAt: row.leaseExpiresAt,
        attempt: row.attempts,
        userId: row.userId,
        taskId: row.taskId,
        language: row.language,
        source: row.source,
        timeLimitMs: row.timeLimitMs,
        memoryLimitMb: row.memoryLimitMb,
        checker: row.checker,
        testsVersion: row.testsVersion,
        tests: row.tests,
      },
    };
  });
}

/**
 * Records one test's result under the lease; writing the same ordinal again replaces it.
 * @returns false when the lease is no longer the caller's (nothing written)
 */
export const recordTestResult = (db: Db, lease: Lease, result: TestResultRow): Promise<boolean> =>
  insertTestResult(db, lease.submissionId, lease.leaseToken, result);

/**
 * Extends the lease while judging takes long.
 * @returns the new expiry, or null when the lease is no longer the caller's
 */
export const extendLease = (db: Db, lease: Lease, leaseSeconds: number): Promise<Date | null> =>
  extendLeaseRow(db, lease.submissionId, lease.leaseToken, leaseSeconds);

/** A compile log is kept to 8 KiB, cut at a character boundary. */
const COMPILE_LOG_MAX_BYTES = 8 * 1024;

/** @returns the longest prefix of `text` that fits in `maxBytes` of UTF-8 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  // A cut inside a multi-byte sequence decodes to U+FFFD; step back to the start of that character.
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString("utf8");
}

/**
 * Takes up to `count` waiting judging jobs off the queue for a worker with that many free slots.
 * Each ends in `claimSubmission` (which completes it unless the round was claimed), then in
 * `finishSubmission` or `releaseSubmission` (which complete it with their change).
 */
export const takeJudgingJobs = (db: Db, count: number) => fetchJudgingJobs(db, count);

/**
 * Runs the judging queue's upkeep in a judge process: jobs of a worker that died are handed out again
 * once past their expiry (the queue's `expireInSeconds`), checked every `intervalSeconds`.
 */
export const maintainJudgingQueue = (databaseUrl: string, intervalSeconds: number, onError: (error: Error) => void) =>
  startQueueMaintenance(databaseUrl, intervalSeconds, onError);

/** Completes a queue job outside the transactions above (a worker whose lease was taken). */
export const completeJob = (db: Db, jobId: string): Promise<void> => completeJudgingJob(db, jobId);

/**
 * Records the verdict under the lease: FINISHED with the results and the tests version used, one
 * SUBMISSION_JUDGED notification to the submitter and, given its id, the queue job completed, all in
 * one transaction. A stale lease changes nothing (the job included) and notifies nobody, so each
 * winning attempt gives exactly one verdict and one notification.
 * @param jobId - the queue job the worker took; completed only with a recorded verdict
 * @returns whether the verdict was recorded
 */
export function finishSubmission(db: Db, lease: Lease, outcome: Outcome, jobId?: string): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    const failedTest =
      outcome.verdict === "accepted" || outcome.verdict === "compile_error" ? null : outcome.failedTest;
    const addressee = await finishRow(tx, lease.submissionId, lease.leaseToken, {
      ...outcome,
      failedTest,
      compileLog: truncateUtf8(outcome.compileLog, COMPILE_LOG_MAX_BYTES),
    });
    if (!addressee) return false;
    if (jobId !== undefined) await completeJudgingJob(tx, jobId);
    await notify(
      tx,
      { kind: "users", userIds: [addressee.userId] },
      {
        type: "submission_judged",
        payload: {
          submissionId: lease.submissionId,
          taskId: addressee.taskId,
          title: addressee.title,
          verdict: outcome.verdict,
          failedTest: failedTest ?? 0,
        },
      },
    );
    return true;
  });
}

/**
 * Gives a round back after a fault of the judge's own (never the program's): QUEUED again with a new
 * job for another attempt, or FAILED after the third, with the student told; given its id, the
 * worker's queue job is completed in the same transaction (the new job replaces it).
 * @param jobId - the queue job the worker took; completed only when the round was released
 * @returns what became of it; "stale" when the lease is no longer the caller's
 */
export function releaseSubmission(db: Db, lease: Lease, jobId?: string): Promise<"requeued" | "failed" | "stale"> {
  return inTransaction(db, async (tx) => {
    const released = await releaseRow(tx, lease.submissionId, lease.leaseToken);
    if (!released) return "stale";
    if (jobId !== undefined) await completeJudgingJob(tx, jobId);
    if (released.status === "failed") {
      await tellFailed(tx, released);
      return "failed";
    }
    await enqueueJudging(tx, [{ submissionId: lease.submissionId, attempt: released.judgeRound }]);
    return "requeued";
  });
}

/** How many abandoned rounds one sweep gives back; the next sweep takes the rest. */
const ABANDONED_PER_SWEEP = 100;

/**
 * Gives back the rounds of workers that died or lost the database while judging: a lease nobody
 * extended past its expiry means nobody judges that round. Each becomes QUEUED with a new job, or
 * FAILED after its third attempt with the student told, in one transaction. Every judge runs this
 * beside the queue's upkeep, so a dead worker's submission is judged again about a lease and a sweep
 * after its last sign of life, not when its queue job expires (which must outlast the slowest
 * judging). That old job, handed out at its expiry, finds its round taken or done and is completed.
 * @returns how many rounds were given back
 */
export function releaseAbandonedSubmissions(db: Db): Promise<number> {
  return inTransaction(db, async (tx) => {
    const released = await releaseAbandonedRows(tx, ABANDONED_PER_SWEEP);
    for (const round of released) if (round.status === "failed") await tellFailed(tx, round);
    const requeued = released.filter((round) => round.status === "queued");
    await enqueueJudging(
      tx,
      requeued.map((round) => ({ submissionId: round.id, attempt: round.judgeRound })),
    );
    return released.length;
  });
}

async function tellFailed(db: TransactionDb, addressee: Addressee): Promise<void> {
  await notify(
    db,
    { kind: "users", userIds: [addressee.userId] },
    {
      type: "message",
      payload: {
        text: `Your solution to ${quoted(addressee.title)} could not be judged; a teacher can send it to the judge again.`,
        severity: "warning",
      },
    },
  );
}

/** Judging progress, for the submitter's live stream; never stored. */
export interface Progress {
  submissionId: string;
  stage: "compiling" | "testing";
  /** The test being run (1-based) while testing, else 0. */
  test: number;
  totalTests: number;
}

/**
 * Publishes a progress event for the submitter on PROGRESS_CHANNEL with pg_notify, so every server
 * process hears it, whichever process the worker talks to (delivered at commit inside a transaction).
 * The payload is JSON: `{ userId, submissionId, stage, test, totalTests }`.
 */
export async function publishProgress(db: Db, userId: string, progress: Progress): Promise<void> {
  await notifyProgress(
    db,
    JSON.stringify({
      userId,
      submissionId: progress.submissionId,
      stage: progress.stage,
      test: progress.test,
      totalTests: progress.totalTests,
    }),
  );
}

/**
 * Reads a PROGRESS_CHANNEL payload back, for a listener that relays it to streams.
 * @returns the submitter and the event, or null for a payload of another shape
 */
export function parseProgress(payload: string): { userId: string; progress: Progress } | null {
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    const { userId, submissionId, stage, test, totalTests } = value;
    if (
      typeof userId !== "string" ||
      typeof submissionId !== "string" ||
      (stage !== "compiling" && stage !== "testing") ||
      typeof test !== "number" ||
      typeof totalTests !== "number"
    ) {
      return null;
    }
    return { userId, progress: { submissionId, stage, test, totalTests } };
  } catch {
    return null;
  }
}
