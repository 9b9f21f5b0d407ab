import {
  ListTasksResponse,
  RejudgeResponse,
  Task,
  type TaskTestInput,
} from "../../../generated/shtp/v1/assignments.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import * as submissionService from "../submissions/service.js";
import { checkerFromProto, languageFromProto, presentTask } from "./presenter.js";
import {
  TASK_BODY_MAX_BYTES,
  TaskCreateBody,
  TaskIdParamsSchema,
  TaskListQuerySchema,
  TaskUpdateBody,
} from "./schema.js";
import * as taskService from "./service.js";

const visibility =
  "Staff see every task with every test. A student sees a task only through a day challenge of today or earlier " +
  "(in the school's time zone) or a started contest of their audience, and then only its demo tests; any other " +
  "task answers 404, as a missing one.";

const testsOf = (tests: readonly TaskTestInput[]): taskService.TestInput[] =>
  tests.map((test) => ({ input: test.input, output: test.output, demo: test.demo }));

export const createTask = defineRoute({
  name: "createTask",
  method: "post",
  path: "/tasks",
  summary: "Creates a programming task with its tests.",
  description:
    "timeLimitMs 100..10000 (default 1000), memoryLimitMb 16..1024 (default 256), at least one language, checker " +
    "LINES (default) or TOKENS. At most 100 tests, 8 MiB per input or output, 64 MiB in all; the request may be up " +
    `to ${TASK_BODY_MAX_BYTES} bytes (JSON escaping counts, so large test sets travel best as protobuf).`,
  access: staff,
  body: TaskCreateBody,
  maxBodyBytes: TASK_BODY_MAX_BYTES,
  response: Task,
  successStatus: 201,
  handler: async ({ body, actor, db }) =>
    presentTask(
      await taskService.createTask(db, actor, {
        title: body.title,
        statement: body.statement,
        timeLimitMs: body.timeLimitMs ?? 1000,
        memoryLimitMb: body.memoryLimitMb ?? 256,
        languages: body.languages.map(languageFromProto),
        checker: checkerFromProto(body.checker),
        tests: testsOf(body.tests),
      }),
    ),
});

export const listTasks = defineRoute({
  name: "listTasks",
  method: "get",
  path: "/tasks",
  summary: "Tasks, newest first, without their tests; `query` keeps titles that contain it. Keyset-paged.",
  access: staff,
  query: TaskListQuerySchema,
  response: ListTasksResponse,
  handler: async ({ query, db }) => {
    const page = await taskService.listTasks(db, query);
    return { items: page.items.map(presentTask), nextCursor: page.nextCursor };
  },
});

export const getTask = defineRoute({
  name: "getTask",
  method: "get",
  path: "/tasks/:id",
  summary: "One task with the tests the caller may see.",
  description: visibility,
  access: "signedIn",
  params: TaskIdParamsSchema,
  response: Task,
  errors: ["not_found"],
  handler: async ({ params, actor, db, services }) =>
    presentTask(await taskService.getTask(db, actor, params.id, services.config.assignments.schoolTimeZone)),
});

export const updateTask = defineRoute({
  name: "updateTask",
  method: "patch",
  path: "/tasks/:id",
  summary: "Changes a task (its author or an admin); absent fields are kept, present tests replace all of them.",
  description:
    "testsVersion rises when the tests sent differ from the stored ones. Earlier verdicts keep the version they " +
    "were judged against; `POST /tasks/{id}/rejudge` judges them again.",
  access: staff,
  params: TaskIdParamsSchema,
  body: TaskUpdateBody,
  maxBodyBytes: TASK_BODY_MAX_BYTES,
  response: Task,
  errors: ["not_found"],
  handler: async ({ params, body, actor, db, services }) =>
    presentTask(
      await taskService.updateTask(
        db,
        actor,
        params.id,
        {
          title: body.title,
          statement: body.statement,
          timeLimitMs: body.timeLimitMs,
          memoryLimitMb: body.memoryLimitMb,
          languages: body.languages?.items.map(languageFromProto),
          checker: body.checker === undefined ? undefined : checkerFromProto(body.checker),
          tests: body.tests && testsOf(body.tests.items),
        },
        services.config.assignments.schoolTimeZone,
      ),
    ),
});

export const deleteTask = defineRoute({
  name: "deleteTask",
  method: "delete",
  path: "/tasks/:id",
  summary: "Deletes a task (its author or an admin); 409 while submissions, contests or day challenges use it.",
  access: staff,
  params: TaskIdParamsSchema,
  errors: ["not_found", "conflict"],
  handler: async ({ params, actor, db, services }) =>
    taskService.deleteTask(db, actor, params.id, services.config.assignments.schoolTimeZone),
});

export const rejudgeTask = defineRoute({
  name: "rejudgeTask",
  method: "post",
  path: "/tasks/:id/rejudge",
  summary: "Sends every submission of a task back to the queue, each as a new attempt.",
  description:
    "Each submission goes back to QUEUED with its verdict cleared, and one job per submission enters the queue in " +
    "the same transaction. A worker still judging an earlier attempt can no longer write its results.",
  access: staff,
  params: TaskIdParamsSchema,
  response: RejudgeResponse,
  successStatus: 202,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) => {
    await taskService.assertMayRejudge(db, actor, params.id);
    return { queued: await submissionService.rejudgeTask(db, params.id) };
  },
});

export const taskRoutes = [listTasks, createTask, getTask, updateTask, deleteTask, rejudgeTask];
