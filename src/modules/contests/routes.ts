import {
  Contest,
  ContestResult,
  ContestResults,
  ListContestsResponse,
} from "../../../generated/shtp/v1/assignments.js";
import type { EventAudience } from "../../../generated/shtp/v1/events.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import { presentContest, presentResult } from "./presenter.js";
import {
  ContestCreateBody,
  ContestIdParamsSchema,
  ContestListQuerySchema,
  ContestResultsQuerySchema,
  ContestUpdateBody,
} from "./schema.js";
import * as contestService from "./service.js";

const visibility =
  "Staff see every contest. A student sees a contest once it has started, if its audience holds their group or " +
  "learning class (an empty audience means every student); any other contest answers 404, as a missing one.";

const marksRule =
  "Marks are thresholds of distinct tasks solved (accepted, not rejected, sent before the deadline): mark5 ≥ mark4 ≥ " +
  "mark3 ≥ 1, each at most the number of tasks; fewer than mark3 is a 2.";

/** The audience as the service stores it; absent means everyone. */
const audienceOf = (audience: EventAudience | undefined): contestService.ContestAudience => ({
  groupIds: audience?.groupIds ?? [],
  learningClasses: audience?.learningClasses ?? [],
});

/** The body rules required these (400 otherwise), so an absent one here is a bug, not client input. */
function present<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("A validated field is missing.");
  return value;
}

export const listContests = defineRoute({
  name: "listContests",
  method: "get",
  path: "/contests",
  summary: "The contests the caller sees, latest start first; a student's carry their solvedCount and mark.",
  description: `${visibility} Keyset-paged: pass nextCursor as \`cursor\`.`,
  access: "signedIn",
  query: ContestListQuerySchema,
  response: ListContestsResponse,
  handler: async ({ query, actor, db }) => {
    const page = await contestService.listContests(db, actor, query);
    return { items: page.items.map(presentContest), nextCursor: page.nextCursor };
  },
});

export const createContest = defineRoute({
  name: "createContest",
  method: "post",
  path: "/contests",
  summary: "Creates a homework contest: its tasks in order, its window, its audience and its marks.",
  description:
    `deadline must be after startsAt; at least one task, each once (at most 50). ${marksRule} An unknown group or ` +
    "task is 422 naming `audience.groupIds.<i>` or `taskIds.<i>`.",
  access: staff,
  body: ContestCreateBody,
  response: Contest,
  successStatus: 201,
  errors: ["failed_precondition"],
  handler: async ({ body, actor, db }) =>
    presentContest(
      await contestService.createContest(db, actor, {
        title: body.title,
        description: body.description,
        startsAt: present(body.startsAt),
        deadline: present(body.deadline),
        audience: audienceOf(body.audience),
        taskIds: body.taskIds,
        marks: present(body.marks),
      }),
    ),
});

export const getContest = defineRoute({
  name: "getContest",
  method: "get",
  path: "/contests/:id",
  summary: "One contest as the caller sees it.",
  description: visibility,
  access: "signedIn",
  params: ContestIdParamsSchema,
  response: Contest,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) => presentContest(await contestService.getContest(db, actor, params.id)),
});

export const updateContest = defineRoute({
  name: "updateContest",
  method: "patch",
  path: "/contests/:id",
  summary: "Changes a contest (its author or an admin); absent fields are kept, present lists replace the old ones.",
  description:
    `The rules apply to the result. ${marksRule} A task that already has solutions in the contest cannot be taken ` +
    "out (409).",
  access: staff,
  params: ContestIdParamsSchema,
  body: ContestUpdateBody,
  response: Contest,
  errors: ["not_found", "failed_precondition", "conflict"],
  handler: async ({ params, body, actor, db }) =>
    presentContest(
      await contestService.updateContest(db, actor, params.id, {
        title: body.title,
        description: body.description,
        startsAt: body.startsAt,
        deadline: body.deadline,
        audience: body.audience && audienceOf(body.audience),
        taskIds: body.taskIds?.items,
        marks: body.marks,
      }),
    ),
});

export const deleteContest = defineRoute({
  name: "deleteContest",
  method: "delete",
  path: "/contests/:id",
  summary: "Deletes a contest (its author or an admin); 409 once solutions were sent to it.",
  access: staff,
  params: ContestIdParamsSchema,
  errors: ["not_found", "conflict"],
  handler: async ({ params, actor, db }) => contestService.deleteContest(db, actor, params.id),
});

export const getContestResults = defineRoute({
  name: "getContestResults",
  method: "get",
  path: "/contests/:id/results",
  summary:
    "Every student of the audience (and any student who sent a solution): solved tasks, mark, per-task attempts.",
  description:
    `${marksRule} Per task: attempts (not rejected, before the deadline), whether solved, and the best verdict ` +
    "(accepted first, then most tests passed, then the earliest). In name order, keyset-paged; each page is one " +
    "SQL statement, whatever the number of students and submissions.",
  access: staff,
  params: ContestIdParamsSchema,
  query: ContestResultsQuerySchema,
  response: ContestResults,
  errors: ["not_found"],
  handler: async ({ params, query, actor, db }) => {
    const page = await contestService.contestResults(db, actor, params.id, query);
    return { contestId: params.id, items: page.items.map(presentResult), nextCursor: page.nextCursor };
  },
});

export const getMyContestResult = defineRoute({
  name: "getMyContestResult",
  method: "get",
  path: "/contests/:id/me",
  summary: "The calling student's own row of a contest's results.",
  description: `${visibility} ${marksRule}`,
  access: ["student"],
  params: ContestIdParamsSchema,
  response: ContestResult,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) => presentResult(await contestService.myResult(db, actor, params.id)),
});

export const contestRoutes = [
  listContests,
  createContest,
  getContest,
  updateContest,
  deleteContest,
  getContestResults,
  getMyContestResult,
];
