import assert from "node:assert/strict";
import { Language, Submission, SubmitSolutionRequest, Verdict } from "../../../generated/shtp/v1/assignments.js";
import { ListNotificationsResponse } from "../../../generated/shtp/v1/notifications.js";
import { encodingClients, expectMessage, message, type Api } from "../../testing/api.js";
import { buildContest, buildTask, todaysChallenge } from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser, tokenFor } from "../../testing/factories.js";
import type { RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { claimSubmission, finishSubmission, recordTestResult } from "./service.js";

/**
 * Section 2 of the assignments contract, byte for byte: a student never receives a hidden test's
 * input or output, in any answer of any operation they can call, in JSON or in protobuf. Every
 * hidden test's data carries a marker, and each raw answer (after undoing compression) is searched
 * for it, failures and refusals included.
 */

let server: TestServer;
const { bothEncodings } = encodingClients(() => server);

describe("hidden tests never reach a student", function () {
  this.timeout(60_000);

  before(async () => {
    server = await startTestServer({ env: { SUBMISSIONS_PER_WINDOW: "1000" } });
  });
  after(() => server.close());

  /** Judges a submission as a worker would: a wrong answer on the first hidden test. */
  async function judge(submissionId: string): Promise<void> {
    const db = { sequelize: testDatabase().database.sequelize };
    const outcome = await claimSubmission(db, { submissionId, attempt: 1 }, 60);
    if (outcome.kind !== "claimed") throw new Error(`not claimed: ${outcome.kind}`);
    const lease = { submissionId, leaseToken: outcome.claim.leaseToken };
    await recordTestResult(db, lease, { ordinal: 1, verdict: "accepted", timeMs: 3, memoryKb: 800 });
    await recordTestResult(db, lease, { ordinal: 2, verdict: "wrong_answer", timeMs: 4, memoryKb: 810 });
    await finishSubmission(db, lease, {
      verdict: "wrong_answer",
      failedTest: 2,
      passedTests: 1,
      totalTests: outcome.claim.tests.length,
      maxTimeMs: 4,
      maxMemoryKb: 810,
      compileLog: "",
      testsVersion: outcome.claim.testsVersion,
    });
  }

  bothEncodings("in every operation a student can call, success or failure", async (api: Api) => {
    const groupId = (await buildGroup()).id;
    const student = await buildUser({ role: "student", groupId });
    const token = await tokenFor(student, server.config);
    const contestTask = await buildTask();
    const contestId = await buildContest({ taskIds: [contestTask.id], groupIds: [groupId] });
    const today = await todaysChallenge();
    const markers = [contestTask.hiddenMarker, today.task.hiddenMarker];

    const answers: [string, RawResponse][] = [];
    const call = async (method: string, path: string, body?: SubmitSolutionRequest) => {
      const response = await api.call(method, path, {
        token,
        body: body && message(SubmitSolutionRequest, body),
      });
      answers.push([`${method} ${path}`, response]);
      return response;
    };

    const sent = [
      await call("POST", "/submissions", {
        taskId: contestTask.id,
        context: { $case: "contestId", value: contestId },
        language: Language.PYTHON,
        source: "print(3)",
      }),
      await call("POST", "/submissions", {
        taskId: today.task.id,
        context: { $case: "challengeDay", value: today.day },
        language: Language.CPP,
        source: "int main() { return 0; }",
      }),
    ].map((response) => expectMessage(api, response, Submission, 202).id);
    for (const id of sent) await judge(id);

    for (const path of [
      `/tasks/${contestTask.id}`,
      `/tasks/${today.task.id}`,
      "/tasks",
      "/day-challenges/current",
      "/day-challenges?limit=100",
      `/day-challenges/${today.day}/leaderboard`,
      "/contests?limit=100",
      `/contests/${contestId}`,
      `/contests/${contestId}/me`,
      `/contests/${contestId}/results`,
      "/submissions?limit=100",
      ...sent.flatMap((id) => [`/submissions/${id}`, `/submissions/${id}/source`]),
      "/notifications?limit=100",
      "/judge/status",
    ]) {
      await call("GET", path);
    }
    await call("POST", `/submissions/${sent[0] ?? ""}/rejudge`);
    await call("POST", `/tasks/${contestTask.id}/rejudge`);

    const statuses = answers.map(([what, response]) => `${what} ${response.status}`);
    assert.ok(statuses.includes(`GET /submissions/${sent[0] ?? ""} 200`), statuses.join("\n"));
    assert.ok(statuses.includes("GET /tasks 403"), "refusals are searched too");
    const read = answers.find(([what]) => what === `GET /submissions/${sent[0] ?? ""}`);
    assert.ok(read);
    const judged = expectMessage(api, read[1], Submission);
    assert.deepEqual(
      judged.tests.map((test) => test.ordinal),
      [1, 2],
      "per-test results of hidden tests are shown: ordinal, verdict, time, memory",
    );
    const notifications = answers.find(([what]) => what === "GET /notifications?limit=100");
    assert.ok(notifications);
    const judgedPayloads = expectMessage(api, notifications[1], ListNotificationsResponse).items.flatMap((item) =>
      item.payload?.$case === "submissionJudged" ? [item.payload.value] : [],
    );
    assert.deepEqual(
      judgedPayloads.map((payload) => [payload.submissionId, payload.verdict, payload.failedTest]).sort(),
      sent.map((id) => [id, Verdict.WRONG_ANSWER, 2]).sort(),
      "one SUBMISSION_JUDGED per judged submission",
    );
    for (const [what, response] of answers) {
      for (const marker of markers) {
        assert.ok(!response.body.includes(marker), `${what} (${response.status}) carries hidden test data`);
      }
    }
  });
});
