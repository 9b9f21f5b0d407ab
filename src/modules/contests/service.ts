import { isStaff, type Actor } from "../../auth/roles.js";
import type { Db, TransactionDb } from "../../db/db.js";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertGroupsExist } from "../groups/service.js";
import { assertTasksExist } from "../tasks/service.js";
import { authorize, type ContestAction } from "./policy.js";
import {
  contestHasSubmissions,
  contestsPage,
  deleteContestRow,
  findContest,
  insertContest,
  replaceContestTasks,
  resultRows,
  tasksWithSubmissions,
  updateContestColumns,
  type ContestRow,
  type ResultRow,
} from "./queries.js";
import {
  contestViolations,
  nameCursor,
  startCursor,
  type ContestListQuery,
  type ContestResultsQuery,
} from "./schema.js";

export type { ContestRow, ResultRow, TaskResultRow } from "./queries.js";

/** Who a contest is for; both empty means every student. */
export interface ContestAudience {
  groupIds: string[];
  learningClasses: string[];
}

/** Everything a client sets on a contest. */
export interface ContestFields {
  title: string;
  description: string;
  startsAt: Date;
  deadline: Date;
  audience: ContestAudience;
  /** In order. */
  taskIds: string[];
  marks: { mark5: number; mark4: number; mark3: number };
}

/** A PATCH: absent = keep, present = set (a present audience or task list replaces the old one). */
export type ContestChanges = Partial<ContestFields>;

const viewerOf = (actor: Actor) => ({ id: actor.id, staff: isStaff(actor) });

/**
 * Loads a contest for an action of the caller and applies the policy.
 * @throws AppError not_found (missing or not visible), permission_denied
 */
async function loadFor(
  db: Db,
  actor: Actor,
  id: string,
  action: ContestAction,
  options: { lock?: boolean; standing?: boolean } = {},
): Promise<ContestRow> {
  const contest = await findContest(db, id, viewerOf(actor), options);
  if (!contest) throw NotFoundError("The contest");
  authorize(actor, action, contest);
  return contest;
}

/** Distinct values in their first order, ids lowercased as PostgreSQL prints uuids. */
const distinct = (values: readonly string[]) => [...new Set(values)];

/** The groups and tasks a contest names must exist (422 naming the field); they stay locked until commit. */
async function assertReferencesExist(db: Db, changes: ContestChanges, taskIdsField: string): Promise<void> {
  if (changes.audience) {
    await assertGroupsExist(
      db,
      changes.audience.groupIds.map((id, index) => ({ id, field: `audience.groupIds.${index}` })),
    );
  }
  if (changes.taskIds) {
    await assertTasksExist(
      db,
      changes.taskIds.map((id, index) => ({ id, field: `${taskIdsField}.${index}` })),
    );
  }
}

const columnsOf = (fields: ContestFields) => ({
  title: fields.title,
  description: fields.description,
  startsAt: fields.startsAt,
  deadline: fields.deadline,
  groupIds: distinct(fields.audience.groupIds.map((id) => id.toLowerCase())),
  learningClasses: distinct(fields.audience.learningClasses),
  ...fields.marks,
});

/**
 * Creates a contest with its tasks in order.
 * @throws AppError failed_precondition for an unknown group or task
 */
export async function createContest(db: TransactionDb, actor: Actor, fields: ContestFields): Promise<ContestRow> {
  await assertReferencesExist(db, fields, "taskIds");
  const id = await insertContest(db, columnsOf(fields), actor.id);
  await replaceContestTasks(db, id, fields.taskIds);
  return loadFor(db, actor, id, "read");
}

/**
 * The contests the caller sees, latest start first: staff all; a student their audience's started
 * contests, each with their own solved count and mark.
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listContests(
  db: Db,
  actor: Actor,
  query: ContestListQuery,
): Promise<{ items: ContestRow[]; nextCursor: string }> {
  const after = query.cursor ? decodeCursor(query.cursor, startCursor) : undefined;
  const rows = await contestsPage(db, viewerOf(actor), after, query.limit + 1);
  return pageOf(rows, query.limit, (row) => [row.startsKey, row.id]);
}

/**
 * One contest as the caller sees it.
 * @throws AppError not_found
 */
export const getContest = (db: Db, actor: Actor, id: string): Promise<ContestRow> => loadFor(db, actor, id, "read");

/**
 * Changes a contest (its author or an admin). The rules hold for the merged contest; a task that
 * already has solutions in it cannot be taken out (409: the solutions refer to it).
 * @throws AppError not_found, permission_denied, invalid_argument, failed_precondition, conflict
 */
export async function updateContest(
  db: TransactionDb,
  actor: Actor,
  id: string,
  changes: ContestChanges,
): Promise<ContestRow> {
  const contest = await loadFor(db, actor, id, "edit", { lock: true });
  const current = contest.tasks.map((task) => task.taskId);
  const merged: ContestFields = {
    title: changes.title ?? contest.title,
    description: changes.description ?? contest.description,
    startsAt: changes.startsAt ?? contest.startsAt,
    deadline: changes.deadline ?? contest.deadline,
    audience: changes.audience ?? { groupIds: contest.audienceGroupIds, learningClasses: contest.audienceClasses },
    taskIds: changes.taskIds ?? current,
    marks: changes.marks ?? { mark5: contest.mark5, mark4: contest.mark4, mark3: contest.mark3 },
  };
  const violations = contestViolations(merged, "taskIds.items");
  if (violations.length > 0) throw InvalidArgumentError("The contest's fields do not fit together.", violations);
  await assertReferencesExist(db, changes, "taskIds.items");
  if (changes.taskIds) {
    const kept = new Set(merged.taskIds.map((taskId) => taskId.toLowerCase()));
    const removed = current.filter((taskId) => !kept.has(taskId.toLowerCase()));
    const used = await tasksWithSubmissions(db, id, removed);
    if (used.length > 0) throw ConflictError("Solutions were sent to a task being removed; it must stay.");
  }
  await updateContestColumns(db, id, columnsOf(merged));
  if (changes.taskIds) await replaceContestTasks(db, id, merged.taskIds);
  return loadFor(db, actor, id, "read");
}

/**
 * Deletes a contest (its author or an admin), unless solutions were sent to it.
 * @throws AppError not_found, permission_denied, conflict
 */
export async function deleteContest(db: TransactionDb, actor: Actor, id: string): Promise<void> {
  await loadFor(db, actor, id, "delete", { lock: true });
  if (await contestHasSubmissions(db, id)) {
    throw ConflictError("Solutions were sent to the contest; it cannot be deleted.");
  }
  await deleteContestRow(db, id);
}

/**
 * A page of a contest's results (staff), in name order, from one statement.
 * @throws AppError not_found, invalid_argument (cursor)
 */
export async function contestResults(
  db: Db,
  actor: Actor,
  id: string,
  query: ContestResultsQuery,
): Promise<{ items: ResultRow[]; nextCursor: string }> {
  await loadFor(db, actor, id, "results");
  const after = query.cursor ? decodeCursor(query.cursor, nameCursor) : undefined;
  const rows = await resultRows(db, id, { after, limit: query.limit + 1 });
  return pageOf(rows, query.limit, (row) => [row.lastName, row.firstName, row.id]);
}

/**
 * The calling student's own row of a contest they see.
 * @throws AppError not_found
 */
export async function myResult(db: Db, actor: Actor, id: string): Promise<ResultRow> {
  await loadFor(db, actor, id, "ownResult", { standing: false });
  const [row] = await resultRows(db, id, { onlyUserId: actor.id, limit: 1 });
  if (!row) throw NotFoundError("Your result");
  return row;
}

/**
 * A contest a solution is sent to: one the caller sees, with its tasks and whether it is open now.
 * @throws AppError not_found
 */
export async function contestForSubmission(
  db: Db,
  actor: Actor,
  id: string,
): Promise<{ taskIds: string[]; open: boolean }> {
  const contest = await loadFor(db, actor, id, "read", { standing: false });
  return { taskIds: contest.tasks.map((task) => task.taskId.toLowerCase()), open: contest.open };
}
