import type { Db, TransactionDb } from "../../db/db.js";
import { FailedPreconditionError, NotFoundError } from "../../errors/index.js";
import { seqCursor } from "../../validation/fields.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertGroupsExist } from "../groups/service.js";
import type { MessageAudience, MessageSeverityName, NotificationContent, Recipients } from "./content.js";
import {
  insertNotifications,
  markUnreadRead,
  notificationsBefore,
  unreadCount,
  type NotificationRow,
} from "./queries.js";

export type { MessageAudience, MessageSeverityName, NotificationContent, Recipients } from "./content.js";
export type { NotificationRow } from "./queries.js";

/**
 * A user's notifications, newest first, keyset-paged on (user_id, seq): each page is one index range,
 * so its cost does not depend on how many rows the user or the table has. Listing marks nothing read.
 * @param userId - whose notifications (always the caller)
 * @param query - limit, cursor and the unread filter
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listNotifications(
  db: Db,
  userId: string,
  query: { limit: number; cursor?: string; unread?: boolean },
): Promise<{ items: NotificationRow[]; nextCursor: string }> {
  const before = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : undefined;
  const rows = await notificationsBefore(db, userId, { before, unread: query.unread ?? false, limit: query.limit + 1 });
  return pageOf(rows, query.limit, (row) => [row.seq]);
}

/**
 * How many unread notifications a user has: a counter the database keeps in the transactions that
 * write notifications (one row read, whatever their number); `/auth/me` shows it too.
 * @param userId - whose
 */
export const unreadCountOf = (db: Db, userId: string): Promise<number> => unreadCount(db, userId);

/**
 * Marks the caller's own notifications read: the listed ids, or all. Ids of other users' notifications
 * match nothing, so they are never marked (and nothing tells whether they exist).
 * @returns how many were newly marked
 */
export const markRead = (
  db: TransactionDb,
  userId: string,
  selection: { ids: string[]; all: boolean },
): Promise<number> => markUnreadRead(db, userId, selection);

/**
 * Writes one notification to each recipient, in the caller's transaction, as one INSERT … SELECT
 * whatever their number; streams on every server process hear of it at commit. Ids of users that do
 * not exist are skipped.
 * @param recipients - who receives it, resolved by the database
 * @param content - the type and its payload
 * @returns how many were written
 */
export async function notify(db: TransactionDb, recipients: Recipients, content: NotificationContent): Promise<number> {
  if (recipients.kind === "users" && recipients.userIds.length === 0) return 0;
  return insertNotifications(db, recipients, content);
}

/** A message's audience as the recipients of its one insert. */
const recipientsOf = (audience: MessageAudience): Recipients =>
  audience.kind === "user" ? { kind: "users", userIds: [audience.userId] } : audience;

/**
 * Sends a staff message to an audience in one statement.
 * @returns the number of recipients
 * @throws AppError not_found for an unknown user, failed_precondition for an unknown group (on
 *   `groupId`) or when nobody is in the audience
 */
export async function sendMessage(
  db: TransactionDb,
  audience: MessageAudience,
  message: { text: string; severity: MessageSeverityName },
): Promise<number> {
  if (audience.kind === "group") await assertGroupsExist(db, [{ id: audience.groupId, field: "groupId" }]);
  const count = await notify(db, recipientsOf(audience), { type: "message", payload: message });
  // One named user who receives nothing does not exist (a user is always their own audience).
  if (count === 0 && audience.kind === "user") throw NotFoundError("The user");
  if (count === 0) throw FailedPreconditionError("Nobody is in this audience.");
  return count;
}
