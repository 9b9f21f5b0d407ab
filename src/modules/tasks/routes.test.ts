import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import {
  Checker,
  CreateTaskRequest,
  Language,
  ListTasksResponse,
  RejudgeResponse,
  Task,
  UpdateTaskRequest,
} from "../../../generated/shtp/v1/assignments.js";
import type { RoleName } from "../../auth/roles.js";
import {
  countRows,
  encodingClients,
  expectError,
  expectMessage,
  expectNoContent,
  message,
  type Api,
} from "../../testing/api.js";
import { buildChallenge, buildContest, buildSubmission, buildTask, freshDay } from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildCaller, buildGroup, type Caller } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

/** The tasks endpoints over real HTTP (assignments contract, sections 1 to 3), in JSON and protobuf. */

let server: TestServer;
const { bothEncodings } = encodingClients(() => server);
const unique = () => randomUUID().slice(0, 8);
const sql = () => testDatabase().database.sequelize;

const signedIn = (role: RoleName, overrides: { groupId?: string; learningClass?: string } = {}) =>
  buildCaller(server.config, role, overrides);

const taskRequest = (overrides: Partial<CreateTaskRequest> = {}): CreateTaskRequest => ({
  title: `Sum ${unique()}`,
  statement: "Read *a* and *b*; print their sum.",
  languages: [Language.PYTHON],
  checker: Checker.UNSPECIFIED,
  tests: [
    { input: "1 2\n", output: "3\n", demo: true },
    { input: "40 2\n", output: "42\n", demo: false },
  ],
  ...overrides,
});

const createTask = (api: Api, token: string, overrides: Partial<CreateTaskRequest> = {}) =>
  api.call("POST", "/tasks", { token, body: message(CreateTaskRequest, taskRequest(overrides)) });

const patchTask = (api: Api, token: string, id: string, changes: UpdateTaskRequest) =>
  api.call("PATCH", `/tasks/${id}`, { token, body: message(UpdateTaskRequest, changes) });

describe("tasks routes", function () {
  this.timeout(60_000);
  let teacher: Caller;
  let otherTeacher: Caller;
  let admin: Caller;
  let student: Caller;
  let groupId: string;

  before(async () => {
    server = await startTestServer();
    teacher = await signedIn("teacher");
    otherTeacher = await signedIn("teacher");
    admin = await signedIn("admin");
    groupId = (await buildGroup()).id;
    student = await signedIn("student", { groupId, learningClass: "9C" });
  });
  after(() => server.close());

  describe("POST /tasks", () => {
    bothEncodings("a teacher creates a task with defaults and receives every test", async (api) => {
      const body = expectMessage(api, await createTask(api, teacher.token), Task, 201);
      assert.equal(body.timeLimitMs, 1000);
      assert.equal(body.memoryLimitMb, 256);
      assert.equal(body.checker, Checker.LINES);
      assert.deepEqual(body.languages, [Language.PYTHON]);
      assert.equal(body.testCount, 2);
      assert.equal(body.testsVersion, 1);
      assert.equal(body.authorId, teacher.id);
      assert.deepEqual(
        body.tests.map((test) => [test.ordinal, test.input, test.output, test.demo]),
        [
          [1, "1 2\n", "3\n", true],
          [2, "40 2\n", "42\n", false],
        ],
      );
    });

    bothEncodings("refuses bad limits, languages and tests with the field (400) and students (403)", async (api) => {
      expectError(
        api,
        await createTask(api, teacher.token, { timeLimitMs: 50 }),
        400,
        "invalid_argument",
        "timeLimitMs",
      );
      expectError(
        api,
        await createTask(api, teacher.token, { memoryLimitMb: 2048 }),
        400,
        "invalid_argument",
        "memoryLimitMb",
      );
      expectError(api, await createTask(api, teacher.token, { languages: [] }), 400, "invalid_argument", "languages");
      expectError(
        api,
        await createTask(api, teacher.token, { languages: [Language.CPP, Language.CPP] }),
        400,
        "invalid_argument",
        "languages",
      );
      expectError(api, await createTask(api, teacher.token, { title: "  " }), 400, "invalid_argument", "title");
      const tooMany = Array.from({ length: 101 }, () => ({ input: "1", output: "1", demo: false }));
      expectError(api, await createTask(api, teacher.token, { tests: tooMany }), 400, "invalid_argument", "tests");
      expectError(api, await createTask(api, student.token), 403, "permission_denied");
    });

    it("refuses a test field over 8 MiB (400 naming it) and takes one of exactly 8 MiB", async () => {
      const api = encodingClients(() => server).apiFor("protobuf");
      const limit = 8 * 1024 * 1024;
      const over = await createTask(api, teacher.token, {
        tests: [{ input: "x".repeat(limit + 1), output: "1", demo: false }],
      });
      expectError(api, over, 400, "invalid_argument", "tests.0.input");
      const exact = expectMessage(
        api,
        await createTask(api, teacher.token, { tests: [{ input: "y".repeat(limit), output: "1", demo: false }] }),
        Task,
        201,
      );
      assert.equal(exact.tests[0]?.input.length, limit);
    });
  });

  describe("the database's own rules on tests", () => {
    it("keeps test_count and tests_bytes, refuses a gap in the ordinals, more than 100 tests or 64 MiB", async () => {
      const task = await buildTask({ tests: [] });
      const insert = (ordinal: number, size = 1) =>
        sql().query(
          "INSERT INTO task_tests (task_id, ordinal, input, output) VALUES (:id, :ordinal, repeat('x', :size), '')",
          { replacements: { id: task.id, ordinal, size } },
        );
      await assert.rejects(insert(2), /ordinals/, "a gap is refused");
      const mib = 1024 * 1024;
      for (let ordinal = 1; ordinal <= 8; ordinal++) await insert(ordinal, 8 * mib);
      const [row] = await sql().query<{ testCount: number; testsBytes: string }>(
        `SELECT test_count AS "testCount", tests_bytes AS "testsBytes" FROM tasks WHERE id = :id`,
        { replacements: { id: task.id }, type: QueryTypes.SELECT },
      );
      assert.deepEqual([row?.testCount, Number(row?.testsBytes)], [8, 64 * mib]);
      await assert.rejects(insert(9), /tests_bytes/, "64 MiB is the most");
      await assert.rejects(insert(9, 8 * mib + 1), /input_check|check constraint/, "8 MiB per field");
      await sql().query("DELETE FROM task_tests WHERE task_id = :id", { replacements: { id: task.id } });
      await sql().query(
        `INSERT INTO task_tests (task_id, ordinal, input, output) SELECT :id, n, '', '' FROM generate_series(1, 100) n`,
        { replacements: { id: task.id } },
      );
      await assert.rejects(insert(101), /check/, "100 tests at most");
    });
  });

  describe("GET /tasks/:id", () => {
    bothEncodings("staff see every test; a student only the demo ones of a task they see", async (api) => {
      const task = await buildTask({ authorId: teacher.id });
      const staffView = expectMessage(
        api,
        await api.call("GET", `/tasks/${task.id}`, { token: otherTeacher.token }),
        Task,
      );
      assert.equal(staffView.tests.length, 3);

      expectError(api, await api.call("GET", `/tasks/${task.id}`, { token: student.token }), 404, "not_found");
      await buildContest({ taskIds: [task.id], groupIds: [groupId] });
      const response = await api.call("GET", `/tasks/${task.id}`, { token: student.token });
      const studentView = expectMessage(api, response, Task);
      assert.deepEqual(
        studentView.tests.map((test) => test.demo),
        [true],
      );
      assert.equal(studentView.testCount, 3);
      assert.ok(!response.body.includes(task.hiddenMarker), "no hidden test in the raw answer");
    });

    bothEncodings("a student sees a task through a challenge of today or earlier, not a future one", async (api) => {
      const future = await buildTask();
      await buildChallenge(await freshDay("future"), future.id);
      expectError(api, await api.call("GET", `/tasks/${future.id}`, { token: student.token }), 404, "not_found");
      const past = await buildTask();
      await buildChallenge(await freshDay("past"), past.id);
      const response = await api.call("GET", `/tasks/${past.id}`, { token: student.token });
      assert.equal(expectMessage(api, response, Task).tests.length, 1);
      assert.ok(!response.body.includes(past.hiddenMarker));
    });

    bothEncodings("a contest that has not started, or is for another audience, hides its tasks (404)", async (api) => {
      const later = await buildTask();
      await buildContest({ taskIds: [later.id], startsAt: new Date(Date.now() + 3_600_000) });
      expectError(api, await api.call("GET", `/tasks/${later.id}`, { token: student.token }), 404, "not_found");
      const elsewhere = await buildTask();
      await buildContest({ taskIds: [elsewhere.id], groupIds: [(await buildGroup()).id], learningClasses: ["11Z"] });
      expectError(api, await api.call("GET", `/tasks/${elsewhere.id}`, { token: student.token }), 404, "not_found");
      const byClass = await buildTask();
      await buildContest({ taskIds: [byClass.id], learningClasses: ["9C"] });
      expectMessage(api, await api.call("GET", `/tasks/${byClass.id}`, { token: student.token }), Task);
      expectError(api, await api.call("GET", `/tasks/${randomUUID()}`, { token: teacher.token }), 404, "not_found");
      expectError(api, await api.call("GET", "/tasks/not-a-uuid", { token: teacher.token }), 400, "invalid_argument");
    });
  });

  describe("GET /tasks", () => {
    bothEncodings("lists newest first without tests, filters by title and walks every page", async (api) => {
      const word = `Needle${unique()}`;
      const made: string[] = [];
      for (let index = 0; index < 3; index++) {
        made.push(
          expectMessage(api, await createTask(api, teacher.token, { title: `${word} ${index}` }), Task, 201).id,
        );
      }
      const seen: string[] = [];
      let cursor = "";
      do {
        const query = `?limit=2&query=${word.toLowerCase()}${cursor ? `&cursor=${cursor}` : ""}`;
        const page = expectMessage(
          api,
          await api.call("GET", `/tasks${query}`, { token: admin.token }),
          ListTasksResponse,
        );
        for (const item of page.items) {
          assert.deepEqual(item.tests, []);
          seen.push(item.id);
        }
        cursor = page.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, [...made].reverse());
      expectError(api, await api.call("GET", "/tasks", { token: student.token }), 403, "permission_denied");
      expectError(api, await api.call("GET", "/tasks?cursor=bad", { token: admin.token }), 400, "invalid_argument");
    });
  });

  describe("PATCH /tasks/:id", () => {
    bothEncodings("the author changes fields; tests_version rises only when the tests differ", async (api) => {
      const created = expectMessage(api, await createTask(api, teacher.token), Task, 201);
      const renamed = expectMessage(
        api,
        await patchTask(api, teacher.token, created.id, { title: "Renamed", timeLimitMs: 2000 }),
        Task,
      );
      assert.equal(renamed.title, "Renamed");
      assert.equal(renamed.timeLimitMs, 2000);
      assert.equal(renamed.statement, created.statement, "absent fields are kept");
      assert.equal(renamed.testsVersion, 1);

      const sameTests = {
        items: created.tests.map((test) => ({ input: test.input, output: test.output, demo: test.demo })),
      };
      const resent = expectMessage(api, await patchTask(api, teacher.token, created.id, { tests: sameTests }), Task);
      assert.equal(resent.testsVersion, 1, "the same tests keep the version");

      const changed = expectMessage(
        api,
        await patchTask(api, teacher.token, created.id, {
          tests: { items: [{ input: "5 5\n", output: "10\n", demo: true }] },
          languages: { items: [Language.CPP, Language.PYTHON] },
          checker: Checker.TOKENS,
        }),
        Task,
      );
      assert.equal(changed.testsVersion, 2);
      assert.equal(changed.testCount, 1);
      assert.deepEqual(changed.languages, [Language.CPP, Language.PYTHON]);
      assert.equal(changed.checker, Checker.TOKENS);
    });

    bothEncodings("another teacher is refused (403), an admin may, a student is refused (403)", async (api) => {
      const created = expectMessage(api, await createTask(api, teacher.token), Task, 201);
      expectError(
        api,
        await patchTask(api, otherTeacher.token, created.id, { title: "Mine" }),
        403,
        "permission_denied",
      );
      expectMessage(api, await patchTask(api, admin.token, created.id, { title: "Admin's" }), Task);
      expectError(api, await patchTask(api, student.token, created.id, { title: "No" }), 403, "permission_denied");
      expectError(api, await patchTask(api, teacher.token, randomUUID(), { title: "None" }), 404, "not_found");
      expectError(
        api,
        await patchTask(api, teacher.token, created.id, { languages: { items: [] } }),
        400,
        "invalid_argument",
        "languages.items",
      );
    });
  });

  describe("DELETE /tasks/:id", () => {
    bothEncodings("deletes an unused task; 409 while submissions, contests or challenges use it", async (api) => {
      const unused = expectMessage(api, await createTask(api, teacher.token), Task, 201);
      expectError(
        api,
        await api.call("DELETE", `/tasks/${unused.id}`, { token: otherTeacher.token }),
        403,
        "permission_denied",
      );
      expectNoContent(await api.call("DELETE", `/tasks/${unused.id}`, { token: teacher.token }));
      assert.equal(await countRows("SELECT count(*) FROM task_tests WHERE task_id = :id", { id: unused.id }), 0);
      expectError(api, await api.call("DELETE", `/tasks/${unused.id}`, { token: teacher.token }), 404, "not_found");

      const inContest = await buildTask({ authorId: teacher.id });
      await buildContest({ taskIds: [inContest.id] });
      expectError(api, await api.call("DELETE", `/tasks/${inContest.id}`, { token: teacher.token }), 409, "conflict");
      const submitted = await buildTask({ authorId: teacher.id });
      await buildSubmission({ userId: student.id, taskId: submitted.id });
      expectError(api, await api.call("DELETE", `/tasks/${submitted.id}`, { token: admin.token }), 409, "conflict");
      const challenged = await buildTask({ authorId: teacher.id });
      await buildChallenge(await freshDay("future"), challenged.id);
      expectError(api, await api.call("DELETE", `/tasks/${challenged.id}`, { token: teacher.token }), 409, "conflict");
    });
  });

  describe("POST /tasks/:id/rejudge", () => {
    bothEncodings("sends every submission of the task back to the queue, each with a new job (202)", async (api) => {
      const task = await buildTask();
      const ids = [
        await buildSubmission({ userId: student.id, taskId: task.id, verdict: "wrong_answer" }),
        await buildSubmission({ userId: student.id, taskId: task.id, verdict: "accepted" }),
      ];
      const response = await api.call("POST", `/tasks/${task.id}/rejudge`, { token: otherTeacher.token });
      assert.equal(expectMessage(api, response, RejudgeResponse, 202).queued, 2);
      assert.equal(
        await countRows(
          `SELECT count(*) FROM submissions WHERE id IN (:ids) AND status = 'queued' AND verdict IS NULL AND judge_round = 2`,
          { ids },
        ),
        2,
      );
      assert.equal(
        await countRows(
          `SELECT count(*) FROM pgboss.job WHERE name = 'submission-judging' AND data->>'submissionId' IN (:ids)
             AND (data->>'attempt')::int = 2`,
          { ids },
        ),
        2,
      );
      expectError(
        api,
        await api.call("POST", `/tasks/${task.id}/rejudge`, { token: student.token }),
        403,
        "permission_denied",
      );
      expectError(
        api,
        await api.call("POST", `/tasks/${randomUUID()}/rejudge`, { token: admin.token }),
        404,
        "not_found",
      );
    });
  });
});
