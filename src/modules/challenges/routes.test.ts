import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import {
  DayChallenge,
  DayChallengeLeaderboard,
  ListDayChallengesResponse,
  SetDayChallengeRequest,
} from "../../../generated/shtp/v1/assignments.js";
import {
  countRows,
  countStatements,
  encodingClients,
  expectError,
  expectMessage,
  expectNoContent,
  message,
  type Api,
} from "../../testing/api.js";
import { buildChallenge, buildSubmission, buildTask, freshDay, todaysChallenge } from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

/** The day challenge endpoints over real HTTP (assignments contract, section 3), in JSON and protobuf. */

let server: TestServer;
const { bothEncodings } = encodingClients(() => server);
const sql = () => testDatabase().database.sequelize;

const put = (api: Api, token: string, day: string, taskId: string) =>
  api.call("PUT", `/day-challenges/${day}`, { token, body: message(SetDayChallengeRequest, { taskId }) });

describe("day challenge routes", function () {
  this.timeout(60_000);
  let teacherToken: string;
  let studentToken: string;

  before(async () => {
    server = await startTestServer();
    teacherToken = await tokenFor(await buildUser({ role: "teacher" }), server.config);
    studentToken = await tokenFor(await buildUser({ role: "student" }), server.config);
  });
  after(() => server.close());

  describe("PUT and DELETE /day-challenges/:day", () => {
    bothEncodings("staff set a day's task (demo tests only in the answer), replace it and remove it", async (api) => {
      const day = await freshDay("future");
      const first = await buildTask();
      const response = await put(api, teacherToken, day, first.id);
      const set = expectMessage(api, response, DayChallenge);
      assert.equal(set.day, day);
      assert.equal(set.task?.id, first.id);
      assert.deepEqual(
        set.task?.tests.map((test) => test.demo),
        [true],
      );
      assert.ok(!response.body.includes(first.hiddenMarker));
      const second = await buildTask();
      assert.equal(expectMessage(api, await put(api, teacherToken, day, second.id), DayChallenge).task?.id, second.id);
      assert.equal(await countRows("SELECT count(*) FROM day_challenges WHERE day = CAST(:day AS date)", { day }), 1);
      expectNoContent(await api.call("DELETE", `/day-challenges/${day}`, { token: teacherToken }));
      expectError(api, await api.call("DELETE", `/day-challenges/${day}`, { token: teacherToken }), 404, "not_found");
    });

    bothEncodings("422 for an unknown task, 400 for a day that is no date, 403 for students", async (api) => {
      const day = await freshDay("future");
      expectError(api, await put(api, teacherToken, day, randomUUID()), 422, "failed_precondition", "taskId");
      expectError(
        api,
        await put(api, teacherToken, "2026-13-01", (await buildTask()).id),
        400,
        "invalid_argument",
        "day",
      );
      expectError(
        api,
        await put(api, teacherToken, "tomorrow", (await buildTask()).id),
        400,
        "invalid_argument",
        "day",
      );
      expectError(api, await put(api, studentToken, day, (await buildTask()).id), 403, "permission_denied");
      expectError(
        api,
        await api.call("DELETE", `/day-challenges/${day}`, { token: studentToken }),
        403,
        "permission_denied",
      );
    });

    bothEncodings("a day with solutions keeps its task (409) and cannot be removed (409)", async (api) => {
      const day = await freshDay("past");
      const task = await buildTask();
      await buildChallenge(day, task.id);
      const student = await buildUser({ role: "student" });
      await buildSubmission({ userId: student.id, taskId: task.id, challengeDay: day, verdict: "accepted" });
      expectError(api, await put(api, teacherToken, day, (await buildTask()).id), 409, "conflict");
      expectMessage(api, await put(api, teacherToken, day, task.id), DayChallenge);
      expectError(api, await api.call("DELETE", `/day-challenges/${day}`, { token: teacherToken }), 409, "conflict");
      await assert.rejects(
        sql().query("UPDATE day_challenges SET task_id = :other WHERE day = CAST(:day AS date)", {
          replacements: { other: (await buildTask()).id, day },
        }),
        /submissions_challenge_task_fkey/,
        "the database refuses it too",
      );
    });
  });

  describe("GET /day-challenges/current", () => {
    bothEncodings("anyone reads today's challenge with its demo tests, never a hidden one", async (api) => {
      const { day, task } = await todaysChallenge();
      for (const token of [undefined, studentToken, teacherToken]) {
        const response = await api.call("GET", "/day-challenges/current", { token });
        const current = expectMessage(api, response, DayChallenge);
        assert.equal(current.day, day);
        assert.equal(current.task?.id, task.id);
        assert.equal(current.task?.statement, "Add two numbers.");
        assert.deepEqual(
          current.task?.tests.map((test) => [test.input, test.output]),
          task.tests.filter((test) => test.demo).map((test) => [test.input, test.output]),
        );
        assert.ok(!response.body.includes(task.hiddenMarker));
      }
    });

    bothEncodings("404 when today (in the school's time zone) has no challenge", async (api) => {
      // Two zones 25 hours apart never share a date, so one of them is not Moscow's today (whose
      // challenge the run may hold); nothing else in the suite sets a day near today.
      const [row] = await sql().query<{ zone: string; day: string }>(
        `SELECT zone, to_char(school_today(zone), 'YYYY-MM-DD') AS day FROM unnest(ARRAY['Pacific/Kiritimati', 'Pacific/Pago_Pago']) AS zone
          WHERE school_today(zone) <> school_today('Europe/Moscow') LIMIT 1`,
        { type: QueryTypes.SELECT },
      );
      assert.ok(row);
      await sql().query("DELETE FROM day_challenges WHERE day = CAST(:day AS date)", {
        replacements: { day: row.day },
      });
      const elsewhere = await startTestServer({ env: { SCHOOL_TIME_ZONE: row.zone } });
      try {
        const response = await encodingClients(() => elsewhere)
          .apiFor(api.encoding)
          .call("GET", "/day-challenges/current");
        expectError(api, response, 404, "not_found");
      } finally {
        await elsewhere.close();
      }
    });
  });

  describe("GET /day-challenges", () => {
    bothEncodings("students list today's and earlier days only, staff every day; newest first, paged", async (api) => {
      const past = await freshDay("past");
      const future = await freshDay("future");
      const task = await buildTask();
      await buildChallenge(past, task.id);
      await buildChallenge(future, task.id);
      const walk = async (token: string) => {
        const days: string[] = [];
        let cursor = "";
        do {
          const page = expectMessage(
            api,
            await api.call("GET", `/day-challenges?limit=50${cursor ? `&cursor=${cursor}` : ""}`, { token }),
            ListDayChallengesResponse,
          );
          for (const item of page.items) {
            assert.deepEqual(item.task?.tests, [], "lists carry no tests");
            days.push(item.day);
          }
          cursor = page.nextCursor;
        } while (cursor);
        return days;
      };
      const studentDays = await walk(studentToken);
      assert.ok(studentDays.includes(past) && !studentDays.includes(future));
      const staffDays = await walk(teacherToken);
      assert.ok(staffDays.includes(past) && staffDays.includes(future));
      assert.deepEqual(staffDays, [...staffDays].sort().reverse(), "newest day first");
      expectError(
        api,
        await api.call("GET", "/day-challenges?limit=0", { token: studentToken }),
        400,
        "invalid_argument",
      );
    });
  });

  describe("GET /day-challenges/:day/leaderboard", () => {
    /** Five users: A solved twice, B once, C late, D only wrongly, E only in a rejected submission. */
    async function scene(day: string) {
      const task = await buildTask();
      await buildChallenge(day, task.id);
      const [a, b, c, d, e] = await Promise.all(Array.from({ length: 5 }, () => buildUser({ role: "student" })));
      if (!a || !b || !c || !d || !e) throw new Error("users");
      const at = (minutes: number) => new Date(Date.UTC(2000, 0, 1, 8, minutes));
      const sent = async (userId: string, minutes: number, verdict: "accepted" | "wrong_answer", rejected = false) =>
        buildSubmission({
          userId,
          taskId: task.id,
          challengeDay: day,
          verdict,
          createdAt: at(minutes),
          rejectedReason: rejected ? "Copied." : undefined,
        });
      await sent(a.id, 1, "wrong_answer");
      const aFirst = await sent(a.id, 2, "accepted");
      await sent(a.id, 3, "accepted");
      await sent(e.id, 4, "accepted", true);
      await sent(b.id, 5, "accepted");
      await sent(d.id, 6, "wrong_answer");
      await sent(c.id, 9, "accepted");
      return { a, b, c, aFirst };
    }

    bothEncodings("each user once by their first accepted submission, deduplicated before the limit", async (api) => {
      const day = await freshDay("past");
      const { a, b, c, aFirst } = await scene(day);
      const board = expectMessage(
        api,
        await api.call("GET", `/day-challenges/${day}/leaderboard?limit=2`),
        DayChallengeLeaderboard,
      );
      assert.deepEqual(
        board.items.map((entry) => [entry.rank, entry.user?.id]),
        [
          [1, a.id],
          [2, b.id],
        ],
      );
      assert.equal(board.items[0]?.submissionId, aFirst);
      assert.equal(board.day, day);
      const full = expectMessage(
        api,
        await api.call("GET", `/day-challenges/${day}/leaderboard`, { token: studentToken }),
        DayChallengeLeaderboard,
      );
      assert.deepEqual(
        full.items.map((entry) => entry.user?.id),
        [a.id, b.id, c.id],
        "the wrong answer and the rejected solution never count",
      );
    });

    bothEncodings(
      "a day that has not come is 404 for anyone but staff; a day without a challenge is 404",
      async (api) => {
        const future = await freshDay("future");
        await buildChallenge(future, (await buildTask()).id);
        expectError(api, await api.call("GET", `/day-challenges/${future}/leaderboard`), 404, "not_found");
        expectError(
          api,
          await api.call("GET", `/day-challenges/${future}/leaderboard`, { token: studentToken }),
          404,
          "not_found",
        );
        const staffView = expectMessage(
          api,
          await api.call("GET", `/day-challenges/${future}/leaderboard`, { token: teacherToken }),
          DayChallengeLeaderboard,
        );
        assert.deepEqual(staffView.items, []);
        expectError(
          api,
          await api.call("GET", `/day-challenges/${await freshDay("past")}/leaderboard`),
          404,
          "not_found",
        );
        expectError(
          api,
          await api.call("GET", `/day-challenges/${future}/leaderboard?limit=101`),
          400,
          "invalid_argument",
        );
      },
    );

    it("issues as many SQL statements for 50 solvers as for 5", async () => {
      const api = encodingClients(() => server).apiFor("protobuf");
      const measure = async (solvers: number) => {
        const day = await freshDay("past");
        const task = await buildTask();
        await buildChallenge(day, task.id);
        await sql().query(
          `WITH made AS (
             INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, password_hash)
             SELECT 'lb-' || g || '-' || :tag || '@example.test', 'lb_' || g || '_' || :tag, 'L', 'B' || g, 'student',
                    (SELECT id FROM groups LIMIT 1), 'unusable'
               FROM generate_series(1, :solvers) AS g
             RETURNING id
           )
           INSERT INTO submissions (user_id, task_id, challenge_day, language, source, status, verdict, total_tests,
                                    passed_tests, tests_version, finished_at)
           SELECT made.id, :taskId, CAST(:day AS date), 'python', 'print(1)', 'finished', 'accepted', 3, 3, 1, now()
             FROM made, generate_series(1, 3)`,
          { replacements: { tag: randomUUID().slice(0, 8), solvers, taskId: task.id, day } },
        );
        const { result, statements } = await countStatements(() =>
          api.call("GET", `/day-challenges/${day}/leaderboard?limit=100`, { token: studentToken }),
        );
        assert.equal(expectMessage(api, result, DayChallengeLeaderboard).items.length, solvers);
        return statements;
      };
      const few = await measure(5);
      const many = await measure(50);
      assert.equal(many, few);
      assert.ok(few <= 3, `${few} statements`);
      console.log(`      SQL statements per leaderboard: 5 solvers → ${few}, 50 → ${many}`);
    });
  });
});
