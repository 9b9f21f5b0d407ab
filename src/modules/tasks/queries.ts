import { QueryTypes } from "sequelize";
import { execute, select, selectPrepared, type Db } from "../../db/db.js";
import { studentSeesTask } from "./policy.js";

/** The languages a task may take, as stored. */
export const languageNames = ["python", "cpp"] as const;
export type LanguageName = (typeof languageNames)[number];

/** How outputs are compared, as stored. */
export const checkerNames = ["lines", "tokens"] as const;
export type CheckerName = (typeof checkerNames)[number];

/** One test of a task. */
export interface TaskTestRow {
  ordinal: number;
  input: string;
  output: string;
  demo: boolean;
}

/** The columns a client sets on a task (tests apart). */
export interface TaskFields {
  title: string;
  statement: string;
  timeLimitMs: number;
  memoryLimitMb: number;
  languages: LanguageName[];
  checker: CheckerName;
}

/** A task's own columns. */
export interface TaskRow extends TaskFields {
  id: string;
  /** Creation order as decimal text: the keyset of the staff list. */
  seq: string;
  testsVersion: number;
  testsDigest: string;
  testCount: number;
  authorId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A task with the tests a read asked for. */
export interface TaskWithTests extends TaskRow {
  tests: TaskTestRow[];
}

/** A task as one caller loaded it: whether they may see it, decided in SQL. */
export interface LoadedTask extends TaskWithTests {
  /** Staff see every task; a student one of a challenge of today or earlier, or of a started contest of theirs. */
  visible: boolean;
}

/** Which tests a read includes: all (staff), the demo ones (anyone who sees the task), or none (lists). */
export type TestSelection = "all" | "demo" | "none";

/** The columns of TaskRow, from `tasks t`. */
const taskColumns = `t.id, t.seq::text AS seq, t.title, t.statement, t.time_limit_ms AS "timeLimitMs",
  t.memory_limit_mb AS "memoryLimitMb", t.languages, t.checker, t.tests_version AS "testsVersion",
  t.tests_digest AS "testsDigest", t.test_count AS "testCount", t.author_id AS "authorId",
  t.created_at AS "createdAt", t.updated_at AS "updatedAt"`;

/**
 * The selected tests of `t` as one JSON array in the same statement (so they match the row's
 * tests_version). With "none" no test data is read at all.
 */
function testsColumn(selection: TestSelection): string {
  if (selection === "none") return `'[]'::json AS tests`;
  return `(SELECT coalesce(json_agg(json_build_object('ordinal', x.ordinal, 'input', x.input, 'output', x.output,
            'demo', x.demo) ORDER BY x.ordinal), '[]'::json)
            FROM task_tests x WHERE x.task_id = t.id ${selection === "demo" ? "AND x.demo" : ""}) AS tests`;
}

/**
 * One task with its tests and whether the caller sees it.
 * @param viewer - the caller (`staff` sees everything) or nobody
 * @param zone - the school's time zone, for "a challenge of today or earlier" (staff need none)
 * @param options.tests - which tests to include; a caller who does not see the task gets none
 * @param options.lock - lock the row (FOR UPDATE) for a change
 * @returns the task, or null when there is none
 */
export async function findTask(
  db: Db,
  id: string,
  viewer: { id: string | null; staff: boolean },
  zone: string | undefined,
  options: { tests: TestSelection; lock?: boolean },
): Promise<LoadedTask | null> {
  if (!viewer.staff && zone === undefined) throw new Error("What a student sees depends on the school's time zone.");
  const visible = viewer.staff ? "TRUE" : viewer.id ? studentSeesTask : "FALSE";
  // Prepared: the visibility test (started contests, day challenges) planned in longer than it ran.
  const [row] = await selectPrepared<LoadedTask>(
    db,
    `SELECT ${taskColumns}, ${testsColumn(options.tests)}, ${visible} AS visible
       FROM tasks t WHERE t.id = :id ${options.lock && db.transaction ? "FOR UPDATE OF t" : ""}`,
    { id, viewerId: viewer.id, zone: zone ?? null },
  );
  if (!row) return null;
  // Nothing of an invisible task's tests leaves this function.
  return row.visible ? row : { ...row, tests: [] };
}

/**
 * A page of tasks, newest first, keyset-paged on the unique seq index; `query` keeps titles that
 * contain it, in any case.
 * @param before - the seq the previous page ended on
 * @param limit - how many rows to read
 */
export function tasksPage(
  db: Db,
  filter: { query?: string },
  before: string | undefined,
  limit: number,
): Promise<TaskWithTests[]> {
  return select<TaskWithTests>(
    db,
    `SELECT ${taskColumns}, ${testsColumn("none")} FROM tasks t
      WHERE (CAST(:before AS bigint) IS NULL OR t.seq < CAST(:before AS bigint))
        ${filter.query ? "AND strpos(lower(t.title), lower(:query)) > 0" : ""}
      ORDER BY t.seq DESC
      LIMIT :limit`,
    { before: before ?? null, query: filter.query ?? "", limit },
  );
}

/** @returns the tasks of `ids` (any order), without tests */
export function tasksByIds(db: Db, ids: readonly string[]): Promise<TaskWithTests[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return select<TaskWithTests>(
    db,
    `SELECT ${taskColumns}, ${testsColumn("none")} FROM tasks t WHERE t.id = ANY(CAST(ARRAY[:ids] AS uuid[]))`,
    { ids: [...ids] },
  );
}

/** @returns the new task's id (its tests follow with replaceTests) */
export async function insertTask(db: Db, fields: TaskFields, authorId: string): Promise<string> {
  const { rows } = await execute<{ id: string }>(
    db,
    `INSERT INTO tasks (title, statement, time_limit_ms, memory_limit_mb, languages, checker, author_id)
     VALUES (:title, :statement, :timeLimitMs, :memoryLimitMb, CAST(ARRAY[:languages] AS text[]), :checker, :authorId)
     RETURNING id`,
    { ...fields, authorId },
  );
  const [row] = rows;
  if (!row) throw new Error("INSERT … RETURNING gave no row.");
  return row.id;
}

/** Writes a loaded task's fields. */
export async function updateTaskFields(db: Db, id: string, fields: TaskFields): Promise<void> {
  await execute(
    db,
    `UPDATE tasks SET title = :title, statement = :statement, time_limit_ms = :timeLimitMs,
            memory_limit_mb = :memoryLimitMb, languages = CAST(ARRAY[:languages] AS text[]), checker = :checker,
            updated_at = now()
      WHERE id = :id`,
    { ...fields, id },
  );
}

/**
 * Replaces every test of a task in two statements (the tests travel as bound parameters, never as
 * SQL text, whatever their size) and records the new digest; `bumpVersion` raises tests_version.
 * The task_tests triggers then recount the tests and their bytes, and the database refuses more than
 * 100 tests or 64 MiB.
 */
export async function replaceTests(
  db: Db,
  taskId: string,
  tests: readonly { input: string; output: string; demo: boolean }[],
  change: { digest: string; bumpVersion: boolean },
): Promise<void> {
  await db.sequelize.query("DELETE FROM task_tests WHERE task_id = $1", {
    bind: [taskId],
    transaction: db.transaction,
  });
  if (tests.length > 0) {
    await db.sequelize.query(
      `INSERT INTO task_tests (task_id, ordinal, input, output, demo)
       SELECT $1, given.ordinal, given.input, given.output, given.demo
         FROM unnest($2::text[], $3::text[], $4::boolean[]) WITH ORDINALITY AS given (input, output, demo, ordinal)`,
      {
        bind: [taskId, tests.map((test) => test.input), tests.map((test) => test.output), tests.map((t) => t.demo)],
        transaction: db.transaction,
        type: QueryTypes.INSERT,
      },
    );
  }
  await execute(
    db,
    `UPDATE tasks SET tests_digest = :digest, updated_at = now()
            ${change.bumpVersion ? ", tests_version = tests_version + 1" : ""}
      WHERE id = :taskId`,
    { taskId, digest: change.digest },
  );
}

/** What still refers to a task, so deleting it would lose history. */
export interface TaskReferences {
  submissions: boolean;
  contests: boolean;
  challenges: boolean;
}

/** @returns whether submissions, contests or day challenges refer to the task */
export async function referencesOf(db: Db, taskId: string): Promise<TaskReferences> {
  const [row] = await select<TaskReferences>(
    db,
    `SELECT EXISTS (SELECT 1 FROM submissions WHERE task_id = :taskId) AS submissions,
            EXISTS (SELECT 1 FROM contest_tasks WHERE task_id = :taskId) AS contests,
            EXISTS (SELECT 1 FROM day_challenges WHERE task_id = :taskId) AS challenges`,
    { taskId },
  );
  return row ?? { submissions: false, contests: false, challenges: false };
}

/** Deletes a task and its tests (the foreign keys refuse it while anything refers to it). */
export async function deleteTaskRow(db: Db, id: string): Promise<void> {
  await execute(db, "DELETE FROM tasks WHERE id = :id", { id });
}

/** @returns the ids among `ids` that name a task, lowercased as PostgreSQL prints uuids */
export async function existingTaskIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await select<{ id: string }>(
    db,
    `SELECT id::text AS id FROM tasks WHERE id = ANY(CAST(ARRAY[:ids] AS uuid[]))${db.transaction ? " FOR KEY SHARE" : ""}`,
    { ids: [...ids] },
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * The demo teacher and the demo group, by the email and name the demo accounts were made with.
 * @returns their ids, or null when either is missing
 */
export async function demoCast(
  db: Db,
  teacherEmail: string,
  groupName: string,
): Promise<{ teacherId: string; groupId: string } | null> {
  const [row] = await select<{ teacherId: string | null; groupId: string | null }>(
    db,
    `SELECT (SELECT id FROM users WHERE email = :teacherEmail AND role = 'teacher') AS "teacherId",
            (SELECT id FROM groups WHERE name = :groupName) AS "groupId"`,
    { teacherEmail, groupName },
  );
  return row?.teacherId && row.groupId ? { teacherId: row.teacherId, groupId: row.groupId } : null;
}
