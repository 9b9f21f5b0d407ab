import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { QueryTypes } from "sequelize";
import {
  JudgeStatus,
  Language,
  Submission,
  SubmitSolutionRequest,
  Verdict,
} from "../../generated/shtp/v1/assignments.js";
import { inTransaction, type Db } from "../db/db.js";
import { createSequelize } from "../db/sequelize.js";
import { createLogger } from "../logging/logger.js";
import { enqueueJudging, insertSubmission } from "../modules/submissions/queries.js";
import { finishSubmission, parseProgress, PROGRESS_CHANNEL, recordTestResult } from "../modules/submissions/service.js";
import type { LanguageName } from "../modules/tasks/service.js";
import { encodingClients, expectMessage, message, rawJson } from "../testing/api.js";
import { buildContest, buildTask, SCHOOL_ZONE, type BuiltTest } from "../testing/assignments.js";
import { createScratchDatabase, testDatabase } from "../testing/database.js";
import { waitFor } from "../testing/wait.js";
import { buildGroup, buildUser, tokenFor } from "../testing/factories.js";
import {
  assertNoSlotProcesses,
  TEST_UID_BASE,
  testSandbox,
  testSlot,
  withFakeBubblewrap,
  workerUidBase,
} from "../testing/judge.js";
import { Sandbox } from "./sandbox.js";
import {
  childEnv,
  cleanUpProcesses,
  exitWithin,
  isRunning,
  listeningUrl,
  logLines,
  runTs,
  type LogLine,
  type Spawned,
} from "../testing/processes.js";
import { startTestServer, testConfig, type TestServer } from "../testing/server.js";
import { judgeSlot, processesOfUser } from "./slots.js";
import { JudgeWorker, startJudge, type JudgeProcess } from "./worker.js";

/**
 * The judge worker end to end: real PostgreSQL, the real queue, the real sandbox. In-process workers
 * judge the single cases; the acceptance cases about processes start `src/judge/main.ts` as an
 * operator would (two at once, one killed, one stopped) and the server with its own slot.
 */

const db = (): Db => ({ sequelize: testDatabase().database.sequelize });
const sql = () => testDatabase().database.sequelize;

async function rows<T extends object>(query: string, replacements: Record<string, unknown> = {}): Promise<T[]> {
  return sql().query<T>(query, { replacements, type: QueryTypes.SELECT });
}

/** a+b over five tests, the first two shown to students; test 4's data carry a unique marker. */
function abTests(marker: string): BuiltTest[] {
  return [
    { input: "1 2\n", output: "3\n", demo: true },
    { input: "3 4\n", output: "7\n", demo: true },
    { input: "5 5\n", output: "10\n", demo: false },
    { input: `7000001 8000002 ${marker}\n`, output: "15000003\n", demo: false },
    { input: "100 200\n", output: "300\n", demo: false },
  ];
}

const PYTHON_AB = "a, b = map(int, input().split()[:2])\nprint(a + b)\n";
const CPP_AB = "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n";

async function abTask(options: { timeLimitMs?: number; tests?: BuiltTest[] } = {}) {
  const marker = `HIDDEN-${Math.random().toString(36).slice(2, 10)}`;
  const task = await buildTask({ tests: options.tests ?? abTests(marker) });
  if (options.timeLimitMs !== undefined) {
    await sql().query("UPDATE tasks SET time_limit_ms = :limit WHERE id = :id", {
      replacements: { limit: options.timeLimitMs, id: task.id },
    });
  }
  return { ...task, marker };
}

/** Sends a solution as `POST /submissions` does at its heart: the row and its job in one transaction. */
async function queue(userId: string, taskId: string, language: LanguageName, source: string): Promise<string> {
  return inTransaction(db(), async (tx) => {
    const inserted = await insertSubmission(
      tx,
      { userId, taskId, contestId: null, challengeDay: null, language, source },
      SCHOOL_ZONE,
    );
    if (!inserted) throw new Error("not inserted");
    await enqueueJudging(tx, [{ submissionId: inserted.id, attempt: inserted.judgeRound }]);
    return inserted.id;
  });
}

interface Stored {
  id: string;
  status: string;
  verdict: string | null;
  failedTest: number | null;
  passedTests: number;
  attempts: number;
  judgeRound: number;
  testsVersion: number | null;
  compileLog: string;
  leaseToken: string | null;
}

const storedOf = (ids: readonly string[]) =>
  rows<Stored>(
    `SELECT id, status, verdict, failed_test AS "failedTest", passed_tests AS "passedTests", attempts,
            judge_round AS "judgeRound", tests_version AS "testsVersion", compile_log AS "compileLog",
            lease_token AS "leaseToken"
       FROM submissions WHERE id IN (:ids)`,
    { ids },
  );

/** Waits until every submission is finished or failed, polling the database. */
async function settled(ids: readonly string[], timeoutMs = 60_000): Promise<Stored[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await storedOf(ids);
    if (found.length === ids.length && found.every((row) => row.status === "finished" || row.status === "failed")) {
      return ids.map((id) => found.find((row) => row.id === id) as Stored);
    }
    if (Date.now() > deadline) {
      throw new Error(`not judged in time: ${JSON.stringify(found.filter((row) => row.status !== "finished"))}`);
    }
    await sleep(100);
  }
}

async function settledOne(id: string, timeoutMs?: number): Promise<Stored> {
  const [row] = await settled([id], timeoutMs);
  if (!row) throw new Error("no row");
  return row;
}

const testRowsOf = (id: string) =>
  rows<{ ordinal: number; verdict: string }>(
    "SELECT ordinal, verdict FROM submission_tests WHERE submission_id = :id ORDER BY ordinal",
    { id },
  );

const judgedNotices = (id: string) =>
  rows<{ n: number }>(
    "SELECT count(*)::int AS n FROM notifications WHERE type = 'submission_judged' AND payload->>'submissionId' = :id",
    { id },
  ).then(([row]) => row?.n ?? 0);

/** Waits until no process of a test slot's user is left (a killed worker's sandbox dies with it). */
async function noSlotProcessesWithin(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let uid = TEST_UID_BASE; uid < TEST_UID_BASE + 8; uid++) {
    while (processesOfUser(uid).length > 0 && Date.now() < deadline) await sleep(50);
  }
  assertNoSlotProcesses();
}

describe("the judge worker", function () {
  this.timeout(120_000);
  afterEach(() => noSlotProcessesWithin(5000));

  describe("in one process", () => {
    let judge: JudgeProcess;
    let server: TestServer;
    const { bothEncodings } = encodingClients(() => server);

    before(async () => {
      server = await startTestServer();
      judge = await startJudge({
        database: testDatabase().database,
        logger: createLogger("silent"),
        uidBase: TEST_UID_BASE,
        slots: 2,
        pollMs: 100,
        maintenanceSeconds: 1,
      });
    });
    after(async () => {
      await judge.stop(10_000);
      await server.close();
    });

    it("judges a correct Python and a correct C++ solution ACCEPTED with a row per test", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask();
      const ids = [
        await queue(student.id, task.id, "python", PYTHON_AB),
        await queue(student.id, task.id, "cpp", CPP_AB),
      ];
      for (const row of await settled(ids)) {
        assert.deepEqual(
          [row.status, row.verdict, row.failedTest, row.passedTests, row.attempts, row.testsVersion],
          ["finished", "accepted", null, 5, 1, 1],
        );
        assert.deepEqual(
          (await testRowsOf(row.id)).map((test) => [test.ordinal, test.verdict]),
          [1, 2, 3, 4, 5].map((ordinal) => [ordinal, "accepted"]),
        );
        assert.equal(await judgedNotices(row.id), 1);
      }
    });

    bothEncodings(
      "a solution failing hidden test 4: WRONG_ANSWER, rows 1-4, none of test 4's data shown",
      async (api) => {
        const student = await buildUser({ role: "student" });
        const token = await tokenFor(student, server.config);
        const task = await abTask();
        const wrongFromTwelve = "a, b = map(int, input().split()[:2])\nprint(a + b if a + b < 12 else a - b)\n";
        const id = await queue(student.id, task.id, "python", wrongFromTwelve);
        const row = await settledOne(id);
        assert.deepEqual([row.verdict, row.failedTest, row.passedTests], ["wrong_answer", 4, 3]);
        assert.deepEqual(
          (await testRowsOf(id)).map((test) => [test.ordinal, test.verdict]),
          [
            [1, "accepted"],
            [2, "accepted"],
            [3, "accepted"],
            [4, "wrong_answer"],
          ],
        );
        const response = await api.call("GET", `/submissions/${id}`, { token });
        const seen = expectMessage(api, response, Submission);
        assert.equal(seen.verdict, Verdict.WRONG_ANSWER);
        assert.equal(seen.failedTest, 4);
        assert.deepEqual(
          seen.tests.map((test) => test.ordinal),
          [1, 2, 3, 4],
        );
        for (const secret of [task.marker, "7000001", "8000002", "15000003"]) {
          assert.ok(!response.body.includes(secret), `the student's view carries ${secret}`);
        }
      },
    );

    it("stops an endless loop at the time limit: its verdict is in within limit + 1.5 s of the test's start", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask({ timeLimitMs: 1000 });
      // The worker announces each test as it starts it: the time counts from there.
      const listener = new pg.Client({ connectionString: testDatabase().database.url });
      await listener.connect();
      let id = "";
      try {
        await listener.query(`LISTEN ${PROGRESS_CHANNEL}`);
        let testStartedAt: number | undefined;
        listener.on("notification", (note) => {
          const parsed = parseProgress(note.payload ?? "");
          if (parsed?.progress.submissionId === id && parsed.progress.stage === "testing") {
            testStartedAt ??= performance.now();
          }
        });
        id = await queue(student.id, task.id, "python", "while True:\n    pass\n");
        const deadline = Date.now() + 30_000;
        while ((await storedOf([id]))[0]?.status !== "finished") {
          assert.ok(Date.now() < deadline, "not judged in time");
          await sleep(10);
        }
        const verdictMs = performance.now() - (testStartedAt ?? Number.NaN);
        assert.ok(verdictMs < 2500, `the verdict came ${Math.round(verdictMs)} ms after the test started`);
      } finally {
        await listener.end();
      }
      const row = await settledOne(id);
      assert.deepEqual([row.verdict, row.failedTest, row.passedTests], ["time_limit", 1, 0]);
      assert.deepEqual(
        (await testRowsOf(id)).map((test) => test.verdict),
        ["time_limit"],
      );
    });

    it("gives a program that does not compile COMPILE_ERROR with the compiler's log and no test rows", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask();
      const id = await queue(student.id, task.id, "cpp", "int main( {\n");
      const row = await settledOne(id);
      assert.deepEqual([row.verdict, row.failedTest, row.passedTests], ["compile_error", null, 0]);
      assert.match(row.compileLog, /error/);
      assert.deepEqual(await testRowsOf(id), []);
      assert.equal(await judgedNotices(id), 1);
    });

    it("judges a rejudge after the tests changed as a new round: new testsVersion, one new notification", async () => {
      const student = await buildUser({ role: "student" });
      const admin = await buildUser({ role: "admin" });
      const adminToken = await tokenFor(admin, server.config);
      const task = await abTask();
      const id = await queue(student.id, task.id, "python", PYTHON_AB);
      assert.equal((await settledOne(id)).verdict, "accepted");

      const api = encodingClients(() => server).apiFor("json");
      // Test 3 now expects a product: the same solution fails it.
      const tests = abTests(task.marker).map((test, index) => (index === 2 ? { ...test, output: "25\n" } : test));
      const patched = await api.call("PATCH", `/tasks/${task.id}`, {
        token: adminToken,
        body: rawJson({ tests: { items: tests.map((test) => ({ ...test })) } }),
      });
      assert.equal(patched.status, 200, patched.body.toString());
      const rejudged = await api.call("POST", `/submissions/${id}/rejudge`, { token: adminToken });
      assert.equal(rejudged.status, 202, rejudged.body.toString());

      const row = await settledOne(id);
      assert.deepEqual(
        [row.verdict, row.failedTest, row.judgeRound, row.attempts, row.testsVersion],
        ["wrong_answer", 3, 2, 1, 2],
      );
      assert.equal(await judgedNotices(id), 2, "one notification per judged round");
    });

    it("a rejudge while an attempt runs: the old attempt's writes are refused, the new round judged once", async () => {
      const student = await buildUser({ role: "student" });
      const admin = await buildUser({ role: "admin" });
      const task = await abTask({ timeLimitMs: 2000 });
      const slow = "import time\ntime.sleep(0.3)\na, b = map(int, input().split()[:2])\nprint(a + b)\n";
      const id = await queue(student.id, task.id, "python", slow);
      const deadline = Date.now() + 30_000;
      while ((await testRowsOf(id)).length < 1) {
        assert.ok(Date.now() < deadline, "the first round never recorded a test");
        await sleep(20);
      }
      const api = encodingClients(() => server).apiFor("json");
      const rejudged = await api.call("POST", `/submissions/${id}/rejudge`, {
        token: await tokenFor(admin, server.config),
      });
      assert.equal(rejudged.status, 202, rejudged.body.toString());
      const row = await settledOne(id);
      assert.deepEqual([row.verdict, row.judgeRound, row.attempts, row.passedTests], ["accepted", 2, 1, 5]);
      assert.equal((await testRowsOf(id)).length, 5);
      assert.equal(await judgedNotices(id), 1, "the interrupted round told nobody");
    });
  });

  describe("meeting faults in one process", () => {
    /** A logger whose lines the test reads back. */
    function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: LogLine[] } {
      const lines: LogLine[] = [];
      const logger = createLogger("debug", { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
      return { logger, lines };
    }
    const messages = (lines: LogLine[], msg: string) => lines.filter((line) => line.msg === msg);

    it("needs at least one slot", async () => {
      const sandbox = await testSandbox();
      assert.throws(
        () => new JudgeWorker({ db: db(), sandbox, slots: [], logger: createLogger("silent") }),
        /^RangeError: a judge worker needs at least one slot$/,
      );
    });

    it("without its database: warns at every heartbeat and when its row cannot be removed, and still stops", async () => {
      const { logger, lines } = capturingLogger();
      // Port 1 on loopback: nothing listens there, so every connection is refused at once.
      const unreachable = createSequelize("postgres://nobody:nothing@127.0.0.1:1/none", {
        ...testConfig().database,
        poolMax: 1,
      });
      try {
        const worker = new JudgeWorker({
          db: { sequelize: unreachable },
          sandbox: await testSandbox(),
          slots: [testSlot],
          logger,
          pollMs: 20,
          heartbeatSeconds: 0.05,
        });
        await worker.start();
        assert.equal(messages(lines, "judge heartbeat failed; will retry").length, 1, "the first one, at start");
        await waitFor(() => messages(lines, "judge heartbeat failed; will retry").length >= 3);
        await worker.stop(1000);
        const [notRemoved] = messages(lines, "could not remove the judge worker's row");
        assert.match(JSON.stringify(notRemoved?.err), /ECONNREFUSED 127\.0\.0\.1:1/);
        assert.equal(lines.at(-1)?.msg, "judge worker stopped");
        const beats = messages(lines, "judge heartbeat failed; will retry").length;
        await sleep(200);
        assert.equal(
          messages(lines, "judge heartbeat failed; will retry").length,
          beats,
          "no heartbeat after the stop",
        );
      } finally {
        await unreachable.close();
      }
    });

    it("stopped past the grace period: hands back what runs, its program killed, and removes its row", async () => {
      const { logger, lines } = capturingLogger();
      const worker = new JudgeWorker({ db: db(), sandbox: await testSandbox(), slots: [testSlot], logger, pollMs: 50 });
      const student = await buildUser({ role: "student" });
      const task = await abTask({ timeLimitMs: 3000 });
      await worker.start();
      const id = await queue(student.id, task.id, "python", "import time\ntime.sleep(2.5)\nprint(3)\n");
      try {
        await waitFor(() => processesOfUser(testSlot.uid).length > 0, 30_000);
        const stoppedAt = Date.now();
        await worker.stop(200);
        assert.ok(Date.now() - stoppedAt < 2000, `stopping took ${Date.now() - stoppedAt} ms`);
        assert.deepEqual(processesOfUser(testSlot.uid), [], "the program was killed");
        const [row] = await storedOf([id]);
        assert.deepEqual([row?.status, row?.verdict, row?.attempts, row?.leaseToken], ["queued", null, 1, null]);
        const [warned] = messages(lines, "judge worker stopping: handing back what is still running");
        assert.deepEqual([warned?.jobs, warned?.graceMs], [1, 200]);
        const handedBack = messages(lines, "handed back: the worker is stopping");
        assert.deepEqual(
          handedBack.map((line) => [line.submissionId, line.released]),
          [[id, "requeued"]],
        );
        assert.equal(messages(lines, "judge fault: handing back").length, 0, "a stop is no fault of the judge");
        const [jobs] = await rows<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pgboss.job
            WHERE data->>'submissionId' = :id AND state IN ('created', 'retry')`,
          { id },
        );
        assert.equal(jobs?.waiting, 1, "a new job waits for the next worker");
        const [left] = await rows<{ n: number }>("SELECT count(*)::int AS n FROM judge_workers WHERE id = :id", {
          id: worker.workerId,
        });
        assert.equal(left?.n, 0);
      } finally {
        // The round's new job is for a worker to come: none of this file's must judge it.
        await sql().query(
          "DELETE FROM pgboss.job WHERE name = 'submission-judging' AND data->>'submissionId' = :id AND state IN ('created', 'retry')",
          { replacements: { id } },
        );
      }
    });

    it("stopped while its sandbox is still being set up: hands back, calling it no judge fault", async () => {
      // A stand-in for bubblewrap that never reports the sandbox ready: the stop comes during the set-up.
      await withFakeBubblewrap("exec sleep 30", async (wrapper) => {
        const { logger, lines } = capturingLogger();
        const sandbox = await Sandbox.open({ bwrapPath: wrapper });
        const worker = new JudgeWorker({ db: db(), sandbox, slots: [testSlot], logger, pollMs: 50 });
        const student = await buildUser({ role: "student" });
        const task = await abTask();
        await worker.start();
        const id = await queue(student.id, task.id, "python", PYTHON_AB);
        try {
          await waitFor(() => processesOfUser(testSlot.uid).length > 0, 30_000);
          await worker.stop(200);
          assert.deepEqual(processesOfUser(testSlot.uid), [], "the set-up was killed");
          const handedBack = messages(lines, "handed back: the worker is stopping");
          assert.deepEqual(
            handedBack.map((line) => [line.submissionId, line.released]),
            [[id, "requeued"]],
          );
          assert.match(JSON.stringify(handedBack[0]?.err), /the sandbox did not start/, "what ended it is kept");
          assert.deepEqual(
            lines.filter((line) => /handing back/.test(String(line.msg)) && line.submissionId === id),
            [],
            "a stop is no fault of the judge",
          );
        } finally {
          await sql().query(
            "DELETE FROM pgboss.job WHERE name = 'submission-judging' AND data->>'submissionId' = :id AND state IN ('created', 'retry')",
            { replacements: { id } },
          );
        }
      });
    });

    /** A worker on the test slot, not started yet, and a student's Python a+b queued for it. */
    async function workerWithQueued(): Promise<{ worker: JudgeWorker; lines: LogLine[]; id: string; taskId: string }> {
      const { logger, lines } = capturingLogger();
      const worker = new JudgeWorker({ db: db(), sandbox: await testSandbox(), slots: [testSlot], logger, pollMs: 50 });
      const student = await buildUser({ role: "student" });
      const task = await abTask();
      return { worker, lines, id: await queue(student.id, task.id, "python", PYTHON_AB), taskId: task.id };
    }

    it("a job of an earlier round is completed without judging, saying so at debug", async () => {
      const { worker, lines, id } = await workerWithQueued();
      // A rejudge began another round: the queued job is for the one before.
      await sql().query("UPDATE submissions SET judge_round = judge_round + 1 WHERE id = :id", {
        replacements: { id },
      });
      try {
        await worker.start();
        await waitFor(() => messages(lines, "judging job needed nothing").some((line) => line.submissionId === id));
        const [needed] = messages(lines, "judging job needed nothing").filter((line) => line.submissionId === id);
        assert.equal(needed?.outcome, "stale");
        const [row] = await storedOf([id]);
        assert.deepEqual([row?.status, row?.attempts, row?.verdict], ["queued", 0, null]);
        const [jobs] = await rows<{ completed: number }>(
          `SELECT count(*)::int AS completed FROM pgboss.job
            WHERE data->>'submissionId' = :id AND state = 'completed'`,
          { id },
        );
        assert.equal(jobs?.completed, 1);
      } finally {
        await worker.stop(5000);
      }
    });

    it("an error that is no judge fault hands the round back as a failed judging, then FAILED on the third", async () => {
      const { worker, lines, id, taskId } = await workerWithQueued();
      // The task lost its tests after the solution was sent: nothing can be judged against.
      await sql().query("DELETE FROM task_tests WHERE task_id = :taskId", { replacements: { taskId } });
      try {
        await worker.start();
        const row = await settledOne(id);
        assert.deepEqual([row.status, row.verdict, row.attempts], ["failed", null, 3]);
        const ours = lines.filter((line) => line.submissionId === id);
        const failures = messages(ours, "judging failed: handing back");
        assert.equal(failures.length, 3);
        for (const failure of failures) {
          assert.match(JSON.stringify(failure.err), /a submission cannot be judged without tests/);
        }
        assert.equal(messages(ours, "judge fault: handing back").length, 0);
      } finally {
        await worker.stop(5000);
      }
    });

    it("a judge fault on every attempt: handed back twice, then FAILED on the third, never a verdict", async () => {
      const { logger, lines } = capturingLogger();
      // The last of this test process's slot uids, taken by a process that is not the judge's.
      const slot = judgeSlot(7, TEST_UID_BASE);
      const squatter = spawn("/bin/sleep", ["30"], { uid: slot.uid, gid: slot.gid, stdio: "ignore" });
      const gone = once(squatter, "exit");
      const worker = new JudgeWorker({ db: db(), sandbox: await testSandbox(), slots: [slot], logger, pollMs: 50 });
      try {
        const student = await buildUser({ role: "student" });
        const task = await abTask();
        await worker.start();
        const id = await queue(student.id, task.id, "python", PYTHON_AB);
        const row = await settledOne(id);
        assert.deepEqual([row.status, row.verdict, row.attempts], ["failed", null, 3]);
        assert.deepEqual(await testRowsOf(id), []);
        const ours = lines.filter((line) => line.submissionId === id);
        const faults = messages(ours, "judge fault: handing back");
        assert.equal(faults.length, 3);
        for (const fault of faults) {
          assert.match(
            JSON.stringify(fault.err),
            new RegExp(`uid ${slot.uid} of slot 7 has processes ${squatter.pid}`),
          );
        }
        await waitFor(() => messages(ours, "handed back").length === 3);
        assert.deepEqual(
          messages(ours, "handed back").map((line) => [line.attempt, line.released]),
          [
            [1, "requeued"],
            [2, "requeued"],
            [3, "failed"],
          ],
        );
      } finally {
        await worker.stop(5000);
        squatter.kill("SIGKILL");
        await gone;
      }
    });
  });

  describe("as processes", () => {
    const startWorker = (uidBase: number, args: string[] = []): Spawned =>
      runTs(
        "src/judge/main.ts",
        [
          "--database-url",
          testDatabase().database.url,
          "--uid-base",
          String(uidBase),
          "--poll-ms",
          "100",
          "--maintenance-seconds",
          "1",
          ...args,
        ],
        childEnv({ NODE_ENV: "test", LOG_LEVEL: "info" }),
      );

    const started = async (worker: Spawned) => {
      const deadline = Date.now() + 60_000;
      while (!logLines(worker).some((line) => line.msg === "judge worker started")) {
        if (!isRunning(worker)) throw new Error(`the worker exited:\n${worker.stdout()}\n${worker.stderr()}`);
        if (Date.now() > deadline) throw new Error(`the worker did not start:\n${worker.stderr()}`);
        await sleep(50);
      }
    };

    const judgedBy = (worker: Spawned) =>
      logLines(worker)
        .filter((line) => line.msg === "judged")
        .map((line) => String(line.submissionId));

    afterEach(() => cleanUpProcesses());

    it("a worker refuses a database whose schema is not migrated: exit 78 naming the pending migrations", async () => {
      const scratch = await createScratchDatabase();
      try {
        const worker = runTs(
          "src/judge/main.ts",
          ["--database-url", scratch.url, "--slots", "1"],
          childEnv({ NODE_ENV: "test", LOG_LEVEL: "info" }),
        );
        assert.equal((await exitWithin(worker, 30_000)).code, 78, worker.stderr());
        assert.match(worker.stderr(), /migration\(s\) are pending \(.+\); run `node dist\/db\.js migrate` first/);
        assert.equal(
          logLines(worker).filter((line) => line.msg === "judge boot failed").length,
          1,
          "it never got as far as the sandbox",
        );
      } finally {
        await scratch.drop();
      }
    });

    it("a worker whose slot's uid already has a process exits 1 saying the sandbox does not work here", async () => {
      // The last of this test process's slot uids: no sandbox ever ran on it, here or in a worker.
      const uid = TEST_UID_BASE + 7;
      const squatter = spawn("/bin/sleep", ["30"], { uid, gid: uid, stdio: "ignore" });
      const gone = once(squatter, "exit");
      try {
        const worker = startWorker(uid, ["--slots", "1"]);
        assert.equal((await exitWithin(worker, 30_000)).code, 1);
        const [fatal] = logLines(worker).filter((line) => line.msg === "the sandbox does not work here");
        assert.match(
          JSON.stringify(fatal?.err),
          new RegExp(`uid ${uid} of slot 0 has processes ${squatter.pid} before its first run`),
        );
      } finally {
        squatter.kill("SIGKILL");
        await gone;
      }
    });

    it("two workers judge 50 queued submissions: each once, one attempt, one notification, both used", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask();
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await queue(student.id, task.id, "python", PYTHON_AB));
      const workers = [
        startWorker(workerUidBase(0), ["--slots", "1"]),
        startWorker(workerUidBase(1), ["--slots", "1"]),
      ];
      await Promise.all(workers.map(started));
      const judged = await settled(ids, 90_000);
      assert.deepEqual(
        judged.filter((row) => row.verdict !== "accepted" || row.attempts !== 1),
        [],
        // Above info: what a worker said about a submission that went wrong.
        workers
          .flatMap((worker) =>
            logLines(worker)
              .filter((line) => Number(line.level) > 30)
              .map((line) => JSON.stringify(line)),
          )
          .join("\n"),
      );
      const [counts] = await rows<{ results: number; distinct: number; notices: number }>(
        `SELECT (SELECT count(*)::int FROM submission_tests WHERE submission_id IN (:ids)) AS results,
                (SELECT count(DISTINCT (submission_id, ordinal))::int FROM submission_tests
                  WHERE submission_id IN (:ids)) AS "distinct",
                (SELECT count(*)::int FROM notifications WHERE type = 'submission_judged'
                  AND payload->>'submissionId' IN (:ids)) AS notices`,
        { ids },
      );
      assert.deepEqual(counts, { results: 250, distinct: 250, notices: 50 });
      // Each "judged" line follows its verdict's commit, which settled() may see first.
      await waitFor(() => workers.flatMap(judgedBy).length >= ids.length, 5_000).catch(() => undefined);
      const [first, second] = workers.map(judgedBy);
      assert.ok(first && second);
      assert.ok(first.length > 0 && second.length > 0, `one worker judged all: ${first.length} + ${second.length}`);
      assert.deepEqual([...first, ...second].sort(), [...ids].sort(), "each submission judged by one worker once");
      const [jobs] = await rows<{ open: number }>(
        `SELECT count(*)::int AS open FROM pgboss.job
          WHERE name = 'submission-judging' AND data->>'submissionId' IN (:ids) AND state <> 'completed'`,
        { ids },
      );
      assert.equal(jobs?.open, 0, "every job completed");
      for (const worker of workers) {
        worker.child.kill("SIGTERM");
        assert.equal((await exitWithin(worker, 30_000)).code, 0);
      }
    });

    it("a worker killed mid-submission: the other retries it after the lease expires, once, attempts 2", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask({ timeLimitMs: 2000 });
      const slow = "import time\ntime.sleep(0.8)\na, b = map(int, input().split()[:2])\nprint(a + b)\n";
      const id = await queue(student.id, task.id, "python", slow);
      const doomed = startWorker(workerUidBase(0), ["--slots", "1", "--lease-seconds", "3"]);
      await started(doomed);
      const deadline = Date.now() + 30_000;
      while ((await testRowsOf(id)).length < 1) {
        assert.ok(Date.now() < deadline, "the first worker never recorded a test");
        await sleep(50);
      }
      const [held] = await storedOf([id]);
      assert.equal(held?.status, "judging");
      const oldToken = held?.leaseToken;
      assert.ok(oldToken);
      doomed.child.kill("SIGKILL");
      await doomed.exited;

      // The job keeps the queue's 30-minute expiry: the heir's sweep, not pg-boss, gives the round back.
      const heir = startWorker(workerUidBase(1), [
        "--slots",
        "1",
        "--lease-seconds",
        "3",
        "--maintenance-seconds",
        "1",
      ]);
      await started(heir);
      const row = await settledOne(id, 60_000);
      assert.deepEqual([row.verdict, row.attempts, row.passedTests], ["accepted", 2, 5]);
      // The worker logs "judged" after the verdict's commit, which settledOne may see first.
      await waitFor(() => judgedBy(heir).length > 0, 5_000).catch(() => undefined);
      assert.deepEqual(judgedBy(heir), [id]);
      assert.equal(await judgedNotices(id), 1);
      assert.equal((await testRowsOf(id)).length, 5);

      const late = { submissionId: id, leaseToken: oldToken };
      assert.equal(
        await recordTestResult(db(), late, { ordinal: 1, verdict: "wrong_answer", timeMs: 1, memoryKb: 1 }),
        false,
      );
      const [before] = await storedOf([id]);
      assert.equal(
        await finishSubmission(db(), late, {
          verdict: "wrong_answer",
          failedTest: 1,
          passedTests: 0,
          totalTests: 5,
          maxTimeMs: 1,
          maxMemoryKb: 1,
          compileLog: "",
          testsVersion: 1,
        }),
        false,
      );
      assert.deepEqual(await storedOf([id]), [before], "the late writes changed nothing");
      assert.deepEqual(
        (await testRowsOf(id)).map((test) => test.verdict),
        Array(5).fill("accepted"),
      );
      assert.equal(await judgedNotices(id), 1);
      heir.child.kill("SIGTERM");
      assert.equal((await exitWithin(heir, 30_000)).code, 0);
    });

    it("SIGTERM: the worker finishes its running submission, leaves the status, exits 0", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask({ timeLimitMs: 2000 });
      const slow = "import time\ntime.sleep(0.8)\na, b = map(int, input().split()[:2])\nprint(a + b)\n";
      const worker = startWorker(workerUidBase(0), ["--slots", "1"]);
      await started(worker);
      const [registered] = await rows<{ n: number }>("SELECT count(*)::int AS n FROM judge_workers");
      assert.ok((registered?.n ?? 0) >= 1, "the worker's heartbeat is in the workers table");
      const id = await queue(student.id, task.id, "python", slow);
      const deadline = Date.now() + 30_000;
      while ((await storedOf([id]))[0]?.status !== "judging") {
        assert.ok(Date.now() < deadline, "never judging");
        await sleep(20);
      }
      worker.child.kill("SIGTERM");
      // A second signal while it finishes changes nothing: it is noted, and the stop goes on.
      await waitFor(() => logLines(worker).some((line) => line.msg?.startsWith("stopping: no new jobs") === true));
      worker.child.kill("SIGINT");
      assert.equal((await exitWithin(worker, 30_000)).code, 0, worker.stderr());
      assert.deepEqual(
        logLines(worker)
          .filter((line) => line.msg === "already stopping")
          .map((line) => line.signal),
        ["SIGINT"],
      );
      const [row] = await storedOf([id]);
      assert.deepEqual([row?.status, row?.verdict, row?.attempts], ["finished", "accepted", 1]);
      const [left] = await rows<{ n: number }>("SELECT count(*)::int AS n FROM judge_workers WHERE id LIKE :pid", {
        pid: `%:${worker.child.pid}`,
      });
      assert.equal(left?.n, 0, "a clean stop removes the worker's row");
    });

    it("SIGTERM past the grace period: the running submission is handed back, its program killed, exit 0", async () => {
      const student = await buildUser({ role: "student" });
      const task = await abTask({ timeLimitMs: 3000 });
      const slow = "import time\ntime.sleep(2.5)\na, b = map(int, input().split()[:2])\nprint(a + b)\n";
      const worker = startWorker(workerUidBase(0), ["--slots", "1", "--stop-grace-seconds", "1"]);
      await started(worker);
      const id = await queue(student.id, task.id, "python", slow);
      const deadline = Date.now() + 30_000;
      while ((await storedOf([id]))[0]?.status !== "judging") {
        assert.ok(Date.now() < deadline, "never judging");
        await sleep(20);
      }
      const stoppedAt = Date.now();
      worker.child.kill("SIGTERM");
      assert.equal((await exitWithin(worker, 30_000)).code, 0, worker.stderr());
      assert.ok(Date.now() - stoppedAt < 6000, `stopping took ${Date.now() - stoppedAt} ms`);
      const [row] = await storedOf([id]);
      assert.deepEqual([row?.status, row?.verdict, row?.attempts, row?.leaseToken], ["queued", null, 1, null]);
      const [jobs] = await rows<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pgboss.job
          WHERE data->>'submissionId' = :id AND state IN ('created', 'retry')`,
        { id },
      );
      assert.equal(jobs?.waiting, 1, "a new job waits for the next worker");
      assert.deepEqual(processesOfUser(workerUidBase(0)), [], "no program of the slot outlives the worker");
    });

    it("npm start's own slot judges a solution sent through the API, and /judge/status shows it", async () => {
      const groupId = (await buildGroup()).id;
      const student = await buildUser({ role: "student", groupId });
      const admin = await buildUser({ role: "admin" });
      const config = testConfig();
      const task = await abTask();
      const contestId = await buildContest({ taskIds: [task.id], groupIds: [groupId] });
      const server = runTs(
        "src/server.ts",
        [],
        childEnv({
          NODE_ENV: "test",
          DATABASE_URL: testDatabase().database.url,
          JUDGE_IN_PROCESS: "true",
          JUDGE_SLOT_UID: String(workerUidBase(1)),
        }),
      );
      const url = await listeningUrl(server);
      const api = { url };
      const client = encodingClients(() => api).apiFor("protobuf");
      const sent = await client.call("POST", "/submissions", {
        token: await tokenFor(student, config),
        body: message(SubmitSolutionRequest, {
          taskId: task.id,
          context: { $case: "contestId", value: contestId },
          language: Language.PYTHON,
          source: PYTHON_AB,
        }),
      });
      const id = expectMessage(client, sent, Submission, 202).id;
      const row = await settledOne(id);
      assert.deepEqual([row.verdict, row.attempts], ["accepted", 1]);
      const status = expectMessage(
        client,
        await client.call("GET", "/judge/status", { token: await tokenFor(admin, config) }),
        JudgeStatus,
      );
      assert.ok(
        status.workers.some((worker) => worker.id.endsWith(`:${server.child.pid}`) && worker.slots === 1),
        "the server's slot reports its heartbeat",
      );
      server.child.kill("SIGTERM");
      assert.equal((await exitWithin(server, 30_000)).code, 0);
    });
  });
});
