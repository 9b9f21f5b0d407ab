import { execute, select, type Db } from "../../db/db.js";
import { dayHasCome } from "./policy.js";

/** A day challenge with where its day stands, by the database's clock in the school's time zone. */
export interface ChallengeRow {
  /** YYYY-MM-DD. */
  day: string;
  taskId: string;
  setBy: string | null;
  updatedAt: Date;
  /** Its day is today or earlier. */
  reached: boolean;
  isToday: boolean;
}

/** The columns of ChallengeRow from `day_challenges dc` (binds `:zone`). */
const challengeColumns = `to_char(dc.day, 'YYYY-MM-DD') AS day, dc.task_id AS "taskId", dc.set_by AS "setBy",
  dc.updated_at AS "updatedAt", ${dayHasCome} AS reached, dc.day = school_today(:zone) AS "isToday"`;

/**
 * @param zone - the school's time zone
 * @param options.lock - lock the row (FOR UPDATE) for a change
 * @returns the challenge of `day`, or null when the day has none
 */
export async function findChallenge(
  db: Db,
  day: string,
  zone: string,
  options: { lock?: boolean } = {},
): Promise<ChallengeRow | null> {
  const [row] = await select<ChallengeRow>(
    db,
    `SELECT ${challengeColumns} FROM day_challenges dc WHERE dc.day = CAST(:day AS date)
     ${options.lock && db.transaction ? "FOR UPDATE" : ""}`,
    { day, zone },
  );
  return row ?? null;
}

/** @returns today's date (YYYY-MM-DD) in the school's time zone, by the database's clock */
export async function todayIn(db: Db, zone: string): Promise<string> {
  const [row] = await select<{ day: string }>(db, "SELECT to_char(school_today(:zone), 'YYYY-MM-DD') AS day", {
    zone,
  });
  if (!row) throw new Error("school_today gave no row.");
  return row.day;
}

/** @returns today's challenge in the school's time zone, or null */
export async function todaysChallenge(db: Db, zone: string): Promise<ChallengeRow | null> {
  const [row] = await select<ChallengeRow>(
    db,
    `SELECT ${challengeColumns} FROM day_challenges dc WHERE dc.day = school_today(:zone)`,
    { zone },
  );
  return row ?? null;
}

/**
 * A page of challenges, newest day first, keyset-paged on the primary key.
 * @param options.upToToday - leave out days that have not come yet
 * @param before - the day the previous page ended on
 */
export function challengesPage(
  db: Db,
  zone: string,
  options: { upToToday: boolean },
  before: string | undefined,
  limit: number,
): Promise<ChallengeRow[]> {
  return select<ChallengeRow>(
    db,
    `SELECT ${challengeColumns} FROM day_challenges dc
      WHERE (CAST(:before AS date) IS NULL OR dc.day < CAST(:before AS date))
        ${options.upToToday ? `AND ${dayHasCome}` : ""}
      ORDER BY dc.day DESC
      LIMIT :limit`,
    { zone, before: before ?? null, limit },
  );
}

/** Sets the task of a day, replacing the one it had. */
export async function upsertChallenge(db: Db, day: string, taskId: string, setBy: string): Promise<void> {
  await execute(
    db,
    `INSERT INTO day_challenges (day, task_id, set_by) VALUES (CAST(:day AS date), :taskId, :setBy)
     ON CONFLICT (day) DO UPDATE SET task_id = EXCLUDED.task_id, set_by = EXCLUDED.set_by, updated_at = now()`,
    { day, taskId, setBy },
  );
}

/** @returns whether solutions were sent to the day's challenge */
export async function challengeHasSubmissions(db: Db, day: string): Promise<boolean> {
  const [row] = await select<{ used: boolean }>(
    db,
    "SELECT EXISTS (SELECT 1 FROM submissions WHERE challenge_day = CAST(:day AS date)) AS used",
    { day },
  );
  return row?.used ?? false;
}

/** Removes a day's challenge (its submissions' foreign key refuses it while there are any). */
export async function deleteChallengeRow(db: Db, day: string): Promise<void> {
  await execute(db, "DELETE FROM day_challenges WHERE day = CAST(:day AS date)", { day });
}

/** One user on a day's leaderboard. */
export interface LeaderboardRow {
  rank: number;
  id: string;
  nickName: string;
  firstName: string;
  lastName: string;
  avatarFile: string | null;
  submissionId: string;
  submittedAt: Date;
}

/**
 * A day's leaderboard in one statement: each user's first accepted, not rejected submission of the
 * day (DISTINCT ON over the partial index of accepted challenge submissions), then the earliest
 * first, and only then the limit, so a user who solved it twice is listed once and never crowds
 * another out.
 */
export function leaderboardRows(db: Db, day: string, limit: number): Promise<LeaderboardRow[]> {
  return select<LeaderboardRow>(
    db,
    `SELECT (row_number() OVER (ORDER BY first.created_at, first.seq))::int AS rank, u.id,
            u.nick_name AS "nickName", u.first_name AS "firstName", u.last_name AS "lastName",
            u.avatar_file AS "avatarFile", first.id AS "submissionId", first.created_at AS "submittedAt"
       FROM (SELECT DISTINCT ON (s.user_id) s.user_id, s.id, s.created_at, s.seq
               FROM submissions s
              WHERE s.challenge_day = CAST(:day AS date) AND s.verdict = 'accepted' AND s.rejected_at IS NULL
              ORDER BY s.user_id, s.created_at, s.seq) AS first
       JOIN users u ON u.id = first.user_id
      ORDER BY first.created_at, first.seq
      LIMIT :limit`,
    { day, limit },
  );
}
