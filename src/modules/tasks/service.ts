import { createHash } from "node:crypto";
import { isStaff, type Actor } from "../../auth/roles.js";
import type { Db, TransactionDb } from "../../db/db.js";
import { ConflictError, NotFoundError } from "../../errors/index.js";
import { seqCursor } from "../../validation/fields.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertReferencesKnown, type Reference } from "../../validation/references.js";
import { authorize, type TaskAction } from "./policy.js";
import {
  deleteTaskRow,
  existingTaskIds,
  findTask,
  insertTask,
  referencesOf,
  replaceTests,
  tasksByIds,
  tasksPage,
  updateTaskFields,
  type LoadedTask,
  type TaskFields,
  type TaskWithTests,
} from "./queries.js";
import type { TaskListQuery } from "./schema.js";

export type { CheckerName, LanguageName, TaskWithTests } from "./queries.js";

/** A test as staff send it; its ordinal is its position. */
export interface TestInput {
  input: string;
  output: string;
  demo: boolean;
}

/** Everything a client sets on a task. */
export interface TaskInput extends TaskFields {
  tests: TestInput[];
}

/** A PATCH: absent = keep, present = set; present tests replace all of them. */
export type TaskChanges = Partial<TaskInput>;

/** The digest that tells whether a new set of tests differs from the stored one. */
const digestOf = (tests: readonly TestInput[]): string =>
  createHash("sha256")
    .update(JSON.stringify(tests.map((test) => [test.input, test.output, test.demo])))
    .digest("hex");

/**
 * Loads a task for an action of the caller, with the tests the caller may receive (every test for
 * staff, the demo ones for students), and applies the policy.
 * @param options.zone - the school's time zone (what a student sees depends on today's date)
 * @throws AppError not_found (missing or not visible), permission_denied
 */
async function loadFor(
  db: Db,
  actor: Actor,
  id: string,
  action: TaskAction,
  options: { zone?: string; lock?: boolean; tests?: "none" } = {},
): Promise<LoadedTask> {
  const staff = isStaff(actor);
  const task = await findTask(db, id, { id: actor.id, staff }, options.zone, {
    tests: options.tests ?? (staff ? "all" : "demo"),
    lock: options.lock,
  });
  if (!task) throw NotFoundError("The task");
  authorize(actor, action, task);
  return task;
}

/**
 * Creates a task with its tests.
 * @returns the task as its author sees it (every test)
 */
export async function createTask(db: TransactionDb, actor: Actor, input: TaskInput): Promise<TaskWithTests> {
  const { tests, ...fields } = input;
  const id = await insertTask(db, fields, actor.id);
  await replaceTests(db, id, tests, { digest: digestOf(tests), bumpVersion: false });
  return loadFor(db, actor, id, "read");
}

/**
 * A page of tasks, newest first, without tests.
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listTasks(db: Db, query: TaskListQuery): Promise<{ items: TaskWithTests[]; nextCursor: string }> {
  const before = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : undefined;
  const rows = await tasksPage(db, { query: query.query }, before, query.limit + 1);
  return pageOf(rows, query.limit, (row) => [row.seq]);
}

/**
 * One task as the caller may see it: staff every test, a student the demo ones of a task they see.
 * @param zone - the school's time zone
 * @throws AppError not_found
 */
export const getTask = (db: Db, actor: Actor, id: string, zone: string): Promise<TaskWithTests> =>
  loadFor(db, actor, id, "read", { zone });

/**
 * Changes a task (its author or an admin). Present tests replace every test; tests_version rises
 * only when they differ from the stored ones, so a client that sends the whole task back does not
 * make earlier verdicts look stale.
 * @throws AppError not_found, permission_denied
 */
export async function updateTask(
  db: TransactionDb,
  actor: Actor,
  id: string,
  changes: TaskChanges,
  zone: string,
): Promise<TaskWithTests> {
  const task = await loadFor(db, actor, id, "edit", { zone, lock: true, tests: "none" });
  await updateTaskFields(db, id, {
    title: changes.title ?? task.title,
    statement: changes.statement ?? task.statement,
    timeLimitMs: changes.timeLimitMs ?? task.timeLimitMs,
    memoryLimitMb: changes.memoryLimitMb ?? task.memoryLimitMb,
    languages: changes.languages ?? task.languages,
    checker: changes.checker ?? task.checker,
  });
  if (changes.tests) {
    const digest = digestOf(changes.tests);
    if (digest !== task.testsDigest) await replaceTests(db, id, changes.tests, { digest, bumpVersion: true });
  }
  return loadFor(db, actor, id, "read", { zone });
}

/**
 * Deletes a task (its author or an admin) with its tests. A task that submissions, contests or day
 * challenges refer to stays: they are history (the foreign keys refuse it too).
 * @throws AppError not_found, permission_denied, conflict
 */
export async function deleteTask(db: TransactionDb, actor: Actor, id: string, zone: string): Promise<void> {
  await loadFor(db, actor, id, "delete", { zone, lock: true, tests: "none" });
  const references = await referencesOf(db, id);
  const holders = [
    references.submissions && "submissions",
    references.contests && "contests",
    references.challenges && "day challenges",
  ].filter(Boolean);
  if (holders.length > 0) throw ConflictError(`The task is used by ${holders.join(", ")}; it cannot be deleted.`);
  await deleteTaskRow(db, id);
}

/**
 * Checks the caller may rejudge a task's submissions (any staff member, on a task that exists).
 * @throws AppError not_found
 */
export async function assertMayRejudge(db: Db, actor: Actor, id: string): Promise<void> {
  await loadFor(db, actor, id, "rejudge", { tests: "none" });
}

/** What a submission needs to know of its task. */
export interface SubmittableTask {
  id: string;
  title: string;
  languages: TaskFields["languages"];
  testCount: number;
}

/**
 * The task a caller may send a solution to: one they see (staff: any).
 * @param zone - the school's time zone
 * @throws AppError not_found
 */
export async function taskForSubmission(db: Db, actor: Actor, id: string, zone: string): Promise<SubmittableTask> {
  const task = await loadFor(db, actor, id, "read", { zone, tests: "none" });
  return { id: task.id, title: task.title, languages: task.languages, testCount: task.testCount };
}

/**
 * A task with its demo tests only, for a day challenge (whose own rules decide who sees it).
 * @returns the task, or null when there is none
 */
export async function taskWithDemoTests(db: Db, id: string): Promise<TaskWithTests | null> {
  return findTask(db, id, { id: null, staff: true }, undefined, { tests: "demo" });
}

/**
 * Tasks by id without their tests, for lists of other things (day challenges).
 * @returns id → task, for the ids that name one
 */
export async function taskSummaries(db: Db, ids: readonly string[]): Promise<Map<string, TaskWithTests>> {
  return new Map((await tasksByIds(db, [...new Set(ids)])).map((task) => [task.id, task]));
}

/**
 * The "these tasks exist" check of day challenges and contests: a request naming a task that does
 * not exist breaks a rule, so it is 422 with the field that named it. Inside a transaction the tasks
 * stay locked against deletion until it commits.
 * @param tasks - each id with the request field that named it (`taskId`, `taskIds.2`)
 * @throws AppError failed_precondition with one violation per unknown task
 */
export async function assertTasksExist(db: Db, tasks: readonly Reference[]): Promise<void> {
  const known = await existingTaskIds(
    db,
    tasks.map((task) => task.id),
  );
  assertReferencesKnown(tasks, known, "task");
}
