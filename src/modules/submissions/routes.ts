import { ListSubmissionsResponse, Submission, SubmissionSource } from "../../../generated/shtp/v1/assignments.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import { languageFromProto } from "../tasks/presenter.js";
import { presentSource, presentSubmission } from "./presenter.js";
import {
  RejectBody,
  SOURCE_MAX_BYTES,
  SubmissionIdParamsSchema,
  SubmissionListQuerySchema,
  SubmitBody,
} from "./schema.js";
import * as submissionService from "./service.js";

const visibility = "Its sender and staff only; anyone else gets 404, as for a missing submission.";

export const submitSolution = defineRoute({
  name: "submitSolution",
  method: "post",
  path: "/submissions",
  summary: "Sends a solution for judging; 202 with the QUEUED submission.",
  description:
    "The body is a shtp.v1.SubmitSolutionRequest, or multipart/form-data with the message in the part `submission` " +
    `and the source as the file part \`source\` (UTF-8 text); either way at most ${SOURCE_MAX_BYTES} bytes of source ` +
    "(413 beyond). 404 for a task, contest or day challenge the caller cannot see; 422 outside the contest's " +
    "window, for a day other than today, a task not of that contest or day, or a language the task does not take; " +
    "429 with Retry-After over the caller's limits (SUBMISSIONS_PER_WINDOW per SUBMISSION_WINDOW_SECONDS and " +
    "SUBMISSIONS_PER_DAY, counted in the database for every server process). The row and its judging job are " +
    "written in one transaction; the submission stays QUEUED until a judge worker takes it (GET /judge/status).",
  access: "signedIn",
  body: SubmitBody,
  upload: { field: "source", maxBytes: SOURCE_MAX_BYTES, kinds: ["text"], messagePart: "submission", optional: true },
  response: Submission,
  successStatus: 202,
  errors: ["not_found", "failed_precondition", "rate_limited"],
  // The rate limiter counts on a pool connection of its own, so the transaction opens only after it.
  transactional: false,
  handler: async ({ body, file, actor, db, services }) => {
    const source = await submissionService.receivedSource(body.source, file?.path);
    const context = body.context;
    return presentSubmission(
      await submissionService.submitSolution(
        db,
        actor,
        {
          taskId: body.taskId,
          contestId: context?.$case === "contestId" ? context.value : undefined,
          challengeDay: context?.$case === "challengeDay" ? context.value : undefined,
          language: languageFromProto(body.language),
          source,
        },
        { zone: services.config.assignments.schoolTimeZone, throttle: services.submissionThrottle },
      ),
    );
  },
});

export const listSubmissions = defineRoute({
  name: "listSubmissions",
  method: "get",
  path: "/submissions",
  summary: "Submissions, newest first, by task, contest or user; a student's own only. Keyset-paged.",
  description:
    "Staff see everyone's; a student sees their own (a `userId` of someone else is 403). Lists leave out per-test " +
    "results; `GET /submissions/{id}` has them.",
  access: "signedIn",
  query: SubmissionListQuerySchema,
  response: ListSubmissionsResponse,
  handler: async ({ query, actor, db }) => {
    const page = await submissionService.listSubmissions(db, actor, query);
    return { items: page.items.map(presentSubmission), nextCursor: page.nextCursor };
  },
});

export const getSubmission = defineRoute({
  name: "getSubmission",
  method: "get",
  path: "/submissions/:id",
  summary: "One submission with its per-test results (ordinal, verdict, time, memory: never any test data).",
  description: visibility,
  access: "signedIn",
  params: SubmissionIdParamsSchema,
  response: Submission,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) =>
    presentSubmission(await submissionService.getSubmission(db, actor, params.id)),
});

export const getSubmissionSource = defineRoute({
  name: "getSubmissionSource",
  method: "get",
  path: "/submissions/:id/source",
  summary: "A submission's source code.",
  description: `${visibility} Sources are stored in the database, never as files.`,
  access: "signedIn",
  params: SubmissionIdParamsSchema,
  response: SubmissionSource,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) =>
    presentSource(params.id, await submissionService.getSource(db, actor, params.id)),
});

export const rejudgeSubmission = defineRoute({
  name: "rejudgeSubmission",
  method: "post",
  path: "/submissions/:id/rejudge",
  summary: "Sends a submission back to the queue as a new attempt; 202 with it QUEUED.",
  description:
    "The verdict and results are cleared and a job enters the queue in the same transaction. A worker still judging " +
    "the earlier attempt can no longer write its results.",
  access: staff,
  params: SubmissionIdParamsSchema,
  response: Submission,
  successStatus: 202,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) =>
    presentSubmission(await submissionService.rejudgeSubmission(db, actor, params.id)),
});

export const rejectSubmission = defineRoute({
  name: "rejectSubmission",
  method: "post",
  path: "/submissions/:id/reject",
  summary: "Sets a submission aside with a reason: the verdict stays, but it never counts; the student is told.",
  description: "409 when it is already rejected. The student receives a MESSAGE notification with the reason.",
  access: staff,
  params: SubmissionIdParamsSchema,
  body: RejectBody,
  response: Submission,
  errors: ["not_found", "conflict"],
  handler: async ({ params, body, actor, db }) =>
    presentSubmission(await submissionService.rejectSubmission(db, actor, params.id, body.reason)),
});

export const restoreSubmission = defineRoute({
  name: "restoreSubmission",
  method: "delete",
  path: "/submissions/:id/reject",
  summary: "Lifts a rejection: the submission counts again; the student is told.",
  description: "409 when it is not rejected.",
  access: staff,
  params: SubmissionIdParamsSchema,
  response: Submission,
  errors: ["not_found", "conflict"],
  handler: async ({ params, actor, db }) =>
    presentSubmission(await submissionService.restoreSubmission(db, actor, params.id)),
});

export const submissionRoutes = [
  listSubmissions,
  submitSolution,
  getSubmission,
  getSubmissionSource,
  rejudgeSubmission,
  rejectSubmission,
  restoreSubmission,
];
