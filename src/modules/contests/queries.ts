import { arrayParam, execute, select, selectPrepared, type Db } from "../../db/db.js";
import type { VerdictName } from "../submissions/service.js";
import { studentSeesContest } from "./policy.js";

/** A contest as one caller loaded it. */
export interface ContestRow {
  id: string;
  title: string;
  description: string;
  startsAt: Date;
  deadline: Date;
  audienceGroupIds: string[];
  audienceClasses: string[];
  mark5: number;
  mark4: number;
  mark3: number;
  authorId: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** In order. */
  tasks: { taskId: string; title: string }[];
  /** starts_at at full precision, the keyset of lists. */
  startsKey: string;
  /** Decided in SQL for the caller (always true for staff). */
  visible: boolean;
  /** Between its start and its deadline, by the database's clock. */
  open: boolean;
  /** The caller's distinct solved tasks and mark; null for staff, and when the load left them out. */
  solvedCount: number | null;
  mark: number | null;
}

/** Who reads: staff see everything and have no standing of their own. */
export interface Viewer {
  id: string;
  staff: boolean;
}

/**
 * The columns of ContestRow from `contests c` (binds `:viewerId`): its tasks in order, and with
 * `standing` the student's own solved tasks and mark, from mineJoin.
 */
const contestColumns = (
  viewer: Viewer,
  standing: boolean,
) => `c.id, c.title, c.description, c.starts_at AS "startsAt", c.deadline,
  c.audience_group_ids::text[] AS "audienceGroupIds", c.audience_classes AS "audienceClasses",
  c.mark5, c.mark4, c.mark3, c.author_id AS "authorId", c.created_at AS "createdAt", c.updated_at AS "updatedAt",
  to_char(c.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "startsKey",
  (SELECT coalesce(json_agg(json_build_object('taskId', ct.task_id, 'title', t.title) ORDER BY ct.position), '[]'::json)
     FROM contest_tasks ct JOIN tasks t ON t.id = ct.task_id WHERE ct.contest_id = c.id) AS tasks,
  ${viewer.staff ? "TRUE" : studentSeesContest} AS visible,
  now() >= c.starts_at AND now() <= c.deadline AS open,
  ${
    standing
      ? `mine.solved AS "solvedCount", contest_mark(mine.solved, c.mark5, c.mark4, c.mark3) AS mark`
      : `NULL::int AS "solvedCount", NULL::int AS mark`
  }`;

/** A student's solved tasks of `c`: their solved cells of contest_standings. */
const mineJoin = (standing: boolean) =>
  standing
    ? `CROSS JOIN LATERAL (SELECT count(*)::int AS solved FROM contest_standings cs
         WHERE cs.contest_id = c.id AND cs.user_id = :viewerId AND cs.solved) AS mine`
    : "";

/**
 * @param options.lock - lock the row (FOR UPDATE) for a change
 * @param options.standing - false to leave out a student's standing, which reads every submission of
 *   theirs to the contest: sending a solution needs only the contest
 * @returns the contest as the viewer loads it, or null when there is none
 */
export async function findContest(
  db: Db,
  id: string,
  viewer: Viewer,
  options: { lock?: boolean; standing?: boolean } = {},
): Promise<ContestRow | null> {
  const standing = !viewer.staff && options.standing !== false;
  // Prepared: every student's look at a contest, and every solution sent to one, loads it.
  const [row] = await selectPrepared<ContestRow>(
    db,
    `SELECT ${contestColumns(viewer, standing)} FROM contests c ${mineJoin(standing)} WHERE c.id = :id
     ${options.lock && db.transaction ? "FOR UPDATE OF c" : ""}`,
    { id, viewerId: viewer.id },
  );
  return row ?? null;
}

/**
 * A page of the contests the viewer sees, latest start first, keyset-paged on (starts_at, id): staff
 * walk the index; a student's page is their audience's started contests (the GIN index on the
 * audience keys, or that walk).
 * @param after - the position the previous page ended on
 */
export function contestsPage(
  db: Db,
  viewer: Viewer,
  after: readonly [string, string] | undefined,
  limit: number,
): Promise<ContestRow[]> {
  // A student's list shows their standing on each contest.
  const standing = !viewer.staff;
  const conditions = [
    viewer.staff ? "" : studentSeesContest,
    after ? "(c.starts_at, c.id) < (CAST(:afterStart AS timestamptz), CAST(:afterId AS uuid))" : "",
  ].filter(Boolean);
  return select<ContestRow>(
    db,
    `SELECT ${contestColumns(viewer, standing)} FROM contests c ${mineJoin(standing)}
      ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
      ORDER BY c.starts_at DESC, c.id DESC
      LIMIT :limit`,
    { viewerId: viewer.id, afterStart: after?.[0] ?? null, afterId: after?.[1] ?? null, limit },
  );
}

/** The columns a client sets on a contest, its tasks apart. */
export interface ContestColumns {
  title: string;
  description: string;
  startsAt: Date;
  deadline: Date;
  groupIds: string[];
  learningClasses: string[];
  mark5: number;
  mark4: number;
  mark3: number;
}

/** @returns the new contest's id (its tasks follow with replaceContestTasks) */
export async function insertContest(db: Db, columns: ContestColumns, authorId: string): Promise<string> {
  const { rows } = await execute<{ id: string }>(
    db,
    `INSERT INTO contests (title, description, starts_at, deadline, audience_group_ids, audience_classes,
                           mark5, mark4, mark3, author_id)
     VALUES (:title, :description, :startsAt, :deadline, ${arrayParam("groupIds", columns.groupIds, "uuid")},
             ${arrayParam("learningClasses", columns.learningClasses, "text")}, :mark5, :mark4, :mark3, :authorId)
     RETURNING id`,
    { ...columns, authorId },
  );
  const [row] = rows;
  if (!row) throw new Error("INSERT … RETURNING gave no row.");
  return row.id;
}

/** Writes a contest's columns. */
export async function updateContestColumns(db: Db, id: string, columns: ContestColumns): Promise<void> {
  await execute(
    db,
    `UPDATE contests SET title = :title, description = :description, starts_at = :startsAt, deadline = :deadline,
            audience_group_ids = ${arrayParam("groupIds", columns.groupIds, "uuid")},
            audience_classes = ${arrayParam("learningClasses", columns.learningClasses, "text")},
            mark5 = :mark5, mark4 = :mark4, mark3 = :mark3, updated_at = now()
      WHERE id = :id`,
    { ...columns, id },
  );
}

/**
 * Makes `taskIds` the contest's tasks, in that order: removed tasks go, kept ones move, new ones come
 * (positions are unique per contest at commit, so a reordering may swap them).
 */
export async function replaceContestTasks(db: Db, contestId: string, taskIds: readonly string[]): Promise<void> {
  await execute(
    db,
    `DELETE FROM contest_tasks WHERE contest_id = :contestId AND NOT (task_id = ANY(CAST(ARRAY[:taskIds] AS uuid[])))`,
    { contestId, taskIds: [...taskIds] },
  );
  await execute(
    db,
    `INSERT INTO contest_tasks (contest_id, task_id, position)
     SELECT :contestId, given.task_id, given.position
       FROM unnest(CAST(ARRAY[:taskIds] AS uuid[])) WITH ORDINALITY AS given (task_id, position)
     ON CONFLICT (contest_id, task_id) DO UPDATE SET position = EXCLUDED.position`,
    { contestId, taskIds: [...taskIds] },
  );
}

/** @returns the tasks among `taskIds` that have submissions in the contest */
export async function tasksWithSubmissions(db: Db, contestId: string, taskIds: readonly string[]): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const rows = await select<{ taskId: string }>(
    db,
    `SELECT DISTINCT task_id::text AS "taskId" FROM submissions
      WHERE contest_id = :contestId AND task_id = ANY(CAST(ARRAY[:taskIds] AS uuid[]))`,
    { contestId, taskIds: [...taskIds] },
  );
  return rows.map((row) => row.taskId);
}

/** @returns whether solutions were sent to the contest */
export async function contestHasSubmissions(db: Db, contestId: string): Promise<boolean> {
  const [row] = await select<{ used: boolean }>(
    db,
    "SELECT EXISTS (SELECT 1 FROM submissions WHERE contest_id = :contestId) AS used",
    { contestId },
  );
  return row?.used ?? false;
}

/** Deletes a contest and its task list (the submissions' foreign key refuses it while it has any). */
export async function deleteContestRow(db: Db, id: string): Promise<void> {
  await execute(db, "DELETE FROM contests WHERE id = :id", { id });
}

/** One student's standing on one task. */
export interface TaskResultRow {
  taskId: string;
  attempts: number;
  solved: boolean;
  bestVerdict: VerdictName | null;
  bestPassedTests: number;
}

/** One student's row of a contest's results. */
export interface ResultRow {
  id: string;
  nickName: string;
  firstName: string;
  lastName: string;
  avatarFile: string | null;
  solvedCount: number;
  mark: number;
  /** In the contest's order. */
  tasks: TaskResultRow[];
}

/** A row of the results statement: the student's tasks as parallel arrays, in the contest's order. */
interface ResultStatementRow extends Omit<ResultRow, "tasks"> {
  taskIds: string[];
  attempts: number[];
  solved: boolean[];
  bestVerdicts: (VerdictName | null)[];
  bestPassedTests: number[];
}

/**
 * A page of a contest's results in one statement, however many students, tasks and submissions:
 * the participants (every student of the audience, and any student who sent a solution: one who has
 * left the audience keeps their row; staff trying the contest have none), a page of them in name
 * order, their cells of contest_standings (attempts, solved, the best verdict, kept by the database
 * from the submissions), and per student the tasks solved and the mark (`contest_mark`). With
 * `onlyUserId`, the one row of that user.
 * @param after - the (last name, first name, id) the previous page ended on
 */
export async function resultRows(
  db: Db,
  contestId: string,
  options: { onlyUserId?: string; after?: readonly [string, string, string]; limit: number },
): Promise<ResultRow[]> {
  // The audience's students come from the GIN index on their keys, not from the keys of every user.
  const participants = options.onlyUserId
    ? "SELECT CAST(:onlyUserId AS uuid) AS id"
    : `SELECT u.id FROM users u CROSS JOIN contest
        WHERE u.role = 'student' AND event_viewer_keys(u.group_id, u.learning_class) && contest.audience_keys
       UNION
       SELECT cs.user_id FROM contest_standings cs WHERE cs.contest_id = :contestId`;
  // Per student, the tasks come as parallel arrays in JSON: a JSON object per cell cost PostgreSQL more
  // than the rest of the statement, and pg's parser of array text cost Node three times JSON.parse.
  // Prepared: planning this statement took as long as running it.
  const rows = await selectPrepared<ResultStatementRow>(
    db,
    `WITH contest AS (
       SELECT c.id, c.mark5, c.mark4, c.mark3, c.audience_keys FROM contests c WHERE c.id = :contestId
     ), participants AS (${participants}),
     page AS (
       SELECT u.id, u.nick_name, u.first_name, u.last_name, u.avatar_file
         FROM users u JOIN participants p ON p.id = u.id
        WHERE u.role = 'student'
          AND (CAST(:afterLast AS text) IS NULL
               OR (u.last_name, u.first_name, u.id) > (CAST(:afterLast AS text), CAST(:afterFirst AS text), CAST(:afterId AS uuid)))
        ORDER BY u.last_name, u.first_name, u.id
        LIMIT :limit
     )
     SELECT page.id, page.nick_name AS "nickName", page.first_name AS "firstName", page.last_name AS "lastName",
            page.avatar_file AS "avatarFile",
            (count(*) FILTER (WHERE cs.solved))::int AS "solvedCount",
            contest_mark((count(*) FILTER (WHERE cs.solved))::int, contest.mark5, contest.mark4, contest.mark3) AS mark,
            to_json(array_agg(ct.task_id ORDER BY ct.position)) AS "taskIds",
            to_json(array_agg(coalesce(cs.attempts, 0) ORDER BY ct.position)) AS attempts,
            to_json(array_agg(coalesce(cs.solved, false) ORDER BY ct.position)) AS solved,
            to_json(array_agg(cs.best_verdict ORDER BY ct.position)) AS "bestVerdicts",
            to_json(array_agg(coalesce(cs.best_passed_tests, 0) ORDER BY ct.position)) AS "bestPassedTests"
       FROM page CROSS JOIN contest
       JOIN contest_tasks ct ON ct.contest_id = contest.id
       LEFT JOIN contest_standings cs ON cs.contest_id = contest.id AND cs.user_id = page.id AND cs.task_id = ct.task_id
      GROUP BY page.id, page.nick_name, page.first_name, page.last_name, page.avatar_file,
               contest.mark5, contest.mark4, contest.mark3
      ORDER BY page.last_name, page.first_name, page.id`,
    {
      contestId,
      onlyUserId: options.onlyUserId ?? null,
      afterLast: options.after?.[0] ?? null,
      afterFirst: options.after?.[1] ?? null,
      afterId: options.after?.[2] ?? null,
      limit: options.limit,
    },
  );
  return rows.map(({ taskIds, attempts, solved, bestVerdicts, bestPassedTests, ...student }) => ({
    ...student,
    tasks: taskIds.map((taskId, index) => ({
      taskId,
      attempts: attempts[index] ?? 0,
      solved: solved[index] ?? false,
      bestVerdict: bestVerdicts[index] ?? null,
      bestPassedTests: bestPassedTests[index] ?? 0,
    })),
  }));
}
