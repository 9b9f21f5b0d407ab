import PgBoss from "pg-boss";
import { QueryTypes } from "sequelize";
import { execute, select, selectPrepared, type Db, type TransactionDb } from "../../db/db.js";
import type { CheckerName, LanguageName } from "../tasks/service.js";

/** Where a submission is in judging, as stored. */
export const statusNames = ["queued", "judging", "finished", "failed"] as const;
export type StatusName = (typeof statusNames)[number];

/** Verdicts, as stored. */
export const verdictNames = [
  "accepted",
  "wrong_answer",
  "time_limit",
  "memory_limit",
  "output_limit",
  "runtime_error",
  "compile_error",
] as const;
export type VerdictName = (typeof verdictNames)[number];
/** A single test never gets a compile error: that ends judging before any test runs. */
export type TestVerdictName = Exclude<VerdictName, "compile_error">;

/** One test's result: never its data. */
export interface TestResultRow {
  ordinal: number;
  verdict: TestVerdictName;
  timeMs: number;
  memoryKb: number;
}

/** A submission with its sender's summary and task title, as reads and lists select it. */
export interface SubmissionRow {
  id: string;
  /** Sending order as decimal text: the keyset of lists. */
  seq: string;
  userId: string;
  nickName: string;
  firstName: string;
  lastName: string;
  avatarFile: string | null;
  taskId: string;
  taskTitle: string;
  contestId: string | null;
  /** YYYY-MM-DD. */
  challengeDay: string | null;
  language: LanguageName;
  status: StatusName;
  verdict: VerdictName | null;
  failedTest: number | null;
  passedTests: number;
  totalTests: number;
  maxTimeMs: number;
  maxMemoryKb: number;
  compileLog: string;
  testsVersion: number | null;
  judgeRound: number;
  attempts: number;
  createdAt: Date;
  finishedAt: Date | null;
  rejectedBy: string | null;
  rejectedAt: Date | null;
  rejectionReason: string | null;
  /** Empty in lists. */
  tests: TestResultRow[];
}

const testsColumn = `(SELECT coalesce(json_agg(json_build_object('ordinal', r.ordinal, 'verdict', r.verdict,
    'timeMs', r.time_ms, 'memoryKb', r.memory_kb) ORDER BY r.ordinal), '[]'::json)
    FROM submission_tests r WHERE r.submission_id = s.id) AS tests`;

/** The columns of SubmissionRow from `submissions s JOIN users u JOIN tasks t`. */
const submissionColumns = (withTests: boolean) => `s.id, s.seq::text AS seq, s.user_id AS "userId",
  u.nick_name AS "nickName", u.first_name AS "firstName", u.last_name AS "lastName", u.avatar_file AS "avatarFile",
  s.task_id AS "taskId", t.title AS "taskTitle", s.contest_id AS "contestId",
  to_char(s.challenge_day, 'YYYY-MM-DD') AS "challengeDay", s.language, s.status, s.verdict,
  s.failed_test AS "failedTest", s.passed_tests AS "passedTests", s.total_tests AS "totalTests",
  s.max_time_ms AS "maxTimeMs", s.max_memory_kb AS "maxMemoryKb", s.compile_log AS "compileLog",
  s.tests_version AS "testsVersion", s.judge_round AS "judgeRound", s.attempts, s.created_at AS "createdAt",
  s.finished_at AS "finishedAt", s.rejected_by AS "rejectedBy", s.rejected_at AS "rejectedAt",
  s.rejection_reason AS "rejectionReason", ${withTests ? testsColumn : "'[]'::json AS tests"}`;

const submissionSource = "submissions s JOIN users u ON u.id = s.user_id JOIN tasks t ON t.id = s.task_id";

/**
 * @param options.lock - lock the submission's row (FOR UPDATE) for a change
 * @returns the submission with its per-test results, or null when there is none
 */
export async function findSubmission(
  db: Db,
  id: string,
  options: { lock?: boolean } = {},
): Promise<SubmissionRow | null> {
  // Prepared (outside a transaction): clients poll a submission until it is judged, and planning the
  // three-way join with its tests took twice as long as running it (0.40 ms a call against 0.14 ms).
  const [row] = await selectPrepared<SubmissionRow>(
    db,
    `SELECT ${submissionColumns(true)} FROM ${submissionSource} WHERE s.id = :id
     ${options.lock && db.transaction ? "FOR UPDATE OF s" : ""}`,
    { id },
  );
  return row ?? null;
}

/** The filters of a submission list; each one an index range with the seq keyset. */
export interface SubmissionFilter {
  userId?: string;
  taskId?: string;
  contestId?: string;
}

/**
 * A page of submissions, newest first, keyset-paged on seq. Each filter has an index ending in
 * seq DESC (user, task, contest), so a page is one index range whatever the table's size.
 * @param before - the seq the previous page ended on
 * @param limit - how many rows to read
 */
export function submissionsPage(
  db: Db,
  filter: SubmissionFilter,
  before: string | undefined,
  limit: number,
): Promise<SubmissionRow[]> {
  const conditions = [
    filter.userId ? "s.user_id = :userId" : "",
    filter.taskId ? "s.task_id = :taskId" : "",
    filter.contestId ? "s.contest_id = :contestId" : "",
    before ? "s.seq < CAST(:before AS bigint)" : "",
  ].filter(Boolean);
  return select<SubmissionRow>(
    db,
    `SELECT ${submissionColumns(false)} FROM ${submissionSource}
      ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
      ORDER BY s.seq DESC
      LIMIT :limit`,
    { ...filter, before: before ?? null, limit },
  );
}

/** @returns a submission's source with its owner, or null when there is none */
export async function sourceOf(
  db: Db,
  id: string,
): Promise<{ userId: string; language: LanguageName; source: string } | null> {
  const [row] = await select<{ userId: string; language: LanguageName; source: string }>(
    db,
    `SELECT user_id AS "userId", language, source FROM submissions WHERE id = :id`,
    { id },
  );
  return row ?? null;
}

/** A new submission's columns. */
export interface NewSubmission {
  userId: string;
  taskId: string;
  contestId: string | null;
  challengeDay: string | null;
  language: LanguageName;
  source: string;
}

/**
 * Inserts a submission, unless its window closed since it was checked: a contest's must be open and
 * a challenge day must still be today, at the instant of the insert.
 * @param zone - the school's time zone
 * @returns the new id and judging round, or null when the window had closed
 */
export async function insertSubmission(
  db: TransactionDb,
  submission: NewSubmission,
  zone: string,
): Promise<{ id: string; judgeRound: number } | null> {
  const { rows } = await execute<{ id: string; judgeRound: number }>(
    db,
    `INSERT INTO submissions (user_id, task_id, contest_id, challenge_day, language, source)
     SELECT :userId, :taskId, CAST(:contestId AS uuid), CAST(:challengeDay AS date), :language, :source
      WHERE (CAST(:contestId AS uuid) IS NULL OR EXISTS (SELECT 1 FROM contests c
               WHERE c.id = CAST(:contestId AS uuid) AND now() >= c.starts_at AND now() <= c.deadline))
        AND (CAST(:challengeDay AS date) IS NULL OR CAST(:challengeDay AS date) = school_today(:zone))
     RETURNING id, judge_round AS "judgeRound"`,
    { ...submission, zone },
  );
  return rows[0] ?? null;
}

/** The columns a judging round starts from: no verdict, no results, no lease, nothing tried yet. */
const freshRound = `status = 'queued', verdict = NULL, failed_test = NULL, passed_tests = 0, total_tests = 0,
  max_time_ms = 0, max_memory_kb = 0, compile_log = '', tests_version = NULL, judge_round = s.judge_round + 1,
  attempts = 0, lease_token = NULL, lease_expires_at = NULL, finished_at = NULL`;

/**
 * Starts a new judging round of the submissions matching `where` (one statement, however many):
 * back to QUEUED with everything of the old round cleared, its per-test results deleted.
 * @returns the submissions and their new rounds, for their jobs
 */
function startNewRound(
  db: TransactionDb,
  where: string,
  replacements: Record<string, unknown>,
): Promise<{ id: string; judgeRound: number }[]> {
  return select<{ id: string; judgeRound: number }>(
    db,
    `WITH requeued AS (
       UPDATE submissions s SET ${freshRound} WHERE ${where}
       RETURNING s.id, s.judge_round AS "judgeRound"
     ), cleared AS (
       DELETE FROM submission_tests r USING requeued WHERE r.submission_id = requeued.id
     )
     SELECT id, "judgeRound" FROM requeued`,
    replacements,
  );
}

/** A new judging round for one submission. */
export const rejudgeSubmissionRow = (db: TransactionDb, id: string) => startNewRound(db, "s.id = :id", { id });

/** A new judging round for every submission of a task. */
export const rejudgeTaskRows = (db: TransactionDb, taskId: string) =>
  startNewRound(db, "s.task_id = :taskId", { taskId });

/** Sets a submission aside (the verdict stays); it then counts nowhere. */
export async function setRejection(
  db: TransactionDb,
  id: string,
  rejection: { by: string; reason: string } | null,
): Promise<void> {
  await execute(
    db,
    `UPDATE submissions SET rejected_by = :by, rejected_at = CASE WHEN CAST(:reason AS text) IS NULL THEN NULL ELSE now() END,
            rejection_reason = :reason
      WHERE id = :id`,
    { id, by: rejection?.by ?? null, reason: rejection?.reason ?? null },
  );
}

/** The judging queue, made by the migration that made pg-boss's schema. */
export const JUDGING_QUEUE = "submission-judging";
/** The schema pg-boss's tables live in. */
export const QUEUE_SCHEMA = "pgboss";

/** What a judging job carries: which submission, for which judging round. */
export interface JudgingJob {
  submissionId: string;
  attempt: number;
}

/**
 * pg-boss, used for its statements only: every call below passes the caller's executor, so this
 * instance never opens a connection, and its default executor refuses to be used.
 */
const boss = new PgBoss({
  db: { executeSql: () => Promise.reject(new Error("pg-boss must be given the caller's executor.")) },
  schema: QUEUE_SCHEMA,
});

/**
 * pg-boss's executor over a Db: its statement runs on the Db's connection, so inside the caller's
 * transaction when the Db has one (pg-boss numbers its parameters; Sequelize binds them as they are).
 */
const executorOf = (db: Db): PgBoss.Db => ({
  executeSql: async (text: string, values: unknown[] = []) => ({
    rows: await db.sequelize.query(text, {
      bind: values.map((value) => (value === undefined ? null : value)),
      transaction: db.transaction,
      type: QueryTypes.SELECT,
    }),
  }),
});

/**
 * Puts judging jobs on the queue in the caller's transaction, one statement for any number: a job
 * exists exactly when the change that asked for it commits.
 * @param startAfter - when the jobs may be taken; at once when omitted
 */
export async function enqueueJudging(db: TransactionDb, jobs: readonly JudgingJob[], startAfter?: Date): Promise<void> {
  if (jobs.length === 0) return;
  await boss.insert(
    jobs.map((job) => ({
      name: JUDGING_QUEUE,
      data: { submissionId: job.submissionId, attempt: job.attempt },
      startAfter,
    })),
    { db: executorOf(db) },
  );
}

/** A judging job as a worker took it from the queue. */
export interface FetchedJob {
  /** pg-boss's job id: the same through every retry of the job. */
  id: string;
  data: JudgingJob;
  /** How long pg-boss lets the job stay active before its maintenance hands it out again. */
  expireInSeconds: number;
}

/**
 * Takes up to `count` waiting judging jobs (created, or due for a retry), oldest first, marking them
 * active in one statement; workers running at once skip each other's rows.
 */
export async function fetchJudgingJobs(db: Db, count: number): Promise<FetchedJob[]> {
  const jobs = await boss.fetch<JudgingJob>(JUDGING_QUEUE, { batchSize: count, db: executorOf(db) });
  return jobs.map((job) => ({ id: job.id, data: job.data, expireInSeconds: Number(job.expireInSeconds) }));
}

/** Marks an active judging job completed (in the caller's transaction when the Db has one). */
export async function completeJudgingJob(db: Db, jobId: string): Promise<void> {
  // The data argument must be there: pg-boss reads its fourth argument as the options, whatever its types say.
  await boss.complete(JUDGING_QUEUE, jobId, {}, { db: executorOf(db) });
}

/** pg-boss's upkeep of the judging queue, running in a judge process until stopped. */
export interface QueueMaintenance {
  stop(): Promise<void>;
}

/**
 * Starts pg-boss's maintenance on a connection of its own: every `intervalSeconds` one process of all
 * that run it (pg-boss takes turns through a timestamp in its schema) hands out again the active jobs
 * past their expiry (a worker that died), and archives and drops old ones. It never creates or
 * migrates anything: the migration made the schema and the queue.
 * @param onError - pg-boss reports a failed maintenance round here (the next one tries again)
 */
export async function startQueueMaintenance(
  databaseUrl: string,
  intervalSeconds: number,
  onError: (error: Error) => void,
): Promise<QueueMaintenance> {
  const maintainer = new PgBoss({
    connectionString: databaseUrl,
    schema: QUEUE_SCHEMA,
    migrate: false,
    supervise: true,
    schedule: false,
    maintenanceIntervalSeconds: intervalSeconds,
    max: 1,
  });
  maintainer.on("error", onError);
  await maintainer.start();
  return { stop: () => maintainer.stop({ graceful: false, wait: true }) };
}

/** What a worker needs to judge one submission, read in one statement (its tests match its tests_version). */
export interface ClaimedRow {
  id: string;
  userId: string;
  taskId: string;
  language: LanguageName;
  source: string;
  leaseToken: string;
  leaseExpiresAt: Date;
  attempts: number;
  timeLimitMs: number;
  memoryLimitMb: number;
  checker: CheckerName;
  testsVersion: number;
  tests: { ordinal: number; input: string; output: string }[];
}

/** Attempts a judging round gets: a judge fault hands it back until they are spent, then it fails. */
export const JUDGING_ATTEMPTS = 3;

/** A lease given back: QUEUED again, or FAILED once the round's attempts are spent. */
const leaseReturned = `status = CASE WHEN s.attempts >= ${JUDGING_ATTEMPTS} THEN 'failed' ELSE 'queued' END,
            finished_at = CASE WHEN s.attempts >= ${JUDGING_ATTEMPTS} THEN now() END, lease_token = NULL,
            lease_expires_at = NULL`;

/** A round a worker may take up: queued, or held by a lease that has run out. */
const claimable = `s.id = :id AND s.judge_round = :round
  AND (s.status = 'queued' OR (s.status = 'judging' AND s.lease_expires_at <= now()))`;

/**
 * Takes up a round for a worker: JUDGING under a fresh lease token, one more attempt, the earlier
 * attempt's results deleted, and everything the worker needs returned, in one statement.
 * @returns the claim, or null when the round is not claimable or its attempts are spent
 */
export async function claimRow(
  db: TransactionDb,
  id: string,
  round: number,
  leaseSeconds: number,
): Promise<ClaimedRow | null> {
  const [row] = await select<ClaimedRow>(
    db,
    `WITH claimed AS (
       UPDATE submissions s SET status = 'judging', attempts = s.attempts + 1, lease_token = gen_random_uuid(),
              lease_expires_at = now() + make_interval(secs => :leaseSeconds)
        WHERE ${claimable} AND s.attempts < ${JUDGING_ATTEMPTS}
       RETURNING s.id, s.user_id, s.task_id, s.language, s.source, s.lease_token, s.lease_expires_at, s.attempts
     ), cleared AS (
       DELETE FROM submission_tests r USING claimed WHERE r.submission_id = claimed.id
     )
     SELECT c.id, c.user_id AS "userId", c.task_id AS "taskId", c.language, c.source,
            c.lease_token AS "leaseToken", c.lease_expires_at AS "leaseExpiresAt", c.attempts,
            t.time_limit_ms AS "timeLimitMs", t.memory_limit_mb AS "memoryLimitMb", t.checker,
            t.tests_version AS "testsVersion",
            (SELECT coalesce(json_agg(json_build_object('ordinal', x.ordinal, 'input', x.input, 'output', x.output)
                     ORDER BY x.ordinal), '[]'::json) FROM task_tests x WHERE x.task_id = t.id) AS tests
       FROM claimed c JOIN tasks t ON t.id = c.task_id`,
    { id, round, leaseSeconds },
  );
  return row ?? null;
}

/** @returns when the lease on a round that another worker is judging runs out, or null when none holds it */
export async function heldLeaseRow(db: TransactionDb, id: string, round: number): Promise<Date | null> {
  const [row] = await select<{ leaseExpiresAt: Date }>(
    db,
    `SELECT lease_expires_at AS "leaseExpiresAt" FROM submissions
      WHERE id = :id AND judge_round = :round AND status = 'judging' AND lease_expires_at > now()`,
    { id, round },
  );
  return row?.leaseExpiresAt ?? null;
}

/** Whom to tell about a submission that changed, and about which task. */
export interface Addressee {
  userId: string;
  taskId: string;
  title: string;
}

/**
 * Fails a round whose three attempts are spent, when a worker comes for it again.
 * @returns the submitter to tell, or null when it was not in that state
 */
export async function failSpentRow(db: TransactionDb, id: string, round: number): Promise<Addressee | null> {
  const { rows } = await execute<Addressee>(
    db,
    `UPDATE submissions s SET status = 'failed', finished_at = now(), lease_token = NULL, lease_expires_at = NULL
      WHERE ${claimable} AND s.attempts >= ${JUDGING_ATTEMPTS}
     RETURNING s.user_id AS "userId", s.task_id AS "taskId", (SELECT title FROM tasks t WHERE t.id = s.task_id) AS title`,
    { id, round },
  );
  return rows[0] ?? null;
}

/**
 * Records one test's result for the lease holder only. The submission's row is share-locked while
 * the result is written, so a claim that changes the lease waits, and a late writer finds its token
 * gone; a second write of the same ordinal replaces the first.
 * @returns whether it was written
 */
export async function insertTestResult(
  db: Db,
  id: string,
  leaseToken: string,
  result: TestResultRow,
): Promise<boolean> {
  const { count } = await execute(
    db,
    `INSERT INTO submission_tests (submission_id, ordinal, verdict, time_ms, memory_kb)
     SELECT s.id, :ordinal, :verdict, :timeMs, :memoryKb FROM submissions s
      WHERE s.id = :id AND s.lease_token = CAST(:leaseToken AS uuid) AND s.status = 'judging'
      FOR SHARE
     ON CONFLICT (submission_id, ordinal)
       DO UPDATE SET verdict = EXCLUDED.verdict, time_ms = EXCLUDED.time_ms, memory_kb = EXCLUDED.memory_kb`,
    { id, leaseToken, ...result },
  );
  return count > 0;
}

/** A finished judging, as the worker reports it. */
export interface Outcome extends Pick<
  SubmissionRow,
  "failedTest" | "passedTests" | "totalTests" | "maxTimeMs" | "maxMemoryKb" | "compileLog"
> {
  verdict: VerdictName;
  /** The tests_version of the claim it was judged against. */
  testsVersion: number;
}

/**
 * Records the verdict for the lease holder only: FINISHED, the lease released.
 * @returns the submitter to tell, or null when the token is stale (nothing changed)
 */
export async function finishRow(
  db: TransactionDb,
  id: string,
  leaseToken: string,
  outcome: Outcome,
): Promise<Addressee | null> {
  const { rows } = await execute<Addressee>(
    db,
    `UPDATE submissions s SET status = 'finished', verdict = :verdict, failed_test = :failedTest,
            passed_tests = :passedTests, total_tests = :totalTests, max_time_ms = :maxTimeMs,
            max_memory_kb = :maxMemoryKb, compile_log = :compileLog, tests_version = :testsVersion,
            finished_at = now(), lease_token = NULL, lease_expires_at = NULL
      WHERE s.id = :id AND s.lease_token = CAST(:leaseToken AS uuid) AND s.status = 'judging'
     RETURNING s.user_id AS "userId", s.task_id AS "taskId", (SELECT title FROM tasks t WHERE t.id = s.task_id) AS title`,
    { id, leaseToken, ...outcome },
  );
  return rows[0] ?? null;
}

/**
 * Gives a round back after a fault of the judge's own: QUEUED again for another attempt, or FAILED
 * once three attempts are spent.
 * @returns the new status with the submitter and round, or null when the token is stale
 */
export async function releaseRow(
  db: TransactionDb,
  id: string,
  leaseToken: string,
): Promise<(Addressee & { status: "queued" | "failed"; judgeRound: number }) | null> {
  const { rows } = await execute<Addressee & { status: "queued" | "failed"; judgeRound: number }>(
    db,
    `UPDATE submissions s SET ${leaseReturned}
      WHERE s.id = :id AND s.lease_token = CAST(:leaseToken AS uuid) AND s.status = 'judging'
     RETURNING s.status, s.judge_round AS "judgeRound", s.user_id AS "userId", s.task_id AS "taskId",
               (SELECT title FROM tasks t WHERE t.id = s.task_id) AS title`,
    { id, leaseToken },
  );
  return rows[0] ?? null;
}

/**
 * Gives back, oldest lease first and up to `limit`, the rounds whose lease ran out with nobody to extend
 * it: QUEUED again, or FAILED once their three attempts are spent. Rows another transaction holds are
 * skipped (a claim or a finish in progress, or another judge sweeping at the same moment).
 */
export async function releaseAbandonedRows(
  db: TransactionDb,
  limit: number,
): Promise<(Addressee & { id: string; status: "queued" | "failed"; judgeRound: number })[]> {
  const { rows } = await execute<Addressee & { id: string; status: "queued" | "failed"; judgeRound: number }>(
    db,
    `UPDATE submissions s SET ${leaseReturned}
      WHERE s.id IN (SELECT a.id FROM submissions a WHERE a.status = 'judging' AND a.lease_expires_at <= now()
                      ORDER BY a.lease_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)
     RETURNING s.id, s.status, s.judge_round AS "judgeRound", s.user_id AS "userId", s.task_id AS "taskId",
               (SELECT title FROM tasks t WHERE t.id = s.task_id) AS title`,
    { limit },
  );
  return rows;
}

/**
 * Extends the lease of its holder.
 * @returns the new expiry, or null when the token is stale
 */
export async function extendLeaseRow(
  db: Db,
  id: string,
  leaseToken: string,
  leaseSeconds: number,
): Promise<Date | null> {
  const { rows } = await execute<{ leaseExpiresAt: Date }>(
    db,
    `UPDATE submissions SET lease_expires_at = now() + make_interval(secs => :leaseSeconds)
      WHERE id = :id AND lease_token = CAST(:leaseToken AS uuid) AND status = 'judging'
     RETURNING lease_expires_at AS "leaseExpiresAt"`,
    { id, leaseToken, leaseSeconds },
  );
  return rows[0]?.leaseExpiresAt ?? null;
}

/** The channel of judging progress events, heard by every server process. */
export const PROGRESS_CHANNEL = "shtp_submission_progress";

/** Sends a progress event on the channel (delivered at commit when the Db is in a transaction). */
export async function notifyProgress(db: Db, payload: string): Promise<void> {
  await select(db, "SELECT pg_notify(:channel, :payload)", { channel: PROGRESS_CHANNEL, payload });
}
