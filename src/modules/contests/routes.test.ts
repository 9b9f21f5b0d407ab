import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import {
  Contest,
  ContestResult,
  ContestResults,
  CreateContestRequest,
  ListContestsResponse,
  UpdateContestRequest,
  Verdict,
} from "../../../generated/shtp/v1/assignments.js";
import type { RoleName } from "../../auth/roles.js";
import {
  countStatements,
  encodingClients,
  expectError,
  expectMessage,
  expectNoContent,
  message,
  type Api,
} from "../../testing/api.js";
import { buildContest, buildSubmission, buildTask } from "../../testing/assignments.js";
import { presentVerdict } from "../submissions/presenter.js";
import { testDatabase } from "../../testing/database.js";
import { buildCaller, buildGroup, buildGroupOfStudents, type Caller } from "../../testing/factories.js";
import { integerSource } from "../../testing/random.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

/** The contest endpoints over real HTTP (assignments contract, sections 1 to 3), in JSON and protobuf. */

let server: TestServer;
const { apiFor, bothEncodings } = encodingClients(() => server);
const sql = () => testDatabase().database.sequelize;
const HOUR = 3_600_000;
const fromNow = (ms: number) => new Date(Date.now() + ms);

const signedIn = (role: RoleName, overrides: { groupId?: string; learningClass?: string } = {}) =>
  buildCaller(server.config, role, overrides);

const create = (api: Api, token: string, body: CreateContestRequest) =>
  api.call("POST", "/contests", { token, body: message(CreateContestRequest, body) });

const patch = (api: Api, token: string, id: string, changes: UpdateContestRequest) =>
  api.call("PATCH", `/contests/${id}`, { token, body: message(UpdateContestRequest, changes) });

describe("contest routes", function () {
  this.timeout(90_000);
  let teacher: Caller;
  let otherTeacher: Caller;
  let admin: Caller;
  let student: Caller;
  let outsider: Caller;
  let groupId: string;
  let taskIds: string[];

  const request = (overrides: Partial<CreateContestRequest> = {}): CreateContestRequest => ({
    title: `Homework ${randomUUID().slice(0, 6)}`,
    description: "Loops and sums.",
    startsAt: fromNow(-HOUR),
    deadline: fromNow(7 * 24 * HOUR),
    audience: { groupIds: [groupId], learningClasses: [] },
    taskIds,
    marks: { mark5: 2, mark4: 1, mark3: 1 },
    ...overrides,
  });

  before(async () => {
    server = await startTestServer();
    teacher = await signedIn("teacher");
    otherTeacher = await signedIn("teacher");
    admin = await signedIn("admin");
    groupId = (await buildGroup()).id;
    student = await signedIn("student", { groupId });
    outsider = await signedIn("student", { learningClass: "5Q" });
    taskIds = [(await buildTask()).id, (await buildTask()).id];
  });
  after(() => server.close());

  describe("POST /contests", () => {
    bothEncodings("a teacher creates a contest with its tasks in order (201)", async (api) => {
      const body = expectMessage(api, await create(api, teacher.token, request()), Contest, 201);
      assert.deepEqual(
        body.tasks.map((task) => task.taskId),
        taskIds,
      );
      assert.deepEqual(body.marks, { mark5: 2, mark4: 1, mark3: 1 });
      assert.deepEqual(body.audience?.groupIds, [groupId]);
      assert.equal(body.authorId, teacher.id);
      assert.equal(body.solvedCount, 0);
    });

    bothEncodings("refuses broken rules with their fields (400) and unknown references (422)", async (api) => {
      expectError(
        api,
        await create(api, teacher.token, request({ deadline: fromNow(-2 * HOUR) })),
        400,
        "invalid_argument",
        "deadline",
      );
      expectError(
        api,
        await create(api, teacher.token, request({ marks: { mark5: 1, mark4: 2, mark3: 1 } })),
        400,
        "invalid_argument",
        "marks",
      );
      expectError(
        api,
        await create(api, teacher.token, request({ marks: { mark5: 3, mark4: 2, mark3: 1 } })),
        400,
        "invalid_argument",
        "marks.mark5",
      );
      expectError(
        api,
        await create(api, teacher.token, request({ marks: { mark5: 2, mark4: 1, mark3: 0 } })),
        400,
        "invalid_argument",
        "marks.mark3",
      );
      const [first = ""] = taskIds;
      expectError(
        api,
        await create(api, teacher.token, request({ taskIds: [first, first] })),
        400,
        "invalid_argument",
        "taskIds",
      );
      expectError(api, await create(api, teacher.token, request({ taskIds: [] })), 400, "invalid_argument", "taskIds");
      expectError(
        api,
        await create(api, teacher.token, request({ marks: undefined })),
        400,
        "invalid_argument",
        "marks",
      );
      // Without one end of the window, only that is reported: the window's rules need both.
      for (const missing of ["startsAt", "deadline"] as const) {
        const error = expectError(
          api,
          await create(api, teacher.token, request({ [missing]: undefined })),
          400,
          "invalid_argument",
        );
        assert.deepEqual(
          error.fieldViolations.map((violation) => violation.field),
          [missing],
        );
      }
      expectError(
        api,
        await create(api, teacher.token, request({ taskIds: [first, randomUUID()] })),
        422,
        "failed_precondition",
        "taskIds.1",
      );
      expectError(
        api,
        await create(api, teacher.token, request({ audience: { groupIds: [randomUUID()], learningClasses: [] } })),
        422,
        "failed_precondition",
        "audience.groupIds.0",
      );
      expectError(api, await create(api, student.token, request()), 403, "permission_denied");
    });

    bothEncodings(
      "a group named in a contest's audience cannot be deleted (409), even with no members",
      async (api) => {
        const empty = await buildGroup();
        await buildContest({ taskIds, groupIds: [empty.id], marks: { mark5: 1, mark4: 1, mark3: 1 } });
        expectError(api, await api.call("DELETE", `/groups/${empty.id}`, { token: teacher.token }), 409, "conflict");
      },
    );

    it("the database keeps marks within the task count, whatever the code does", async () => {
      const contestId = await buildContest({ taskIds: [(await buildTask()).id] });
      await assert.rejects(
        sql().query("UPDATE contests SET mark5 = 2 WHERE id = :contestId", { replacements: { contestId } }),
        /solved tasks but has 1/,
      );
    });
  });

  describe("visibility", () => {
    bothEncodings("a student sees their audience's started contests (404 otherwise); staff see all", async (api) => {
      const open = expectMessage(api, await create(api, teacher.token, request()), Contest, 201);
      const later = expectMessage(
        api,
        await create(api, teacher.token, request({ startsAt: fromNow(HOUR), deadline: fromNow(2 * HOUR) })),
        Contest,
        201,
      );
      const byClass = expectMessage(
        api,
        await create(api, teacher.token, request({ audience: { groupIds: [], learningClasses: ["5Q"] } })),
        Contest,
        201,
      );
      expectMessage(api, await api.call("GET", `/contests/${open.id}`, { token: student.token }), Contest);
      expectError(api, await api.call("GET", `/contests/${later.id}`, { token: student.token }), 404, "not_found");
      expectError(api, await api.call("GET", `/contests/${open.id}`, { token: outsider.token }), 404, "not_found");
      expectMessage(api, await api.call("GET", `/contests/${byClass.id}`, { token: outsider.token }), Contest);
      expectMessage(api, await api.call("GET", `/contests/${later.id}`, { token: otherTeacher.token }), Contest);
      expectError(api, await api.call("GET", `/contests/${randomUUID()}`, { token: admin.token }), 404, "not_found");

      const listed = async (token: string) => {
        const ids: string[] = [];
        let cursor = "";
        do {
          const page = expectMessage(
            api,
            await api.call("GET", `/contests?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { token }),
            ListContestsResponse,
          );
          ids.push(...page.items.map((item) => item.id));
          cursor = page.nextCursor;
        } while (cursor);
        return ids;
      };
      const studentIds = await listed(student.token);
      assert.ok(studentIds.includes(open.id) && !studentIds.includes(later.id) && !studentIds.includes(byClass.id));
      const staffIds = await listed(admin.token);
      assert.ok([open.id, later.id, byClass.id].every((id) => staffIds.includes(id)));
    });
  });

  describe("PATCH and DELETE /contests/:id", () => {
    bothEncodings("the author changes fields and reorders tasks; the merged contest must hold", async (api) => {
      const created = expectMessage(api, await create(api, teacher.token, request()), Contest, 201);
      const reordered = expectMessage(
        api,
        await patch(api, teacher.token, created.id, { title: "Renamed", taskIds: { items: [...taskIds].reverse() } }),
        Contest,
      );
      assert.equal(reordered.title, "Renamed");
      assert.deepEqual(
        reordered.tasks.map((task) => task.taskId),
        [...taskIds].reverse(),
      );
      assert.equal(reordered.description, created.description, "absent fields are kept");
      const retargeted = expectMessage(
        api,
        await patch(api, teacher.token, created.id, { audience: { groupIds: [], learningClasses: ["7C"] } }),
        Contest,
      );
      assert.deepEqual(retargeted.audience, { groupIds: [], learningClasses: ["7C"] });
      assert.equal(retargeted.title, "Renamed", "a new audience keeps the other fields");
      expectError(
        api,
        await patch(api, teacher.token, created.id, { taskIds: { items: taskIds.slice(0, 1) } }),
        400,
        "invalid_argument",
        "marks.mark5",
      );
      expectError(
        api,
        await patch(api, teacher.token, created.id, { startsAt: fromNow(30 * 24 * HOUR) }),
        400,
        "invalid_argument",
        "deadline",
      );
      expectError(api, await patch(api, otherTeacher.token, created.id, { title: "Mine" }), 403, "permission_denied");
      expectMessage(api, await patch(api, admin.token, created.id, { title: "Admin's" }), Contest);
      expectError(api, await patch(api, teacher.token, randomUUID(), { title: "None" }), 404, "not_found");
    });

    bothEncodings("a task with solutions stays (409) and a contest with solutions stays (409)", async (api) => {
      const created = expectMessage(
        api,
        await create(api, teacher.token, request({ marks: { mark5: 1, mark4: 1, mark3: 1 } })),
        Contest,
        201,
      );
      const [first = "", second = ""] = taskIds;
      await buildSubmission({ userId: student.id, taskId: first, contestId: created.id, verdict: "accepted" });
      expectError(api, await patch(api, teacher.token, created.id, { taskIds: { items: [second] } }), 409, "conflict");
      expectMessage(api, await patch(api, teacher.token, created.id, { taskIds: { items: [first] } }), Contest);
      expectError(api, await api.call("DELETE", `/contests/${created.id}`, { token: teacher.token }), 409, "conflict");

      const unused = expectMessage(api, await create(api, teacher.token, request()), Contest, 201);
      expectError(
        api,
        await api.call("DELETE", `/contests/${unused.id}`, { token: otherTeacher.token }),
        403,
        "permission_denied",
      );
      expectNoContent(await api.call("DELETE", `/contests/${unused.id}`, { token: teacher.token }));
      expectError(api, await api.call("DELETE", `/contests/${unused.id}`, { token: teacher.token }), 404, "not_found");
    });
  });

  describe("marks and results", () => {
    bothEncodings("distinct accepted, not rejected tasks sent before the deadline make the mark", async (api) => {
      // Four tasks, thresholds 4/3/2: tasks 1, 2 and 3 solved with a wrong answer between them, task 4
      // accepted but rejected, and task 4 accepted again after the deadline: 3 solved, mark 4.
      const tasks = await Promise.all([1, 2, 3, 4].map(() => buildTask()));
      const ids = tasks.map((task) => task.id);
      const deadline = fromNow(HOUR);
      const contestId = await buildContest({
        taskIds: ids,
        groupIds: [groupId],
        marks: { mark5: 4, mark4: 3, mark3: 2 },
        deadline,
      });
      const solver = await signedIn("student", { groupId });
      const send = (
        index: number,
        verdict: "accepted" | "wrong_answer",
        extra: { rejectedReason?: string; createdAt?: Date } = {},
      ) => buildSubmission({ userId: solver.id, taskId: ids[index] ?? "", contestId, verdict, ...extra });
      await send(0, "accepted");
      await send(1, "wrong_answer");
      await send(1, "accepted");
      await send(0, "accepted");
      await send(2, "accepted");
      await send(3, "accepted", { rejectedReason: "Not their own work." });
      await send(3, "accepted", { createdAt: new Date(deadline.getTime() + 60_000) });

      const mine = expectMessage(
        api,
        await api.call("GET", `/contests/${contestId}/me`, { token: solver.token }),
        ContestResult,
      );
      assert.deepEqual([mine.solvedCount, mine.mark], [3, 4]);
      assert.equal(mine.user?.id, solver.id);
      assert.deepEqual(
        mine.tasks.map((task) => [task.taskId, task.attempts, task.solved, task.bestVerdict]),
        [
          [ids[0], 2, true, Verdict.ACCEPTED],
          [ids[1], 2, true, Verdict.ACCEPTED],
          [ids[2], 1, true, Verdict.ACCEPTED],
          [ids[3], 0, false, Verdict.UNSPECIFIED],
        ],
      );
      const seen = expectMessage(
        api,
        await api.call("GET", `/contests/${contestId}`, { token: solver.token }),
        Contest,
      );
      assert.deepEqual([seen.solvedCount, seen.mark], [3, 4]);

      const results = expectMessage(
        api,
        await api.call("GET", `/contests/${contestId}/results?limit=100`, { token: teacher.token }),
        ContestResults,
      );
      const row = results.items.find((item) => item.user?.id === solver.id);
      assert.deepEqual([row?.solvedCount, row?.mark], [3, 4]);
      const idle = results.items.find((item) => item.user?.id === student.id);
      assert.deepEqual(
        [idle?.solvedCount, idle?.mark],
        [0, 2],
        "every student of the audience, even without solutions",
      );
      assert.equal(
        results.items.find((item) => item.user?.id === outsider.id),
        undefined,
      );

      // A student who sent a solution and then left the audience keeps a row; staff trying it have none.
      const mover = await signedIn("student", { groupId });
      await buildSubmission({ userId: mover.id, taskId: ids[0] ?? "", contestId, verdict: "accepted" });
      await sql().query("UPDATE users SET group_id = :other WHERE id = :id", {
        replacements: { other: (await buildGroup()).id, id: mover.id },
      });
      await buildSubmission({ userId: teacher.id, taskId: ids[0] ?? "", contestId, verdict: "accepted" });
      const after = expectMessage(
        api,
        await api.call("GET", `/contests/${contestId}/results?limit=100`, { token: teacher.token }),
        ContestResults,
      );
      assert.deepEqual(after.items.find((item) => item.user?.id === mover.id)?.solvedCount, 1);
      assert.equal(
        after.items.find((item) => item.user?.id === teacher.id),
        undefined,
      );

      expectError(api, await api.call("GET", `/contests/${contestId}/me`, { token: outsider.token }), 404, "not_found");
      expectError(
        api,
        await api.call("GET", `/contests/${contestId}/me`, { token: teacher.token }),
        403,
        "permission_denied",
      );
      expectError(
        api,
        await api.call("GET", `/contests/${contestId}/results`, { token: solver.token }),
        403,
        "permission_denied",
      );
      expectError(
        api,
        await api.call("GET", `/contests/${randomUUID()}/results`, { token: admin.token }),
        404,
        "not_found",
      );
    });

    it("the best verdict is the one that passed the most tests; results walk in name order, page by page", async () => {
      const api = apiFor("json");
      const task = await buildTask();
      const group = await buildGroupOfStudents(5);
      const contestId = await buildContest({
        taskIds: [task.id],
        groupIds: [group],
        marks: { mark5: 1, mark4: 1, mark3: 1 },
      });
      const [first] = await sql().query<{ id: string }>(
        "SELECT id FROM users WHERE group_id = :group ORDER BY last_name, first_name, id LIMIT 1",
        { replacements: { group }, type: QueryTypes.SELECT },
      );
      if (!first) throw new Error("no student");
      await buildSubmission({ userId: first.id, taskId: task.id, contestId, verdict: "wrong_answer", passedTests: 1 });
      await buildSubmission({ userId: first.id, taskId: task.id, contestId, verdict: "time_limit", passedTests: 2 });
      await buildSubmission({ userId: first.id, taskId: task.id, contestId });
      const names: string[] = [];
      let cursor = "";
      do {
        const page: ContestResults = expectMessage(
          api,
          await api.call("GET", `/contests/${contestId}/results?limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
            token: admin.token,
          }),
          ContestResults,
        );
        names.push(...page.items.map((item) => `${item.user?.lastName}|${item.user?.firstName}|${item.user?.id}`));
        const top: ContestResult | undefined = page.items.find((item) => item.user?.id === first.id);
        if (top) {
          assert.deepEqual(
            top.tasks.map((result) => [result.attempts, result.bestVerdict, result.bestPassedTests, result.solved]),
            [[3, Verdict.TIME_LIMIT, 2, false]],
          );
        }
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(names.length, 5);
      assert.deepEqual(names, [...names].sort());
    });

    it("each student's standing per task follows the rules over random submissions, on the list and on /me", async () => {
      const api = apiFor("json");
      const tasks = [await buildTask(), await buildTask(), await buildTask(), await buildTask()];
      const group = await buildGroup();
      const students = await Promise.all(Array.from({ length: 10 }, () => signedIn("student", { groupId: group.id })));
      const deadline = fromNow(HOUR);
      const contestId = await buildContest({
        taskIds: tasks.map((task) => task.id),
        groupIds: [group.id],
        deadline,
        marks: { mark5: 4, mark4: 2, mark3: 1 },
      });
      // A fixed seed: a failure replays the same data.
      const draw = integerSource(20_261_201);
      const verdicts = [null, "accepted", "wrong_answer", "time_limit", "compile_error"] as const;
      type Sent = { verdict: (typeof verdicts)[number]; passedTests: number; late: boolean; rejected: boolean };
      const sent = new Map<string, Sent[]>();
      for (const student of students) {
        for (const task of tasks) {
          const cell: Sent[] = Array.from({ length: draw(6) }, () => ({
            verdict: verdicts[draw(verdicts.length)] ?? null,
            passedTests: draw(3),
            late: draw(6) === 0,
            rejected: draw(6) === 0,
          }));
          sent.set(`${student.id}/${task.id}`, cell);
          // In order, one at a time: the sending order is the tie-break.
          for (const submission of cell) {
            await buildSubmission({
              userId: student.id,
              taskId: task.id,
              contestId,
              verdict: submission.verdict ?? undefined,
              passedTests: submission.passedTests,
              createdAt: submission.late ? new Date(deadline.getTime() + 60_000) : new Date(),
              rejectedReason: submission.rejected ? "Copied." : undefined,
            });
          }
        }
      }
      // The rules, spelled out: attempts are the submissions before the deadline and not rejected; the best
      // is the first judged one among them by (accepted, most tests passed); pending ones count no tests.
      const expectedRow = (studentId: string) => {
        const cells = tasks.map((task) => {
          const counted = (sent.get(`${studentId}/${task.id}`) ?? []).filter((one) => !one.late && !one.rejected);
          const judged = counted.filter((one) => one.verdict !== null);
          // Strictly better only, so among equals the one sent first stays.
          const accepted = (one: Sent) => one.verdict === "accepted";
          const better = (one: Sent, top: Sent) =>
            accepted(one) !== accepted(top) ? accepted(one) : one.passedTests > top.passedTests;
          const best = judged.reduce<Sent | undefined>((top, one) => (top && !better(one, top) ? top : one), undefined);
          return {
            attempts: counted.length,
            solved: counted.some((one) => one.verdict === "accepted"),
            bestVerdict: presentVerdict(best?.verdict ?? null),
            bestPassedTests: best?.passedTests ?? 0,
          };
        });
        const solvedCount = cells.filter((cell) => cell.solved).length;
        return { solvedCount, mark: solvedCount >= 4 ? 5 : solvedCount >= 2 ? 4 : solvedCount >= 1 ? 3 : 2, cells };
      };
      const actualRow = (row: ContestResult | undefined) => ({
        solvedCount: row?.solvedCount,
        mark: row?.mark,
        cells: row?.tasks.map(({ attempts, solved, bestVerdict, bestPassedTests }) => ({
          attempts,
          solved,
          bestVerdict,
          bestPassedTests,
        })),
      });

      const results = expectMessage(
        api,
        await api.call("GET", `/contests/${contestId}/results?limit=100`, { token: teacher.token }),
        ContestResults,
      );
      assert.equal(results.items.length, students.length);
      for (const row of results.items) {
        assert.deepEqual(
          row.tasks.map((cell) => cell.taskId),
          tasks.map((task) => task.id),
        );
        assert.deepEqual(actualRow(row), expectedRow(row.user?.id ?? ""), `student ${row.user?.id}`);
      }
      for (const student of students) {
        const mine = expectMessage(
          api,
          await api.call("GET", `/contests/${contestId}/me`, { token: student.token }),
          ContestResult,
        );
        assert.deepEqual(actualRow(mine), expectedRow(student.id), `/me of ${student.id}`);
      }
    });

    it("results of 40 students × 10 tasks × 20 submissions take as many statements as 5 students", async () => {
      const api = apiFor("protobuf");
      const tasks = await Promise.all(Array.from({ length: 10 }, () => buildTask()));
      const measure = async (students: number) => {
        const group = await buildGroupOfStudents(students);
        const contestId = await buildContest({
          taskIds: tasks.map((task) => task.id),
          groupIds: [group],
          marks: { mark5: 10, mark4: 7, mark3: 4 },
        });
        await sql().query(
          `INSERT INTO submissions (user_id, task_id, contest_id, language, source, status, verdict, failed_test,
                                    passed_tests, total_tests, tests_version, finished_at)
           SELECT u.id, ct.task_id, :contestId, 'python', 'print(1)', 'finished',
                  CASE WHEN n = 20 AND ct.position <= 6 THEN 'accepted' ELSE 'wrong_answer' END,
                  CASE WHEN n = 20 AND ct.position <= 6 THEN NULL ELSE 1 END, 0, 3, 1, now()
             FROM users u JOIN contest_tasks ct ON ct.contest_id = :contestId, generate_series(1, 20) AS n
            WHERE u.group_id = :group`,
          { replacements: { contestId, group } },
        );
        const started = performance.now();
        const { result, statements } = await countStatements(() =>
          api.call("GET", `/contests/${contestId}/results?limit=100`, { token: admin.token }),
        );
        const elapsed = performance.now() - started;
        const body = expectMessage(api, result, ContestResults);
        assert.equal(body.items.length, students);
        for (const item of body.items) {
          assert.deepEqual([item.solvedCount, item.mark, item.tasks.length], [6, 3, 10]);
          assert.deepEqual(
            item.tasks.map((task) => task.attempts),
            Array(10).fill(20),
          );
        }
        return { statements, elapsed };
      };
      const few = await measure(5);
      const many = await measure(40);
      assert.equal(many.statements, few.statements);
      assert.ok(few.statements <= 3, `${few.statements} statements`);
      console.log(
        `      SQL statements per results page: 5 students → ${few.statements}, 40 students × 10 tasks × 20 ` +
          `submissions → ${many.statements} (${many.elapsed.toFixed(1)} ms)`,
      );
    });
  });
});
