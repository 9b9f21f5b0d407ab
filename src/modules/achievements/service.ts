import path from "node:path";
import type { Actor } from "../../auth/roles.js";
import type { Db, TransactionDb } from "../../db/db.js";
import { ConflictError, NotFoundError } from "../../errors/index.js";
import type { Download, UploadedFile } from "../../storage/files.js";
import type { FileStore } from "../../storage/store.js";
import { seqCursor } from "../../validation/fields.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { awardEarnedMedals } from "../medals/service.js";
import { notify } from "../notifications/service.js";
import { authorize } from "./policy.js";
import {
  achievementsOf,
  creditOwner,
  debitOwner,
  deleteAchievementRow,
  findAchievement,
  insertAchievement,
  pendingAchievements,
  recordDecision,
  userExists,
  type AchievementKindName,
  type AchievementRow,
  type AchievementStatusName,
  type QueuedRow,
} from "./queries.js";

export type { AchievementKindName, AchievementRow, AchievementStatusName, QueuedRow } from "./queries.js";

/** The storage folder of proofs: private, served only through the API to their owner and staff. */
export const PROOFS_FOLDER = "proofs";

/** A page of achievements and the cursor of the next one ("" when none follows). */
export interface AchievementPage<Row extends AchievementRow = AchievementRow> {
  items: Row[];
  nextCursor: string;
}

const positionOf = (row: { seq: string }) => [row.seq];

/** @returns the seq a cursor of these lists points after, or undefined on the first page */
const seqOf = (cursor: string | undefined): string | undefined =>
  cursor ? decodeCursor(cursor, seqCursor)[0] : undefined;

/**
 * Records a submission. The proof is moved into storage first and the row inserted after; if that
 * fails for any reason, the moved file is removed before the error goes on, so a failed submission
 * leaves neither a row nor a file.
 * @param db - the database, outside any transaction (the insert commits on its own)
 * @param files - where proofs are stored
 * @param ownerId - the submitter (always the caller)
 * @param file - the proof, already checked by content (still in its temporary folder)
 */
export async function submitAchievement(
  db: Db,
  files: FileStore,
  ownerId: string,
  input: { kind: AchievementKindName; title: string; description: string },
  file: UploadedFile,
): Promise<AchievementRow> {
  const stored = await files.put(PROOFS_FOLDER, file);
  try {
    return await insertAchievement(db, {
      userId: ownerId,
      ...input,
      proofFile: stored,
      proofMediaType: file.mediaType,
      proofSize: file.size,
    });
  } catch (error) {
    await files.remove(PROOFS_FOLDER, stored);
    throw error;
  }
}

/**
 * A user's own achievements, newest first, optionally of one status; keyset-paged on an index of
 * (user_id[, status], seq).
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listOwnAchievements(
  db: Db,
  userId: string,
  query: { limit: number; cursor?: string; status?: AchievementStatusName },
): Promise<AchievementPage> {
  const rows = await achievementsOf(db, userId, { status: query.status, before: seqOf(query.cursor) }, query.limit + 1);
  return pageOf(rows, query.limit, positionOf);
}

/**
 * A user's achievements as anyone may see them (accepted ones), newest first.
 * @throws AppError not_found for an unknown user, invalid_argument for a foreign cursor
 */
export async function listAcceptedOf(
  db: Db,
  userId: string,
  query: { limit: number; cursor?: string },
): Promise<AchievementPage> {
  if (!(await userExists(db, userId))) throw NotFoundError("The user");
  const rows = await achievementsOf(db, userId, { publicOnly: true, before: seqOf(query.cursor) }, query.limit + 1);
  return pageOf(rows, query.limit, positionOf);
}

/**
 * One achievement, for its owner or staff.
 * @throws AppError not_found when missing or not the caller's to see
 */
export async function getAchievement(db: Db, actor: Actor, id: string): Promise<AchievementRow> {
  const row = await findAchievement(db, id);
  authorize(actor, "read", row);
  return row;
}

/**
 * The proof file of an achievement, for its owner or staff, under a name of ours.
 * @param files - where proofs are stored
 * @throws AppError not_found when missing, not the caller's to see, or gone from storage
 */
export async function openProof(db: Db, files: FileStore, actor: Actor, id: string): Promise<Download> {
  const row = await findAchievement(db, id);
  authorize(actor, "readProof", row);
  // A missing file answers 404 here, before any byte of the response is sent.
  const stored = await files.read(PROOFS_FOLDER, row.proofFile);
  if (!stored) throw NotFoundError("The proof file");
  return {
    body: stored.body,
    mediaType: row.proofMediaType,
    fileName: `achievement-${row.id}${path.extname(row.proofFile)}`,
    size: row.proofSize,
  };
}

/**
 * Pending achievements, oldest first, each with its submitter: one indexed join per page, whatever
 * the page size (no query per row).
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function moderationQueue(
  db: Db,
  query: { limit: number; cursor?: string },
): Promise<AchievementPage<QueuedRow>> {
  const rows = await pendingAchievements(db, seqOf(query.cursor), query.limit + 1);
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
  db: TransactionDb,
  actor: Actor,
  id: string,
  verdict: Verdict,
): Promise<AchievementRow> {
  const current = await findAchievement(db, id, { lock: true });
  authorize(actor, "moderate", current);
  if (current.status !== "pending") throw ConflictError(`This achievement was already ${current.status}.`);
  const accepted = verdict.decision === "accept";
  const row = await recordDecision(db, id, {
    status: accepted ? "accepted" : "rejected",
    points: accepted ? verdict.points : null,
    comment: verdict.comment,
    moderatorId: actor.id,
  });
  if (!row) throw NotFoundError("The achievement");
  const owner = { kind: "users", userIds: [row.userId] } as const;
  if (verdict.decision === "accept") {
    await creditOwner(db, row.userId, verdict.points);
    await notify(db, owner, {
      type: "achievement_accepted",
      payload: { achievementId: row.id, title: row.title, points: verdict.points },
    });
    await awardEarnedMedals(db, [row.userId]);
  } else {
    await notify(db, owner, {
      type: "achievement_rejected",
      payload: { achievementId: row.id, title: row.title, comment: verdict.comment },
    });
  }
  return row;
}

/**
 * Deletes an achievement and, once that has committed, its proof file. Deleting an accepted one (an
 * admin's act) takes its points and its count back from the owner's row, so the rating always equals
 * the sum of accepted points; medals already awarded stay, as awards do.
 * @param files - where proofs are stored
 * @throws AppError not_found (or not visible), permission_denied
 */
export async function deleteAchievement(db: TransactionDb, files: FileStore, actor: Actor, id: string): Promise<void> {
  const row = await findAchievement(db, id, { lock: true });
  authorize(actor, "delete", row);
  await deleteAchievementRow(db, id);
  if (row.status === "accepted" && row.points !== null) await debitOwner(db, row.userId, row.points);
  db.transaction.afterCommit(() => files.remove(PROOFS_FOLDER, row.proofFile));
}
