import assert from "node:assert/strict";
import pg from "pg";
import PgBoss from "pg-boss";
import { QueryTypes } from "sequelize";
import { JudgeStatus, JudgingStage, Language, SubmissionStatus } from "../../../generated/shtp/v1/assignments.js";
import { inTransaction, type Db } from "../../db/db.js";
import { countRows, encodingClients, expectError, expectMessage } from "../../testing/api.js";
import { buildSubmission, buildTask } from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { recordWorkerHeartbeat, removeWorker } from "../judge/service.js";
import { presentProgress } from "./presenter.js";
import { enqueueJudging, insertSubmission } from "./queries.js";
import {
  claimSubmission,
  extendLease,
  finishSubmission,
  JUDGING_QUEUE,
  parseProgress,
  PROGRESS_CHANNEL,
  publishProgress,
  recordTestResult,
  releaseAbandonedSubmissions,
  releaseSubmission,
  truncateUtf8,
  type JudgingClaim,
  type Outcome,
} from "./service.js";

/**
 * The judge's side of submissions, at the service level over the real database and queue (no
 * sandbox): claims under a lease, fenced writes, one verdict and one notification per winning
 * attempt, three attempts at most, the job written with its row, progress events across processes.
 */

const db = (): Db => ({ sequelize: testDatabase().database.sequelize });
const sql = () => testDatabase().database.sequelize;

async function row(id: string): Promise<Record<string, unknown>> {
  const [found] = await sql().query<Record<string, unknown>>(
    `SELECT status, verdict, failed_test AS "failedTest", attempts, judge_round AS "judgeRound",
            lease_token AS "leaseToken", tests_version AS "testsVersion", compile_log AS "compileLog",
            finished_at AS "finishedAt" FROM submissions WHERE id = :id`,
    { replacements: { id }, type: QueryTypes.SELECT },
  );
  if (!found) throw new Error("No such submission.");
  return found;
}

const notificationsOf = (userId: string, type: string) =>
  countRows("SELECT count(*) FROM notifications WHERE user_id = :userId AND type = :type", { userId, type });

/** Makes the current lease of a submission run out, as time would. */
const expireLease = (id: string) =>
  sql().query("UPDATE submissions SET lease_expires_at = now() - interval '1 second' WHERE id = :id", {
    replacements: { id },
  });

const accepted = (claim: JudgingClaim): Outcome => ({
  verdict: "accepted",
  failedTest: null,
  passedTests: claim.tests.length,
  totalTests: claim.tests.length,
  maxTimeMs: 12,
  maxMemoryKb: 9000,
  compileLog: "",
  testsVersion: claim.testsVersion,
});

async function claimed(submissionId: string, attempt = 1): Promise<JudgingClaim> {
  const outcome = await claimSubmission(db(), { submissionId, attempt }, 60);
  assert.equal(outcome.kind, "claimed");
  if (outcome.kind !== "claimed") throw new Error("unreachable");
  return outcome.claim;
}

describe("the judge's fenced API (submissions service)", function () {
  this.timeout(60_000);
  let userId: string;
  let task: Awaited<ReturnType<typeof buildTask>>;

  before(async () => {
    userId = (await buildUser({ role: "student" })).id;
    task = await buildTask();
  });

  const queued = () => buildSubmission({ userId, taskId: task.id });

  it("claims a queued round under a fresh lease with every test; a second claim finds it held, another round stale", async () => {
    const id = await queued();
    const claim = await claimed(id);
    assert.equal(claim.attempt, 1);
    assert.equal(claim.language, "python");
    assert.equal(claim.testsVersion, 1);
    assert.deepEqual(
      claim.tests.map((test) => [test.ordinal, test.input, test.output]),
      task.tests.map((test, index) => [index + 1, test.input, test.output]),
    );
    assert.ok(claim.leaseExpiresAt.getTime() > Date.now());
    assert.deepEqual(await row(id), {
      ...(await row(id)),
      status: "judging",
      attempts: 1,
      leaseToken: claim.leaseToken,
    });
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 1 }, 60), {
      kind: "held",
      until: claim.leaseExpiresAt,
    });
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 2 }, 60), { kind: "stale" });
  });

  it("a job handed out while another worker holds its round is completed, and a new one waits for the lease", async () => {
    const id = await queued();
    await inTransaction(db(), (tx) => enqueueJudging(tx, [{ submissionId: id, attempt: 1 }]));
    const claim = await claimed(id);
    const jobsOf = () =>
      sql().query<{ id: string; state: string; waitsSeconds: number }>(
        `SELECT id, state::text, extract(epoch FROM start_after - now())::float AS "waitsSeconds" FROM pgboss.job
          WHERE data->>'submissionId' = :id ORDER BY created_on`,
        { replacements: { id }, type: QueryTypes.SELECT },
      );
    const [job] = await jobsOf();
    assert.ok(job);
    // As pg-boss hands it out (again): active.
    await sql().query("UPDATE pgboss.job SET state = 'active', started_on = now() WHERE id = :job", {
      replacements: { job: job.id },
    });
    const outcome = await claimSubmission(db(), { submissionId: id, attempt: 1 }, 60, job.id);
    assert.deepEqual(outcome, { kind: "held", until: claim.leaseExpiresAt });
    const [handedOut, waiting, ...more] = await jobsOf();
    assert.equal(handedOut?.state, "completed");
    assert.equal(waiting?.state, "created");
    assert.ok(waiting && waiting.waitsSeconds > 55 && waiting.waitsSeconds <= 60, `waits ${waiting?.waitsSeconds} s`);
    assert.deepEqual(more, []);
    assert.equal((await row(id)).leaseToken, claim.leaseToken, "the holder keeps its lease");
  });

  it("a finish or a release given the worker's job id completes that job with the verdict or the hand-back", async () => {
    const stateOf = async (jobId: string) => {
      const [found] = await sql().query<{ state: string }>("SELECT state::text FROM pgboss.job WHERE id = :jobId", {
        replacements: { jobId },
        type: QueryTypes.SELECT,
      });
      return found?.state;
    };
    const jobOf = async (submissionId: string) => {
      await inTransaction(db(), (tx) => enqueueJudging(tx, [{ submissionId, attempt: 1 }]));
      const [found] = await sql().query<{ id: string }>(
        "SELECT id FROM pgboss.job WHERE data->>'submissionId' = :submissionId AND state = 'created'",
        { replacements: { submissionId }, type: QueryTypes.SELECT },
      );
      if (!found) throw new Error("No job was queued.");
      // As pg-boss hands it to a worker: active.
      await sql().query("UPDATE pgboss.job SET state = 'active', started_on = now() WHERE id = :job", {
        replacements: { job: found.id },
      });
      return found.id;
    };
    const finished = await queued();
    const finishJob = await jobOf(finished);
    const finishClaim = await claimed(finished);
    const finishLease = { submissionId: finished, leaseToken: finishClaim.leaseToken };
    assert.equal(await finishSubmission(db(), finishLease, accepted(finishClaim), finishJob), true);
    assert.equal(await stateOf(finishJob), "completed");
    assert.equal((await row(finished)).verdict, "accepted");

    const released = await queued();
    const releaseJob = await jobOf(released);
    const releaseClaim = await claimed(released);
    const releaseLease = { submissionId: released, leaseToken: releaseClaim.leaseToken };
    assert.equal(await releaseSubmission(db(), releaseLease, releaseJob), "requeued");
    assert.equal(await stateOf(releaseJob), "completed");
    assert.equal((await row(released)).status, "queued");
  });

  it("a stale job given by id is completed with the claim", async () => {
    const id = await queued();
    await inTransaction(db(), (tx) => enqueueJudging(tx, [{ submissionId: id, attempt: 1 }]));
    const [job] = await sql().query<{ id: string }>("SELECT id FROM pgboss.job WHERE data->>'submissionId' = :id", {
      replacements: { id },
      type: QueryTypes.SELECT,
    });
    assert.ok(job);
    await sql().query("UPDATE pgboss.job SET state = 'active', started_on = now() WHERE id = :job", {
      replacements: { job: job.id },
    });
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 2 }, 60, job.id), { kind: "stale" });
    assert.equal(
      await countRows("SELECT count(*) FROM pgboss.job WHERE id = :job AND state = 'completed'", { job: job.id }),
      1,
    );
  });

  it("records results idempotently under the lease, finishes once with one SUBMISSION_JUDGED, then refuses", async () => {
    const id = await queued();
    const claim = await claimed(id);
    const lease = { submissionId: id, leaseToken: claim.leaseToken };
    assert.equal(
      await recordTestResult(db(), lease, { ordinal: 1, verdict: "accepted", timeMs: 5, memoryKb: 100 }),
      true,
    );
    assert.equal(
      await recordTestResult(db(), lease, { ordinal: 1, verdict: "accepted", timeMs: 7, memoryKb: 120 }),
      true,
    );
    assert.equal(
      await recordTestResult(db(), lease, { ordinal: 2, verdict: "wrong_answer", timeMs: 6, memoryKb: 110 }),
      true,
    );
    assert.equal(await countRows("SELECT count(*) FROM submission_tests WHERE submission_id = :id", { id }), 2);
    assert.equal(
      await countRows("SELECT count(*) FROM submission_tests WHERE submission_id = :id AND time_ms = 7", { id }),
      1,
    );

    const before = await notificationsOf(userId, "submission_judged");
    const outcome: Outcome = { ...accepted(claim), verdict: "wrong_answer", failedTest: 2, passedTests: 1 };
    assert.equal(await finishSubmission(db(), lease, outcome), true);
    assert.equal(await finishSubmission(db(), lease, outcome), false, "a duplicate finish changes nothing");
    assert.equal(
      await recordTestResult(db(), lease, { ordinal: 3, verdict: "accepted", timeMs: 1, memoryKb: 1 }),
      false,
    );
    assert.equal(await notificationsOf(userId, "submission_judged"), before + 1, "exactly one notification");
    const stored = await row(id);
    assert.deepEqual(
      [stored.status, stored.verdict, stored.failedTest, stored.testsVersion, stored.leaseToken],
      ["finished", "wrong_answer", 2, 1, null],
    );
    const [notification] = await sql().query<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM notifications WHERE user_id = :userId AND type = 'submission_judged'
        AND payload->>'submissionId' = :id`,
      { replacements: { userId, id }, type: QueryTypes.SELECT },
    );
    assert.deepEqual(notification?.payload, {
      submissionId: id,
      taskId: task.id,
      title: task.title,
      verdict: "wrong_answer",
      failedTest: 2,
    });
  });

  it("a lease that ran out passes to the next worker: the old holder's writes change nothing", async () => {
    const id = await queued();
    const first = await claimed(id);
    const late = { submissionId: id, leaseToken: first.leaseToken };
    await recordTestResult(db(), late, { ordinal: 1, verdict: "accepted", timeMs: 1, memoryKb: 1 });
    await expireLease(id);
    const second = await claimed(id);
    assert.notEqual(second.leaseToken, first.leaseToken);
    assert.equal(second.attempt, 2);
    assert.equal(await countRows("SELECT count(*) FROM submission_tests WHERE submission_id = :id", { id }), 0);
    assert.equal(
      await recordTestResult(db(), late, { ordinal: 1, verdict: "accepted", timeMs: 1, memoryKb: 1 }),
      false,
    );
    assert.equal(await extendLease(db(), late, 60), null);
    assert.equal(await finishSubmission(db(), late, accepted(first)), false);
    assert.equal(await releaseSubmission(db(), late), "stale");
    const extended = await extendLease(db(), { submissionId: id, leaseToken: second.leaseToken }, 600);
    assert.ok(extended && extended.getTime() > Date.now() + 500_000);
    assert.equal(
      await finishSubmission(db(), { submissionId: id, leaseToken: second.leaseToken }, accepted(second)),
      true,
    );
    assert.equal((await row(id)).verdict, "accepted");
  });

  it("gives back rounds whose lease ran out (a dead worker's): QUEUED with a new job, FAILED after the third; a live lease stays", async () => {
    const abandoned = await queued();
    const live = await queued();
    const spent = await queued();
    const jobsOf = (id: string) =>
      countRows("SELECT count(*) FROM pgboss.job WHERE data->>'submissionId' = :id AND state = 'created'", { id });
    const dead = await claimed(abandoned);
    await expireLease(abandoned);
    const liveClaim = await claimed(live);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await claimed(spent);
      await expireLease(spent);
    }
    const told = await notificationsOf(userId, "message");
    const [abandonedJobs, spentJobs] = [await jobsOf(abandoned), await jobsOf(spent)];

    await releaseAbandonedSubmissions(db());

    assert.deepEqual(
      [(await row(abandoned)).status, (await row(abandoned)).leaseToken, (await row(abandoned)).attempts],
      ["queued", null, 1],
    );
    assert.equal(await jobsOf(abandoned), abandonedJobs + 1, "a new job for the round");
    assert.deepEqual([(await row(live)).status, (await row(live)).leaseToken], ["judging", liveClaim.leaseToken]);
    assert.equal((await row(spent)).status, "failed");
    assert.equal(await notificationsOf(userId, "message"), told + 1, "the student is told once");
    assert.equal(await jobsOf(spent), spentJobs, "no job after the last attempt");

    const heir = await claimed(abandoned);
    assert.equal(heir.attempt, 2);
    const late = { submissionId: abandoned, leaseToken: dead.leaseToken };
    assert.equal(
      await recordTestResult(db(), late, { ordinal: 1, verdict: "accepted", timeMs: 1, memoryKb: 1 }),
      false,
    );
    assert.equal(await finishSubmission(db(), late, accepted(dead)), false);
    await releaseAbandonedSubmissions(db());
    assert.equal((await row(abandoned)).leaseToken, heir.leaseToken, "a second sweep leaves the new holder alone");
  });

  it("the fourth hand-out of a round fails it (FAILED, the student told); later hand-outs are stale", async () => {
    const id = await queued();
    for (let attempt = 1; attempt <= 3; attempt++) {
      assert.equal((await claimed(id)).attempt, attempt);
      await expireLease(id);
    }
    const told = await notificationsOf(userId, "message");
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 1 }, 60), { kind: "failed" });
    const stored = await row(id);
    assert.equal(stored.status, "failed");
    assert.ok(stored.finishedAt instanceof Date);
    assert.equal(await notificationsOf(userId, "message"), told + 1);
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 1 }, 60), { kind: "stale" });
  });

  it("a judge fault gives the round back with a new job, and fails it on the third attempt", async () => {
    const id = await queued();
    const jobs = () => countRows("SELECT count(*) FROM pgboss.job WHERE data->>'submissionId' = :id", { id });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const claim = await claimed(id);
      assert.equal(await releaseSubmission(db(), { submissionId: id, leaseToken: claim.leaseToken }), "requeued");
      assert.equal((await row(id)).status, "queued");
      assert.equal(await jobs(), attempt);
    }
    const last = await claimed(id);
    assert.equal(await releaseSubmission(db(), { submissionId: id, leaseToken: last.leaseToken }), "failed");
    assert.equal((await row(id)).status, "failed");
    assert.equal(await jobs(), 2, "no job after the last attempt");
  });

  it("a job of an earlier round finds nothing to do once a rejudge started a new one", async () => {
    const id = await queued();
    const claim = await claimed(id);
    await sql().query(
      `UPDATE submissions SET status = 'queued', judge_round = judge_round + 1, attempts = 0, lease_token = NULL,
              lease_expires_at = NULL WHERE id = :id`,
      { replacements: { id } },
    );
    assert.equal(
      await finishSubmission(db(), { submissionId: id, leaseToken: claim.leaseToken }, accepted(claim)),
      false,
    );
    assert.deepEqual(await claimSubmission(db(), { submissionId: id, attempt: 1 }, 60), { kind: "stale" });
    assert.equal((await claimed(id, 2)).attempt, 1);
  });

  it("keeps a compile log to 8 KiB at a character boundary and no failed test for a compile error", async () => {
    const id = await queued();
    const claim = await claimed(id);
    const log = `error: ${"é".repeat(5000)}`;
    const finished = await finishSubmission(
      db(),
      { submissionId: id, leaseToken: claim.leaseToken },
      { ...accepted(claim), verdict: "compile_error", failedTest: 1, passedTests: 0, compileLog: log },
    );
    assert.equal(finished, true);
    const stored = await row(id);
    assert.equal(stored.failedTest, null);
    const compileLog = String(stored.compileLog);
    assert.ok(Buffer.byteLength(compileLog) <= 8192 && Buffer.byteLength(compileLog) > 8190);
    assert.ok(log.startsWith(compileLog) && !compileLog.includes("\uFFFD"));
    assert.equal(truncateUtf8("abc", 2), "ab");
    assert.equal(truncateUtf8("aé", 2), "a");
  });

  it("the database refuses a verdict without FINISHED and FINISHED without a verdict", async () => {
    const id = await queued();
    await assert.rejects(
      sql().query("UPDATE submissions SET verdict = 'accepted' WHERE id = :id", { replacements: { id } }),
      /submissions_verdict_iff_finished/,
    );
    await assert.rejects(
      sql().query("UPDATE submissions SET status = 'finished', finished_at = now(), tests_version = 1 WHERE id = :id", {
        replacements: { id },
      }),
      /submissions_verdict_iff_finished/,
    );
  });

  it("the database checks a SUBMISSION_JUDGED payload against its type", async () => {
    const insert = (payload: object) =>
      sql().query(
        "INSERT INTO notifications (user_id, type, payload) VALUES (:userId, 'submission_judged', :payload)",
        {
          replacements: { userId, payload: JSON.stringify(payload) },
        },
      );
    const payload = { submissionId: "s", taskId: "t", title: "A", verdict: "accepted", failedTest: 0 };
    await insert(payload);
    await assert.rejects(insert({ ...payload, verdict: "solved" }), /notifications_payload_matches_type/);
    await assert.rejects(insert({ ...payload, failedTest: "2" }), /notifications_payload_matches_type/);
    const { failedTest: _dropped, ...withoutFailedTest } = payload;
    await assert.rejects(insert(withoutFailedTest), /notifications_payload_matches_type/);
  });

  it("writes a submission's job in its transaction: a rollback leaves neither, and pg-boss reads the job", async () => {
    const jobs = () => countRows("SELECT count(*) FROM pgboss.job WHERE name = :queue", { queue: JUDGING_QUEUE });
    const before = await jobs();
    await assert.rejects(
      inTransaction(db(), async (tx) => {
        const inserted = await insertSubmission(
          tx,
          { userId, taskId: task.id, contestId: null, challengeDay: null, language: "python", source: "print(1)" },
          "Europe/Moscow",
        );
        assert.ok(inserted);
        await enqueueJudging(tx, [{ submissionId: inserted.id, attempt: 1 }]);
        assert.equal(
          await countRows("SELECT count(*) FROM pgboss.job WHERE name = :queue", { queue: JUDGING_QUEUE }),
          before,
        );
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.equal(await jobs(), before);

    const id = await queued();
    await inTransaction(db(), (tx) => enqueueJudging(tx, [{ submissionId: id, attempt: 1 }]));
    const [job] = await sql().query<{ id: string }>(
      "SELECT id FROM pgboss.job WHERE name = :queue AND data->>'submissionId' = :id",
      { replacements: { queue: JUDGING_QUEUE, id }, type: QueryTypes.SELECT },
    );
    assert.ok(job);
    // A worker's own pg-boss, as the judge will run it: it finds the schema made by the migration.
    const boss = new PgBoss({
      connectionString: testDatabase().database.url,
      migrate: false,
      supervise: false,
      schedule: false,
      max: 1,
    });
    boss.on("error", () => undefined);
    await boss.start();
    try {
      const read = await boss.getJobById<{ submissionId: string; attempt: number }>(JUDGING_QUEUE, job.id);
      assert.deepEqual(read?.data, { submissionId: id, attempt: 1 });
      assert.equal(read?.retryLimit, 3);
      assert.equal(read?.state, "created");
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
  });

  it("publishes progress on its channel to every listening process (pg_notify), and reads it back", async () => {
    const listener = new pg.Client({ connectionString: testDatabase().database.url });
    await listener.connect();
    try {
      await listener.query(`LISTEN ${PROGRESS_CHANNEL}`);
      const heard = new Promise<string>((resolve) =>
        listener.on("notification", (note) => resolve(note.payload ?? "")),
      );
      const progress = {
        submissionId: "3f0c5b1e-0000-4000-8000-000000000001",
        stage: "testing" as const,
        test: 2,
        totalTests: 5,
      };
      await publishProgress(db(), userId, progress);
      const payload = await heard;
      assert.deepEqual(parseProgress(payload), { userId, progress });
      assert.deepEqual(presentProgress(progress), {
        submissionId: progress.submissionId,
        stage: JudgingStage.TESTING,
        test: 2,
        totalTests: 5,
      });
      assert.equal(parseProgress("{}"), null);
      assert.equal(parseProgress("not json"), null);
    } finally {
      await listener.end();
    }
  });
});

describe("GET /judge/status", function () {
  this.timeout(60_000);
  let server: TestServer;
  const { bothEncodings } = encodingClients(() => server);

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  bothEncodings(
    "admins see the queue by status, the oldest queued and the live workers; others get 403",
    async (api) => {
      const admin = await buildUser({ role: "admin" });
      const task = await buildTask();
      const student = await buildUser({ role: "student" });
      const sentAt = new Date(Date.now() - 3_600_000 * 24 * 365 * 20);
      await buildSubmission({ userId: student.id, taskId: task.id, createdAt: sentAt });
      const workerId = `worker-${api.encoding}-${Date.now()}`;
      await recordWorkerHeartbeat(
        { sequelize: sql() },
        {
          workerId,
          host: "judge-1.school.example",
          slots: 2,
          runtimes: [
            { language: "python", version: "3.11.2" },
            { language: "cpp", version: "g++ 12.2.0" },
          ],
        },
      );
      const status = expectMessage(
        api,
        await api.call("GET", "/judge/status", { token: await tokenFor(admin, server.config) }),
        JudgeStatus,
      );
      const queuedCount = await countRows("SELECT count(*) FROM submissions WHERE status = 'queued'");
      assert.equal(status.submissions.find((entry) => entry.status === SubmissionStatus.QUEUED)?.count, queuedCount);
      assert.equal(status.oldestQueuedAt?.getTime(), sentAt.getTime());
      assert.ok(status.oldestQueuedAgeSeconds >= 3600 * 24 * 365 * 20);
      assert.ok(status.jobsWaiting >= 0 && status.jobsActive >= 0);
      const worker = status.workers.find((entry) => entry.id === workerId);
      assert.deepEqual(
        worker && [worker.host, worker.slots, worker.runtimes.map((runtime) => [runtime.language, runtime.version])],
        [
          "judge-1.school.example",
          2,
          [
            [Language.PYTHON, "3.11.2"],
            [Language.CPP, "g++ 12.2.0"],
          ],
        ],
      );
      await removeWorker({ sequelize: sql() }, workerId);
      const after = expectMessage(
        api,
        await api.call("GET", "/judge/status", { token: await tokenFor(admin, server.config) }),
        JudgeStatus,
      );
      assert.equal(
        after.workers.find((entry) => entry.id === workerId),
        undefined,
      );
      await sql().query("DELETE FROM submissions WHERE created_at = :sentAt", { replacements: { sentAt } });

      const teacher = await buildUser({ role: "teacher" });
      expectError(
        api,
        await api.call("GET", "/judge/status", { token: await tokenFor(teacher, server.config) }),
        403,
        "permission_denied",
      );
      expectError(api, await api.call("GET", "/judge/status"), 401, "unauthenticated");
    },
  );
});
