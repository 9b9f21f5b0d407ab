import path from "node:path";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { z } from "zod";
import type { Actor } from "../../auth/roles.js";
import { ConflictError, NotFoundError, PermissionDeniedError } from "../../errors/index.js";
import type { Download } from "../../storage/files.js";
import type { UploadedFile } from "../../storage/files.js";
import type { Services } from "../../services.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { awardEarnedMedals } from "../medals/service.js";
import { notify } from "../notifications/service.js";
import { mayDeleteAchievement, mayModerateAchievement, mayReadAchievement } from "./policy.js";

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

const achievementColumns = `a.id, a.seq::text AS seq, a.user_id AS "userId", a.kind, a.title, a.description,
  a.status, a.points, a.comment, a.proof_file AS "proofFile", a.proof_media_type AS "proofMediaType",
  a.proof_size AS "proofSize", a.moderated_by AS "moderatedBy", a.moderated_at AS "moderatedAt",
  a.created_at AS "createdAt"`;

const seqCursor = z.tuple([z.string().regex(/^\d{1,19}$/)]);
const positionOf = (row: { seq: string }) => [row.seq];

/**
 * Records a submission. The proof is moved into storage first and the row inserted in a transaction
 * of its own; if that fails for any reason, the moved file is removed before the error goes on, so a
 * failed submission leaves neither a row nor a file.
 * @param file - the proof, already checked by content (still in its temporary folder)
 */
export async function submitAchievement(
  services: Services,
  actor: Actor,
  input: { kind: AchievementKindName; title: string; description: string },
  file: UploadedFile,
): Promise<AchievementRow> {
  const stored = await services.files.put(PROOFS_FOLDER, file);
  try {
    const [row] = await services.sequelize.query<AchievementRow>(
      `INSERT INTO achievements (user_id, kind, title, description, proof_file, proof_media_type, proof_size)
       VALUES (:userId, :kind, :title, :description, :stored, :mediaType, :size)
       RETURNING ${achievementColumns.replaceAll("a.", "")}`,
      {
        replacements: { userId: actor.id, ...input, stored, mediaType: file.mediaType, size: file.size },
        type: QueryTypes.SELECT,
      },
    );
    if (!row) throw new Error("INSERT … RETURNING returned no row");
    return row;
  } catch (error) {
    await services.files.remove(PROOFS_FOLDER, stored);
    throw error;
  }
}

/**
 * The caller's own achievements, newest first, optionally of one status; keyset-paged on an index
 * of (user_id[, status], seq).
 */
export async function listOwnAchievements(
  sequelize: Sequelize,
  userId: string,
  query: { limit: number; cursor?: string; status?: AchievementStatusName },
): Promise<{ items: AchievementRow[]; nextCursor: string }> {
  const before = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : null;
  const rows = await sequelize.query<AchievementRow>(
    `SELECT ${achievementColumns}
       FROM achievements a
      WHERE a.user_id = :userId
        ${query.status ? "AND a.status = :status" : ""}
        ${before ? "AND a.seq < :before" : ""}
      ORDER BY a.seq DESC
      LIMIT :limit`,
    { replacements: { userId, status: query.status, before, limit: query.limit + 1 }, type: QueryTypes.SELECT },
  );
  return pageOf(rows, query.limit, positionOf);
}

/**
 * A user's accepted achievements as anyone may see them, newest first.
 * @throws AppError not_found for an unknown user
 */
export async function listAcceptedOf(
  sequelize: Sequelize,
  userId: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: AchievementRow[]; nextCursor: string }> {
  const [user] = await sequelize.query("SELECT 1 FROM users WHERE id = :userId", {
    replacements: { userId },
    type: QueryTypes.SELECT,
  });
  if (!user) throw NotFoundError("The user");
  return listOwnAchievements(sequelize, userId, { ...query, status: "accepted" });
}

async function loadAchievement(
  sequelize: Sequelize,
  id: string,
  transaction?: Transaction,
  lock = false,
): Promise<AchievementRow | undefined> {
  const [row] = await sequelize.query<AchievementRow>(
    `SELECT ${achievementColumns} FROM achievements a WHERE a.id = :id ${lock ? "FOR UPDATE" : ""}`,
    { replacements: { id }, type: QueryTypes.SELECT, transaction },
  );
  return row;
}

/**
 * One achievement for its owner or staff.
 * @throws AppError not_found when missing or not the caller's to see
 */
export async function findVisibleAchievement(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  transaction?: Transaction,
  lock = false,
): Promise<AchievementRow> {
  const row = await loadAchievement(sequelize, id, transaction, lock);
  if (!row || !mayReadAchievement(actor, row)) throw NotFoundError("The achievement");
  return row;
}

/** The storage folder of proofs: private, served only through the API to their owner and staff. */
export const PROOFS_FOLDER = "proofs";

const extensionOf = (storedName: string) => path.extname(storedName);

/**
 * The proof file of an achievement, for its owner or staff, under a name of ours.
 * @throws AppError not_found when missing or not the caller's to see
 */
export async function openProof(services: Services, actor: Actor, id: string): Promise<Download> {
  const row = await findVisibleAchievement(services.sequelize, actor, id);
  // A missing file answers 404 here, before any byte of the response is sent.
  const stored = await services.files.read(PROOFS_FOLDER, row.proofFile);
  if (!stored) throw NotFoundError("The proof file");
  return {
    body: stored.body,
    mediaType: row.proofMediaType,
    fileName: `achievement-${row.id}${extensionOf(row.proofFile)}`,
    size: row.proofSize,
  };
}

/**
 * Pending achievements, oldest first, each with its submitter: one indexed join per page, whatever
 * the page size (no query per row).
 */
export async function moderationQueue(
  sequelize: Sequelize,
  query: { limit: number; cursor?: string },
): Promise<{ items: QueuedRow[]; nextCursor: string }> {
  const after = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : null;
  const rows = await sequelize.query<QueuedRow>(
    `SELECT ${achievementColumns}, u.nick_name AS "submitterNickName", u.first_name AS "submitterFirstName",
            u.last_name AS "submitterLastName", u.avatar_file AS "submitterAvatarFile"
       FROM achievements a
       JOIN users u ON u.id = a.user_id
      WHERE a.status = 'pending' ${after ? "AND a.seq > :after" : ""}
      ORDER BY a.seq
      LIMIT :limit`,
    { replacements: { after, limit: query.limit + 1 }, type: QueryTypes.SELECT },
  );
  return pageOf(rows, query.limit, positionOf);
}

/** A moderator's verdict, as the route validated it. */
export type Verdict = { decision: "accept"; points: number; comment: string } | { decision: "reject"; comment: string };

/**
 * Accepts or rejects a pending achievement, exactly once. The row is locked (FOR UPDATE) for the
 * transaction, so concurrent moderations queue behind the first and then find it decided (409).
 * Accepting adds the points and one accepted achievement to the owner's row, notifies them and awards
 * the medals now earned; rejecting keeps the row with the comment and notifies them. All of it
 * commits or rolls back together with the route's transaction.
 * @throws AppError not_found, permission_denied (own submission) or conflict (already decided)
 */
export async function moderateAchievement(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  verdict: Verdict,
  transaction: Transaction,
): Promise<AchievementRow> {
  const current = await findVisibleAchievement(sequelize, actor, id, transaction, true);
  if (!mayModerateAchievement(actor, current)) {
    throw PermissionDeniedError("Nobody moderates their own achievement.");
  }
  if (current.status !== "pending") throw ConflictError(`This achievement was already ${current.status}.`);
  const accepted = verdict.decision === "accept";
  const [row] = await sequelize.query<AchievementRow>(
    `UPDATE achievements
        SET status = :status, points = :points, comment = :comment, moderated_by = :actorId,
            moderated_at = now(), updated_at = now()
      WHERE id = :id
      RETURNING ${achievementColumns.replaceAll("a.", "")}`,
    {
      replacements: {
        id,
        status: accepted ? "accepted" : "rejected",
        points: accepted ? verdict.points : null,
        comment: verdict.comment,
        actorId: actor.id,
      },
      type: QueryTypes.SELECT,
      transaction,
    },
  );
  if (!row) throw NotFoundError("The achievement");
  if (verdict.decision === "accept") {
    await sequelize.query(
      `UPDATE users SET rating = rating + :points, accepted_achievements = accepted_achievements + 1,
              updated_at = now()
        WHERE id = :userId`,
      { replacements: { points: verdict.points, userId: row.userId }, transaction },
    );
    const db = { sequelize, transaction };
    await notify(
      db,
      { kind: "users", userIds: [row.userId] },
      { type: "achievement_accepted", payload: { achievementId: row.id, title: row.title, points: verdict.points } },
    );
    await awardEarnedMedals(db, [row.userId]);
  } else {
    await notify(
      { sequelize, transaction },
      { kind: "users", userIds: [row.userId] },
      { type: "achievement_rejected", payload: { achievementId: row.id, title: row.title, comment: verdict.comment } },
    );
  }
  return row;
}

/**
 * Deletes an achievement and, once that has committed, its proof file. Deleting an accepted one (an
 * admin's act) takes its points and its count back from the owner's row, so the rating always equals
 * the sum of accepted points; medals already awarded stay, as awards do.
 * @throws AppError not_found (or not visible), permission_denied
 */
export async function deleteAchievement(
  services: Services,
  actor: Actor,
  id: string,
  transaction: Transaction,
): Promise<void> {
  const { sequelize } = services;
  const row = await findVisibleAchievement(sequelize, actor, id, transaction, true);
  if (!mayDeleteAchievement(actor, row)) {
    throw PermissionDeniedError("Only a pending achievement can be deleted by its owner; admins delete any.");
  }
  await sequelize.query("DELETE FROM achievements WHERE id = :id", { replacements: { id }, transaction });
  if (row.status === "accepted" && row.points !== null) {
    await sequelize.query(
      // GREATEST: the rating is the sum of accepted points, but a stale row must not turn a delete into a 500.
      `UPDATE users SET rating = GREATEST(rating - :points, 0),
              accepted_achievements = GREATEST(accepted_achievements - 1, 0), updated_at = now()
        WHERE id = :userId`,
      { replacements: { points: row.points, userId: row.userId }, transaction },
    );
  }
  transaction.afterCommit(() => services.files.remove(PROOFS_FOLDER, row.proofFile));
}
