import { randomUUID } from "node:crypto";
import { QueryTypes, type Transaction } from "sequelize";
import type { LanguageName } from "../modules/tasks/service.js";
import type { VerdictName } from "../modules/submissions/service.js";
import { testDatabase } from "./database.js";

/**
 * Factories for tasks, contests, day challenges and submissions: real rows written straight to the
 * suite's database (the routes are tested elsewhere; these set the scene fast and in bulk).
 */

const sql = () => testDatabase().database.sequelize;
const unique = () => randomUUID().slice(0, 8);

async function one<T extends object>(
  query: string,
  replacements: Record<string, unknown>,
  transaction?: Transaction,
): Promise<T> {
  const [row] = await sql().query<T>(query, { replacements, type: QueryTypes.SELECT, transaction });
  if (!row) throw new Error("The factory's statement gave no row.");
  return row;
}

/** The school's default time zone, which test servers keep. */
export const SCHOOL_ZONE = "Europe/Moscow";

/** @returns a date `offsetDays` from today in the school's time zone, as YYYY-MM-DD */
export async function schoolDay(offsetDays = 0): Promise<string> {
  const row = await one<{ day: string }>(`SELECT to_char(school_today(:zone) + :offsetDays, 'YYYY-MM-DD') AS day`, {
    zone: SCHOOL_ZONE,
    offsetDays,
  });
  return row.day;
}

/**
 * A day no other test uses (a day has one challenge): somewhere in the next or last seven centuries.
 * @param direction - a day that has come (past) or not yet (future)
 */
export function freshDay(direction: "past" | "future"): Promise<string> {
  const offset = 1000 + Math.floor(Math.random() * 250_000);
  return schoolDay(direction === "past" ? -offset : offset);
}

/** A test of a built task. */
export interface BuiltTest {
  input: string;
  output: string;
  demo: boolean;
}

/**
 * Creates a task with tests: by default one demo test and two hidden ones whose data carry a unique
 * marker (`HIDDEN-…`), so a test can look for them in any answer's raw bytes.
 * @returns the task's id, its tests and the hidden marker
 */
export async function buildTask(
  overrides: { authorId?: string; title?: string; languages?: LanguageName[]; tests?: BuiltTest[] } = {},
): Promise<{ id: string; title: string; tests: BuiltTest[]; hiddenMarker: string }> {
  const tag = unique();
  const hiddenMarker = `HIDDEN-${tag}`;
  const tests = overrides.tests ?? [
    { input: `1 2 DEMO-IN-${tag}`, output: `3 DEMO-OUT-${tag}`, demo: true },
    { input: `${hiddenMarker}-IN-1`, output: `${hiddenMarker}-OUT-1`, demo: false },
    { input: `${hiddenMarker}-IN-2`, output: `${hiddenMarker}-OUT-2`, demo: false },
  ];
  const title = overrides.title ?? `Task ${tag}`;
  const { id } = await one<{ id: string }>(
    `INSERT INTO tasks (title, statement, languages, author_id)
     VALUES (:title, 'Add two numbers.', CAST(ARRAY[:languages] AS text[]), :authorId) RETURNING id`,
    { title, languages: overrides.languages ?? ["python", "cpp"], authorId: overrides.authorId ?? null },
  );
  for (const [index, test] of tests.entries()) {
    await sql().query(
      "INSERT INTO task_tests (task_id, ordinal, input, output, demo) VALUES (:id, :ordinal, :input, :output, :demo)",
      { replacements: { id, ordinal: index + 1, ...test } },
    );
  }
  return { id, title, tests, hiddenMarker };
}

/**
 * Creates a contest over tasks, started an hour ago and open for a week unless told otherwise.
 * @returns its id
 */
export async function buildContest(options: {
  taskIds: string[];
  groupIds?: string[];
  learningClasses?: string[];
  startsAt?: Date;
  deadline?: Date;
  marks?: { mark5: number; mark4: number; mark3: number };
  authorId?: string;
}): Promise<string> {
  const marks = options.marks ?? { mark5: options.taskIds.length, mark4: 1, mark3: 1 };
  const groupIds = options.groupIds ?? [];
  const classes = options.learningClasses ?? [];
  return sql().transaction(async (transaction) => {
    const [row] = await sql().query<{ id: string }>(
      `INSERT INTO contests (title, starts_at, deadline, audience_group_ids, audience_classes, mark5, mark4, mark3, author_id)
       VALUES (:title, :startsAt, :deadline, ${groupIds.length ? "CAST(ARRAY[:groupIds] AS uuid[])" : "'{}'"},
               ${classes.length ? "CAST(ARRAY[:classes] AS text[])" : "'{}'"}, :mark5, :mark4, :mark3, :authorId)
       RETURNING id`,
      {
        replacements: {
          title: `Contest ${unique()}`,
          startsAt: options.startsAt ?? new Date(Date.now() - 3_600_000),
          deadline: options.deadline ?? new Date(Date.now() + 7 * 86_400_000),
          groupIds,
          classes,
          ...marks,
          authorId: options.authorId ?? null,
        },
        type: QueryTypes.SELECT,
        transaction,
      },
    );
    if (!row) throw new Error("No contest row.");
    for (const [index, taskId] of options.taskIds.entries()) {
      await sql().query("INSERT INTO contest_tasks (contest_id, task_id, position) VALUES (:id, :taskId, :position)", {
        replacements: { id: row.id, taskId, position: index + 1 },
        transaction,
      });
    }
    return row.id;
  });
}

/** The task built for today's challenge in this run, by day (a run may cross midnight). */
const todays = new Map<string, Promise<{ day: string; task: Awaited<ReturnType<typeof buildTask>> }>>();

/**
 * Today's day challenge, shared by every test of the run: once a solution is sent to it its task can
 * no longer change, so tests that need today take this one instead of setting their own.
 * @returns today's date and its task (Python and C++, one demo and two hidden tests)
 */
export async function todaysChallenge(): Promise<{ day: string; task: Awaited<ReturnType<typeof buildTask>> }> {
  const day = await schoolDay(0);
  let made = todays.get(day);
  if (!made) {
    made = (async () => {
      const task = await buildTask({ title: `Today's task ${unique()}` });
      await buildChallenge(day, task.id);
      return { day, task };
    })();
    todays.set(day, made);
  }
  return made;
}

/** Sets the task of a day directly. */
export async function buildChallenge(day: string, taskId: string): Promise<void> {
  await sql().query(
    `INSERT INTO day_challenges (day, task_id) VALUES (CAST(:day AS date), :taskId)
     ON CONFLICT (day) DO UPDATE SET task_id = EXCLUDED.task_id`,
    { replacements: { day, taskId } },
  );
}

/**
 * Writes a submission as if judged already (or queued, with no verdict).
 * @returns its id
 */
export async function buildSubmission(options: {
  userId: string;
  taskId: string;
  contestId?: string;
  challengeDay?: string;
  verdict?: VerdictName;
  passedTests?: number;
  createdAt?: Date;
  rejectedReason?: string;
  /** One left open by the test, to hold the submission's locks. */
  transaction?: Transaction;
}): Promise<string> {
  const verdict = options.verdict ?? null;
  const failedTest = verdict && verdict !== "accepted" && verdict !== "compile_error" ? 1 : null;
  const row = await one<{ id: string }>(
    `INSERT INTO submissions (user_id, task_id, contest_id, challenge_day, language, source, status, verdict,
                              failed_test, passed_tests, total_tests, tests_version, finished_at, created_at,
                              rejected_at, rejection_reason)
     VALUES (:userId, :taskId, :contestId, CAST(:challengeDay AS date), 'python', 'print(1)',
             CASE WHEN CAST(:verdict AS text) IS NULL THEN 'queued' ELSE 'finished' END, :verdict, :failedTest,
             :passedTests, 3, CASE WHEN CAST(:verdict AS text) IS NULL THEN NULL ELSE 1 END,
             CASE WHEN CAST(:verdict AS text) IS NULL THEN NULL ELSE now() END, :createdAt,
             CASE WHEN CAST(:reason AS text) IS NULL THEN NULL ELSE now() END, :reason)
     RETURNING id`,
    {
      userId: options.userId,
      taskId: options.taskId,
      contestId: options.contestId ?? null,
      challengeDay: options.challengeDay ?? null,
      verdict,
      failedTest,
      passedTests: options.passedTests ?? (verdict === "accepted" ? 3 : 0),
      createdAt: options.createdAt ?? new Date(),
      reason: options.rejectedReason ?? null,
    },
    options.transaction,
  );
  return row.id;
}
