import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  Language,
  ListSubmissionsResponse,
  RejectSubmissionRequest,
  Submission,
  SubmissionSource,
  SubmissionStatus,
  SubmitSolutionRequest,
} from "../../../generated/shtp/v1/assignments.js";
import type { RoleName } from "../../auth/roles.js";
import {
  countRows,
  encodingClients,
  expectError,
  expectMessage,
  message,
  PROTOBUF_TYPE,
  type Api,
} from "../../testing/api.js";
import {
  buildChallenge,
  buildContest,
  buildSubmission,
  buildTask,
  freshDay,
  todaysChallenge,
} from "../../testing/assignments.js";
import { buildCaller, buildGroup, type Caller } from "../../testing/factories.js";
import { preparedStatementWatchers } from "../../db/db.js";
import { testDatabase } from "../../testing/database.js";
import { multipart } from "../../testing/files.js";
import { rawRequest } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

/** The submissions endpoints over real HTTP (assignments contract, sections 2 and 3), in JSON and protobuf. */

let server: TestServer;
const { apiFor, bothEncodings } = encodingClients(() => server);
const sql = () => testDatabase().database.sequelize;
const KiB = 1024;

const signedIn = (role: RoleName, overrides: { groupId?: string; learningClass?: string } = {}) =>
  buildCaller(server.config, role, overrides);

const solution = (taskId: string, overrides: Partial<SubmitSolutionRequest> = {}): SubmitSolutionRequest => ({
  taskId,
  language: Language.PYTHON,
  source: "a, b = map(int, input().split())\nprint(a + b)\n",
  ...overrides,
});

const submit = (api: Api, token: string, body: SubmitSolutionRequest) =>
  api.call("POST", "/submissions", { token, body: message(SubmitSolutionRequest, body) });

/** A multipart submission: the message in the part `submission` (in the run's encoding) and the source file. */
function submitFile(api: Api, token: string, body: SubmitSolutionRequest, source: Buffer | string) {
  const part =
    api.encoding === "json"
      ? {
          name: "submission",
          contentType: "application/json",
          data: JSON.stringify(SubmitSolutionRequest.toJSON(body)),
        }
      : {
          name: "submission",
          contentType: PROTOBUF_TYPE,
          data: Buffer.from(SubmitSolutionRequest.encode(body).finish()),
        };
  const form = multipart([part, { name: "source", filename: "main.py", contentType: "text/x-python", data: source }]);
  return api.call("POST", "/submissions", { token, headers: { "content-type": form.contentType }, rawBody: form.body });
}

const jobsFor = (submissionId: string) =>
  countRows(
    `SELECT count(*) FROM pgboss.job WHERE name = 'submission-judging' AND data->>'submissionId' = :submissionId`,
    {
      submissionId,
    },
  );

describe("submissions routes", function () {
  this.timeout(60_000);
  let teacher: Caller;
  let admin: Caller;
  let student: Caller;
  let otherStudent: Caller;
  let groupId: string;
  /** A task the group's students see through an open contest. */
  let task: Awaited<ReturnType<typeof buildTask>>;
  let contestId: string;

  before(async () => {
    server = await startTestServer({ env: { SUBMISSIONS_PER_WINDOW: "10000", SUBMISSIONS_PER_DAY: "100000" } });
    teacher = await signedIn("teacher");
    admin = await signedIn("admin");
    groupId = (await buildGroup()).id;
    student = await signedIn("student", { groupId });
    otherStudent = await signedIn("student");
    task = await buildTask({ languages: ["python"] });
    contestId = await buildContest({ taskIds: [task.id], groupIds: [groupId] });
  });
  after(() => server.close());

  describe("POST /submissions", () => {
    bothEncodings("a message → 202 QUEUED, its row and its judging job written together", async (api) => {
      const response = await submit(
        api,
        student.token,
        solution(task.id, { context: { $case: "contestId", value: contestId } }),
      );
      const body = expectMessage(api, response, Submission, 202);
      assert.equal(body.status, SubmissionStatus.QUEUED);
      assert.equal(body.user?.id, student.id);
      assert.equal(body.taskId, task.id);
      assert.equal(body.taskTitle, task.title);
      assert.equal(body.contestId, contestId);
      assert.equal(body.language, Language.PYTHON);
      assert.equal(body.attempts, 0);
      assert.equal(await jobsFor(body.id), 1);
      assert.equal(
        await countRows(
          `SELECT count(*) FROM pgboss.job WHERE data->>'submissionId' = :id AND (data->>'attempt')::int = 1 AND state = 'created'`,
          { id: body.id },
        ),
        1,
      );
      const practice = expectMessage(api, await submit(api, student.token, solution(task.id)), Submission, 202);
      assert.equal(practice.contestId, "");
      assert.equal(practice.challengeDay, "");
    });

    it("a solution sent to a contest loads the contest without the student's standing", async () => {
      const api = apiFor("json");
      const statements: string[] = [];
      const watch = (text: string) => statements.push(text);
      preparedStatementWatchers.add(watch);
      try {
        const body = solution(task.id, { context: { $case: "contestId", value: contestId } });
        expectMessage(api, await submit(api, student.token, body), Submission, 202);
      } finally {
        preparedStatementWatchers.delete(watch);
      }
      const contestLoads = statements.filter((text) => /FROM contests c\b/.test(text));
      assert.equal(contestLoads.length, 1, statements.join("\n\n"));
      // The standing counts every submission of theirs to the contest, which sending one does not need.
      assert.doesNotMatch(contestLoads[0]!, /submissions/, contestLoads[0]);
    });

    bothEncodings("multipart: the message part in either encoding beside a `source` file → 202", async (api) => {
      const source = "print(sum(map(int, input().split())))\n";
      const response = await submitFile(
        api,
        student.token,
        solution(task.id, { source: "", context: { $case: "contestId", value: contestId } }),
        source,
      );
      const body = expectMessage(api, response, Submission, 202);
      const stored = expectMessage(
        api,
        await api.call("GET", `/submissions/${body.id}/source`, { token: student.token }),
        SubmissionSource,
      );
      assert.equal(stored.source, source);
      assert.equal(stored.language, Language.PYTHON);
      const both = await submitFile(api, student.token, solution(task.id), source);
      expectError(api, both, 400, "invalid_argument", "source");
      const binary = await submitFile(
        api,
        student.token,
        solution(task.id, { source: "" }),
        Buffer.from([0, 1, 2, 0xff]),
      );
      expectError(api, binary, 415, "unsupported_media_type");
      // Text at first sight (its first bytes are what the upload judges), not UTF-8 further on.
      const latin1 = Buffer.concat([Buffer.from("print(1)\n".repeat(100)), Buffer.from([0xe9, 0x0a])]);
      expectError(
        api,
        await submitFile(api, student.token, solution(task.id, { source: "" }), latin1),
        415,
        "unsupported_media_type",
        "source",
      );
    });

    bothEncodings("a source over 64 KiB is 413 as a message and as a file; exactly 64 KiB is taken", async (api) => {
      const exact = `#${"x".repeat(64 * KiB - 1)}`;
      expectMessage(api, await submit(api, student.token, solution(task.id, { source: exact })), Submission, 202);
      const over = `${exact}y`;
      expectError(api, await submit(api, student.token, solution(task.id, { source: over })), 413, "payload_too_large");
      expectError(
        api,
        await submitFile(api, student.token, solution(task.id, { source: "" }), over),
        413,
        "payload_too_large",
      );
      const multiByte = "é".repeat(32 * KiB + 1);
      expectError(
        api,
        await submit(api, student.token, solution(task.id, { source: multiByte })),
        413,
        "payload_too_large",
      );
    });

    bothEncodings("404 for what the caller cannot see: a task, a contest, a day", async (api) => {
      const hidden = await buildTask();
      expectError(api, await submit(api, student.token, solution(hidden.id)), 404, "not_found");
      expectError(api, await submit(api, student.token, solution(randomUUID())), 404, "not_found");
      const elsewhere = await buildContest({ taskIds: [task.id], groupIds: [(await buildGroup()).id] });
      expectError(
        api,
        await submit(api, student.token, solution(task.id, { context: { $case: "contestId", value: elsewhere } })),
        404,
        "not_found",
      );
      const future = await freshDay("future");
      await buildChallenge(future, task.id);
      expectError(
        api,
        await submit(api, student.token, solution(task.id, { context: { $case: "challengeDay", value: future } })),
        404,
        "not_found",
      );
    });

    bothEncodings(
      "422 outside the window, for another task, another language or a day that is not today",
      async (api) => {
        const closed = await buildContest({
          taskIds: [task.id],
          groupIds: [groupId],
          startsAt: new Date(Date.now() - 7_200_000),
          deadline: new Date(Date.now() - 3_600_000),
        });
        expectError(
          api,
          await submit(api, student.token, solution(task.id, { context: { $case: "contestId", value: closed } })),
          422,
          "failed_precondition",
          "contestId",
        );
        const notYet = await buildContest({ taskIds: [task.id], startsAt: new Date(Date.now() + 3_600_000) });
        expectError(
          api,
          await submit(api, teacher.token, solution(task.id, { context: { $case: "contestId", value: notYet } })),
          422,
          "failed_precondition",
          "contestId",
        );
        const other = await buildTask();
        const otherContest = await buildContest({ taskIds: [other.id], groupIds: [groupId] });
        expectError(
          api,
          await submit(api, student.token, solution(task.id, { context: { $case: "contestId", value: otherContest } })),
          422,
          "failed_precondition",
          "taskId",
        );
        expectError(
          api,
          await submit(api, student.token, solution(task.id, { language: Language.CPP })),
          422,
          "failed_precondition",
          "language",
        );
        const past = await freshDay("past");
        await buildChallenge(past, task.id);
        expectError(
          api,
          await submit(api, student.token, solution(task.id, { context: { $case: "challengeDay", value: past } })),
          422,
          "failed_precondition",
          "challengeDay",
        );
        const untested = await buildTask({ tests: [] });
        expectError(api, await submit(api, admin.token, solution(untested.id)), 422, "failed_precondition");
      },
    );

    bothEncodings("today's challenge takes solutions for its task (202), not for another (422)", async (api) => {
      const { day, task: todays } = await todaysChallenge();
      const body = expectMessage(
        api,
        await submit(api, student.token, solution(todays.id, { context: { $case: "challengeDay", value: day } })),
        Submission,
        202,
      );
      assert.equal(body.challengeDay, day);
      expectError(
        api,
        await submit(api, teacher.token, solution(task.id, { context: { $case: "challengeDay", value: day } })),
        422,
        "failed_precondition",
        "taskId",
      );
    });

    bothEncodings("400 for malformed fields, 401 without a token", async (api) => {
      expectError(api, await submit(api, student.token, solution("nope")), 400, "invalid_argument", "taskId");
      expectError(
        api,
        await submit(api, student.token, solution(task.id, { source: "  \n" })),
        400,
        "invalid_argument",
        "source",
      );
      expectError(
        api,
        await submit(api, student.token, solution(task.id, { language: Language.UNSPECIFIED })),
        400,
        "invalid_argument",
        "language",
      );
      expectError(
        api,
        await submit(
          api,
          student.token,
          solution(task.id, { context: { $case: "challengeDay", value: "2026-02-30" } }),
        ),
        400,
        "invalid_argument",
        "challengeDay",
      );
      expectError(
        api,
        await api.call("POST", "/submissions", { body: message(SubmitSolutionRequest, solution(task.id)) }),
        401,
        "unauthenticated",
      );
    });
  });

  describe("the rate limits", () => {
    it("thirty concurrent submissions of one student inside the window: exactly the allowed three pass", async () => {
      const limited = await startTestServer({ env: { SUBMISSIONS_PER_WINDOW: "3", SUBMISSION_WINDOW_SECONDS: "60" } });
      try {
        const sender = await signedIn("student", { groupId });
        const body = Buffer.from(JSON.stringify(SubmitSolutionRequest.toJSON(solution(task.id))));
        const responses = await Promise.all(
          Array.from({ length: 30 }, () =>
            rawRequest(`${limited.url}/api/v1/submissions`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${sender.token}`,
                "content-type": "application/json",
                accept: "application/json",
              },
              body,
            }),
          ),
        );
        const statuses = responses.map((response) => response.status).sort();
        assert.deepEqual(
          [statuses.filter((status) => status === 202).length, statuses.filter((status) => status === 429).length],
          [3, 27],
          statuses.join(","),
        );
        for (const refused of responses.filter((response) => response.status === 429)) {
          const retryAfter = Number(refused.headers["retry-after"]);
          assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
        }
        assert.equal(await countRows("SELECT count(*) FROM submissions WHERE user_id = :id", { id: sender.id }), 3);
      } finally {
        await limited.close();
      }
    });

    it("the day's limit holds too, whatever the window allows", async () => {
      const limited = await startTestServer({ env: { SUBMISSIONS_PER_WINDOW: "100", SUBMISSIONS_PER_DAY: "2" } });
      try {
        const sender = await signedIn("student", { groupId });
        const api = encodingClients(() => limited).apiFor("protobuf");
        for (let index = 0; index < 2; index++) {
          expectMessage(api, await submit(api, sender.token, solution(task.id)), Submission, 202);
        }
        const refused = expectError(api, await submit(api, sender.token, solution(task.id)), 429, "rate_limited");
        assert.match(refused.detail, /Too many submissions/);
      } finally {
        await limited.close();
      }
    });
  });

  describe("reading", () => {
    bothEncodings("the sender and staff read a submission and its source; anyone else gets 404", async (api) => {
      const id = expectMessage(api, await submit(api, student.token, solution(task.id)), Submission, 202).id;
      for (const caller of [student, teacher, admin]) {
        expectMessage(api, await api.call("GET", `/submissions/${id}`, { token: caller.token }), Submission);
        expectMessage(
          api,
          await api.call("GET", `/submissions/${id}/source`, { token: caller.token }),
          SubmissionSource,
        );
      }
      expectError(api, await api.call("GET", `/submissions/${id}`, { token: otherStudent.token }), 404, "not_found");
      expectError(
        api,
        await api.call("GET", `/submissions/${id}/source`, { token: otherStudent.token }),
        404,
        "not_found",
      );
      expectError(api, await api.call("GET", `/submissions/${randomUUID()}`, { token: admin.token }), 404, "not_found");
      expectError(
        api,
        await api.call("GET", `/submissions/${randomUUID()}/source`, { token: admin.token }),
        404,
        "not_found",
      );
    });

    bothEncodings(
      "lists: a student's own only (403 for another's), staff by task, contest and user, paged",
      async (api) => {
        const sender = await signedIn("student", { groupId });
        const made: string[] = [];
        for (let index = 0; index < 3; index++) {
          const context = index === 0 ? undefined : ({ $case: "contestId", value: contestId } as const);
          made.push(
            expectMessage(api, await submit(api, sender.token, solution(task.id, { context })), Submission, 202).id,
          );
        }
        await buildSubmission({ userId: otherStudent.id, taskId: task.id });

        const own = expectMessage(
          api,
          await api.call("GET", "/submissions?limit=100", { token: sender.token }),
          ListSubmissionsResponse,
        );
        assert.deepEqual(
          own.items.map((item) => item.id),
          [...made].reverse(),
        );
        expectError(
          api,
          await api.call("GET", `/submissions?userId=${otherStudent.id}`, { token: sender.token }),
          403,
          "permission_denied",
        );

        const seen: string[] = [];
        let cursor = "";
        do {
          const query = `?userId=${sender.id}&taskId=${task.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
          const page = expectMessage(
            api,
            await api.call("GET", `/submissions${query}`, { token: teacher.token }),
            ListSubmissionsResponse,
          );
          seen.push(...page.items.map((item) => item.id));
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(seen, [...made].reverse());
        const inContest = expectMessage(
          api,
          await api.call("GET", `/submissions?userId=${sender.id}&contestId=${contestId}`, { token: admin.token }),
          ListSubmissionsResponse,
        );
        assert.deepEqual(
          inContest.items.map((item) => item.id),
          [made[2], made[1]],
        );
        expectError(
          api,
          await api.call("GET", "/submissions?taskId=x", { token: admin.token }),
          400,
          "invalid_argument",
        );
      },
    );
  });

  describe("staff actions", () => {
    bothEncodings(
      "reject with a reason (the student is told), 409 twice; lift it; students are refused",
      async (api) => {
        const id = await buildSubmission({ userId: student.id, taskId: task.id, contestId, verdict: "accepted" });
        const reject = (token: string, reason = "Copied from a classmate.") =>
          api.call("POST", `/submissions/${id}/reject`, { token, body: message(RejectSubmissionRequest, { reason }) });
        expectError(api, await reject(student.token), 403, "permission_denied");
        expectError(api, await reject(teacher.token, " "), 400, "invalid_argument", "reason");
        const rejected = expectMessage(api, await reject(teacher.token), Submission);
        assert.equal(rejected.rejection?.reason, "Copied from a classmate.");
        assert.equal(rejected.rejection?.byId, teacher.id);
        assert.equal(
          rejected.verdict,
          expectMessage(api, await api.call("GET", `/submissions/${id}`, { token: admin.token }), Submission).verdict,
        );
        expectError(api, await reject(admin.token), 409, "conflict");
        assert.equal(
          (await countRows(
            `SELECT count(*) FROM notifications WHERE user_id = :userId AND type = 'message' AND payload->>'text' LIKE '%Copied from a classmate.%'`,
            { userId: student.id },
          )) >= 1,
          true,
        );
        const restored = expectMessage(
          api,
          await api.call("DELETE", `/submissions/${id}/reject`, { token: admin.token }),
          Submission,
        );
        assert.equal(restored.rejection, undefined);
        expectError(
          api,
          await api.call("DELETE", `/submissions/${id}/reject`, { token: admin.token }),
          409,
          "conflict",
        );
        expectError(
          api,
          await api.call("DELETE", `/submissions/${id}/reject`, { token: student.token }),
          403,
          "permission_denied",
        );
        expectError(
          api,
          await api.call("DELETE", `/submissions/${randomUUID()}/reject`, { token: admin.token }),
          404,
          "not_found",
        );
      },
    );

    bothEncodings("rejudge: 202, back to QUEUED as a new attempt with its own job", async (api) => {
      const id = await buildSubmission({ userId: student.id, taskId: task.id, verdict: "wrong_answer" });
      const body = expectMessage(
        api,
        await api.call("POST", `/submissions/${id}/rejudge`, { token: teacher.token }),
        Submission,
        202,
      );
      assert.equal(body.status, SubmissionStatus.QUEUED);
      assert.equal(body.verdict, 0);
      assert.equal(body.failedTest, 0);
      assert.equal(
        await countRows(
          `SELECT count(*) FROM pgboss.job WHERE data->>'submissionId' = :id AND (data->>'attempt')::int = 2`,
          { id },
        ),
        1,
      );
      expectError(
        api,
        await api.call("POST", `/submissions/${id}/rejudge`, { token: student.token }),
        403,
        "permission_denied",
      );
      expectError(
        api,
        await api.call("POST", `/submissions/${randomUUID()}/rejudge`, { token: admin.token }),
        404,
        "not_found",
      );
    });
  });

  bothEncodings("deleting a student takes their submissions and results with them (204)", async (api) => {
    const leaver = await signedIn("student", { groupId });
    const id = expectMessage(api, await submit(api, leaver.token, solution(task.id)), Submission, 202).id;
    await sql().query(
      "INSERT INTO submission_tests (submission_id, ordinal, verdict, time_ms, memory_kb) VALUES (:id, 1, 'accepted', 1, 1)",
      { replacements: { id } },
    );
    const response = await api.call("DELETE", `/users/${leaver.id}`, { token: teacher.token });
    assert.equal(response.status, 204, response.body.toString("utf8"));
    assert.equal(await countRows("SELECT count(*) FROM submissions WHERE id = :id", { id }), 0);
    assert.equal(await countRows("SELECT count(*) FROM submission_tests WHERE submission_id = :id", { id }), 0);
  });

  bothEncodings("a NUL character in a source is 400, and nothing is written", async (api) => {
    const sender = await signedIn("student", { groupId });
    const response = await submit(api, sender.token, solution(task.id, { source: "print(1)\u0000" }));
    expectError(api, response, 400, "invalid_argument", "source");
    assert.equal(await countRows("SELECT count(*) FROM submissions WHERE user_id = :id", { id: sender.id }), 0);
  });
});
