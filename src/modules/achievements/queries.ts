import { execute, select, selectPrepared, type Db } from "../../db/db.js";
import { publicAchievementSql } from "./policy.js";

export type AchievementKindName = "olympiad" | "event" | "other";
export type AchievementStatusName = "pending" | "accepted" | "rejected";

/** An achievement row as every query here selects it. */
export interface AchievementRow {
  id: string;
  seq: string;
  userId: string;
  kind: AchievementKindName;
  title: string;
  description: string;
  status: AchievementStatusName;
  points: number | null;
  comment: string;
  proofFile: string;
  proofMediaType: string;
  proofSize: number;
  moderatedBy: string | null;
  moderatedAt: Date | null;
  createdAt: Date;
}

/** A queue row: the achievement and the submitter's summary, from one join. */
export interface QueuedRow extends AchievementRow {
  submitterNickName: string;
  submitterFirstName: string;
  submitterLastName: string;
  submitterAvatarFile: string | null;
}

/** What a submission stores: the validated fields and the proof as the file store recorded it. */
export interface NewAchievement {
  userId: string;
  kind: AchievementKindName;
  title: string;
  description: string;
  proofFile: string;
  proofMediaType: string;
  proofSize: number;
}

/** The columns of AchievementRow, over the alias `a`. */
const achievementColumns = `a.id, a.seq::text AS seq, a.user_id AS "userId", a.kind, a.title, a.description,
  a.status, a.points, a.comment, a.proof_file AS "proofFile", a.proof_media_type AS "proofMediaType",
  a.proof_size AS "proofSize", a.moderated_by AS "moderatedBy", a.moderated_at AS "moderatedAt",
  a.created_at AS "createdAt"`;

/** The same columns for RETURNING, where the table has no alias. */
const returnedColumns = achievementColumns.replaceAll("a.", "");

/** @returns the inserted row */
export async function insertAchievement(db: Db, achievement: NewAchievement): Promise<AchievementRow> {
  const [row] = await select<AchievementRow>(
    db,
    `INSERT INTO achievements (user_id, kind, title, description, proof_file, proof_media_type, proof_size)
     VALUES (:userId, :kind, :title, :description, :proofFile, :proofMediaType, :proofSize)
     RETURNING ${returnedColumns}`,
    { ...achievement },
  );
  if (!row) throw new Error("INSERT … RETURNING returned no row");
  return row;
}

/**
 * A user's achievements, newest first, keyset-paged on the index of (user_id[, status], seq).
 * @param filter.status - only those of this status
 * @param filter.publicOnly - only those anyone may see (the policy's public predicate)
 * @param filter.before - the seq the previous page ended on
 * @param limit - how many rows to read (the page size plus one, to know if more follow)
 */
export function achievementsOf(
  db: Db,
  userId: string,
  filter: { status?: AchievementStatusName; publicOnly?: boolean; before?: string },
  limit: number,
): Promise<AchievementRow[]> {
  return select<AchievementRow>(
    db,
    `SELECT ${achievementColumns}
       FROM achievements a
      WHERE a.user_id = :userId
        ${filter.status ? "AND a.status = :status" : ""}
        ${filter.publicOnly ? `AND ${publicAchievementSql}` : ""}
        ${filter.before ? "AND a.seq < :before" : ""}
      ORDER BY a.seq DESC
      LIMIT :limit`,
    { userId, status: filter.status, before: filter.before, limit },
  );
}

/** @returns whether a user with this id exists */
export async function userExists(db: Db, userId: string): Promise<boolean> {
  const rows = await select(db, "SELECT 1 FROM users WHERE id = :userId", { userId });
  return rows.length > 0;
}

/**
 * @param options.lock - lock the row (FOR UPDATE) for the rest of the transaction: a decision follows
 * @returns the achievement, or undefined when there is none
 */
export async function findAchievement(
  db: Db,
  id: string,
  options: { lock?: boolean } = {},
): Promise<AchievementRow | undefined> {
  const [row] = await select<AchievementRow>(
    db,
    `SELECT ${achievementColumns} FROM achievements a WHERE a.id = :id ${options.lock ? "FOR UPDATE" : ""}`,
    { id },
  );
  return row;
}

/**
 * Pending achievements, oldest first, each joined with its submitter: one statement over the partial
 * index of pending rows, whatever the page size, prepared (moderators page through it all day).
 * @param after - the seq the previous page ended on
 * @param limit - how many rows to read (the page size plus one)
 */
export function pendingAchievements(db: Db, after: string | undefined, limit: number): Promise<QueuedRow[]> {
  return selectPrepared<QueuedRow>(
    db,
    `SELECT ${achievementColumns}, u.nick_name AS "submitterNickName", u.first_name AS "submitterFirstName",
            u.last_name AS "submitterLastName", u.avatar_file AS "submitterAvatarFile"
       FROM achievements a
       JOIN users u ON u.id = a.user_id
      WHERE a.status = 'pending' ${after ? "AND a.seq > :after" : ""}
      ORDER BY a.seq
      LIMIT :limit`,
    { after, limit },
  );
}

/**
 * Records a moderator's decision on an achievement.
 * @param decision.points - the points granted, null for a rejection
 * @returns the decided row, or undefined when it is gone
 */
export async function recordDecision(
  db: Db,
  id: string,
  decision: { status: "accepted" | "rejected"; points: number | null; comment: string; moderatorId: string },
): Promise<AchievementRow | undefined> {
  const [row] = await select<AchievementRow>(
    db,
    `UPDATE achievements
        SET status = :status, points = :points, comment = :comment, moderated_by = :moderatorId,
            moderated_at = now(), updated_at = now()
      WHERE id = :id
      RETURNING ${returnedColumns}`,
    { id, ...decision },
  );
  return row;
}

/** Adds an accepted achievement's points, and one accepted achievement, to its owner's counters. */
export async function creditOwner(db: Db, userId: string, points: number): Promise<void> {
  await execute(
    db,
    `UPDATE users SET rating = rating + :points, accepted_achievements = accepted_achievements + 1,
            updated_at = now()
      WHERE id = :userId`,
    { points, userId },
  );
}

/** Takes a deleted accepted achievement's points, and its count, back from its owner's counters. */
export async function debitOwner(db: Db, userId: string, points: number): Promise<void> {
  await execute(
    db,
    // GREATEST: the rating is the sum of accepted points, but a stale row must not turn a delete into a 500.
    `UPDATE users SET rating = GREATEST(rating - :points, 0),
            accepted_achievements = GREATEST(accepted_achievements - 1, 0), updated_at = now()
      WHERE id = :userId`,
    { points, userId },
  );
}

/** Deletes an achievement's row (its file is the caller's to remove once this commits). */
export async function deleteAchievementRow(db: Db, id: string): Promise<void> {
  await execute(db, "DELETE FROM achievements WHERE id = :id", { id });
}

/**
 * @param names - stored proof names found in storage
 * @returns those an achievement row still names
 */
export async function proofNamesInUse(db: Db, names: readonly string[]): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    "SELECT proof_file AS name FROM achievements WHERE proof_file = ANY(ARRAY[:names]::text[])",
    { names: [...names] },
  );
  return rows.map((row) => row.name);
}

/** @returns the stored proof names of a user's achievements */
export async function proofNamesOf(db: Db, userId: string): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    "SELECT proof_file AS name FROM achievements WHERE user_id = :userId",
    {
      userId,
    },
  );
  return rows.map((row) => row.name);
}
