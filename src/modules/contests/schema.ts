import { z } from "zod";
import {
  CreateContestRequest,
  UpdateContestRequest,
  type ContestMarks,
} from "../../../generated/shtp/v1/assignments.js";
import { requiredText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { each, required, requestBody, type Report } from "../../validation/rules.js";

/** The most tasks a contest holds. */
export const CONTEST_TASKS_MAX = 50;

const title = requiredText(200);
const description = z.string().max(20_000);
const threshold = z.number().int().min(1, "At least 1.").max(CONTEST_TASKS_MAX);
const marks = { mark5: threshold, mark4: threshold, mark3: threshold };
const taskIds = each(uuidField("task"), { max: CONTEST_TASKS_MAX });

/** The events' audience rules: group ids (checked against the groups by the service) and classes. */
const audience = {
  groupIds: each(uuidField("group"), { max: 100 }),
  learningClasses: each(requiredText(16), { max: 100 }),
};

/** A violation of a contest's rules over merged values: the field to blame and why. */
export interface ContestViolation {
  field: string;
  description: string;
}

/**
 * The rules that tie a contest's fields together, shared by create (here) and update (the service,
 * over the merged contest): the deadline after the start, tasks each once and at least one, and
 * marks 5 ≥ 4 ≥ 3, each at most the number of tasks.
 * @param prefix - the path of the task list (`taskIds` or `taskIds.items`)
 */
export function contestViolations(
  contest: { startsAt: Date; deadline: Date; taskIds: readonly string[]; marks: ContestMarks },
  prefix = "taskIds",
): ContestViolation[] {
  const violations: ContestViolation[] = [];
  if (contest.deadline.getTime() <= contest.startsAt.getTime()) {
    violations.push({ field: "deadline", description: "Must be after startsAt." });
  }
  const ids = contest.taskIds.map((id) => id.toLowerCase());
  if (ids.length === 0) violations.push({ field: prefix, description: "At least one task." });
  else if (new Set(ids).size !== ids.length) violations.push({ field: prefix, description: "Each task once." });
  const { mark5, mark4, mark3 } = contest.marks;
  if (!(mark5 >= mark4 && mark4 >= mark3)) {
    violations.push({ field: "marks", description: "mark5 ≥ mark4 ≥ mark3 (distinct tasks solved for each mark)." });
  }
  if (mark5 > ids.length) {
    violations.push({ field: "marks.mark5", description: `At most the number of tasks (${ids.length}).` });
  }
  return violations;
}

const reportAll = (violations: readonly ContestViolation[], report: Report) =>
  violations.forEach((violation) => report(violation.field, violation.description));

export const ContestCreateBody = requestBody(
  CreateContestRequest,
  { title, description, startsAt: required(), deadline: required(), audience, taskIds, marks: required(marks) },
  (contest, report) => {
    if (!contest.startsAt || !contest.deadline || !contest.marks) return;
    reportAll(
      contestViolations({
        startsAt: contest.startsAt,
        deadline: contest.deadline,
        taskIds: contest.taskIds,
        marks: contest.marks,
      }),
      report,
    );
  },
);

export const ContestUpdateBody = requestBody(UpdateContestRequest, {
  title,
  description,
  audience,
  taskIds: { items: taskIds },
  marks,
});

export const ContestListQuerySchema = z.strictObject({ ...pageQuery });
export type ContestListQuery = z.infer<typeof ContestListQuerySchema>;

export const ContestResultsQuerySchema = z.strictObject({ ...pageQuery });
export type ContestResultsQuery = z.infer<typeof ContestResultsQuerySchema>;

export const ContestIdParamsSchema = z.strictObject({ id: uuidField("contest") });

/** A timestamptz as UTC text with microseconds, and an id: the keyset of the contest list. */
export const startCursor = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), z.uuid()]);

/** The keyset of results in name order: last name, first name, id. */
export const nameCursor = z.tuple([z.string(), z.string(), z.uuid()]);
