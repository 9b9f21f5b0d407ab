import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { z } from "zod";
import { arrayParam, type TransactionDb } from "../../db/db.js";
import { FailedPreconditionError, NotFoundError } from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import type { NotificationContent, NotificationRow } from "./payloads.js";

export type { NotificationContent } from "./payloads.js";

/** The columns every notification query selects, in the shape of NotificationRow. */
export const notificationColumns = `n.id, n.seq::text AS seq, n.user_id AS "userId", n.type, n.payload,
  n.created_at AS "createdAt", n.read_at AS "readAt"`;

/** A user's unread count (`:userId`), answered from the partial unread index; `/auth/me` embeds it too. */
export const unreadCountSql = "SELECT count(*)::int FROM notifications WHERE user_id = :userId AND read_at IS NULL";

const seqCursor = z.tuple([z.string().regex(/^\d{1,19}$/)]);

/**
 * A user's notifications, newest first, keyset-paged on (user_id, seq): each page is one index range,
 * so its cost does not depend on how many rows the user or the table has. Listing marks nothing read.
 * @param userId - whose notifications (always the caller)
 * @param query - limit, cursor and the unread filter
 */
export async function listNotifications(
  sequelize: Sequelize,
  userId: string,
  query: { limit: number; cursor?: string; unread?: boolean },
): Promise<{ items: NotificationRow[]; nextCursor: string }> {
  const before = query.cursor ? decodeCursor(query.cursor, seqCursor)[0] : null;
  const rows = await sequelize.query<NotificationRow>(
    `SELECT ${notificationColumns}
       FROM notifications n
      WHERE n.user_id = :userId
        ${query.unread ? "AND n.read_at IS NULL" : ""}
        ${before ? "AND n.seq < :before" : ""}
      ORDER BY n.seq DESC
      LIMIT :limit`,
    { replacements: { userId, before, limit: query.limit + 1 }, type: QueryTypes.SELECT },
  );
  return pageOf(rows, query.limit, (row) => [row.seq]);
}

/**
 * How many unread notifications a user has, counted from the partial unread index (no rows loaded).
 * @param userId - whose
 */
export async function countUnread(sequelize: Sequelize, userId: string): Promise<number> {
  const [row] = await sequelize.query<{ count: string }>(`SELECT (${unreadCountSql}) AS count`, {
    replacements: { userId },
    type: QueryTypes.SELECT,
  });
  return Number(row?.count ?? 0);
}

/**
 * Marks the caller's own notifications read: the listed ids, or all. Ids of other users' notifications
 * match nothing, so they are never marked (and nothing tells whether they exist).
 * @returns how many were newly marked
 */
export async function markRead(
  sequelize: Sequelize,
  userId: string,
  selection: { ids: string[]; all: boolean },
  transaction: Transaction,
): Promise<number> {
  const [row] = await sequelize.query<{ marked: string }>(
    `WITH marked AS (
       UPDATE notifications SET read_at = now()
        WHERE user_id = :userId AND read_at IS NULL ${selection.all ? "" : "AND id = ANY(ARRAY[:ids]::uuid[])"}
       RETURNING 1
     )
     SELECT count(*) AS marked FROM marked`,
    {
      replacements: { userId, ids: selection.ids.length ? selection.ids : [""] },
      type: QueryTypes.SELECT,
      transaction,
    },
  );
  return Number(row?.marked ?? 0);
}

/** Who receives a message: exactly one of these. */
export type Audience =
  | { kind: "user"; userId: string }
  | { kind: "group"; groupId: string }
  | { kind: "learningClass"; learningClass: string }
  | { kind: "everyone" };

/**
 * Writes one notification per member of an audience, as one INSERT … SELECT.
 * @param recipients - SQL selecting a `user_id` column, with its replacements
 * @returns how many were written
 */
export async function notifyRecipients(
  sequelize: Sequelize,
  content: NotificationContent,
  recipients: { sql: string; replacements: Record<string, unknown> },
  transaction: Transaction,
): Promise<number> {
  const [row] = await sequelize.query<{ written: string }>(
    `WITH written AS (
       INSERT INTO notifications (user_id, type, payload)
       SELECT recipient.user_id, :type, CAST(:payload AS jsonb) FROM (${recipients.sql}) AS recipient
       RETURNING 1
     )
     SELECT count(*) AS written FROM written`,
    {
      replacements: { ...recipients.replacements, type: content.type, payload: JSON.stringify(content.payload) },
      type: QueryTypes.SELECT,
      transaction,
    },
  );
  return Number(row?.written ?? 0);
}

/**
 * Writes one notification to one user.
 * @param userId - the recipient
 */
export async function notifyUser(
  sequelize: Sequelize,
  userId: string,
  content: NotificationContent,
  transaction: Transaction,
): Promise<void> {
  await notifyRecipients(
    sequelize,
    content,
    { sql: "SELECT CAST(:userId AS uuid) AS user_id", replacements: { userId } },
    transaction,
  );
}

const audienceSql: { [K in Audience["kind"]]: string } = {
  user: "SELECT id AS user_id FROM users WHERE id = :userId",
  group: "SELECT id AS user_id FROM users WHERE group_id = :groupId",
  learningClass: "SELECT id AS user_id FROM users WHERE learning_class = :learningClass",
  everyone: "SELECT id AS user_id FROM users",
};

/**
 * Sends a staff message to an audience in one statement.
 * @returns the number of recipients
 * @throws AppError not_found for an unknown user or group, failed_precondition when nobody matches
 */
export async function sendMessage(
  sequelize: Sequelize,
  audience: Audience,
  message: { text: string; severity: "info" | "warning" },
  transaction: Transaction,
): Promise<number> {
  if (audience.kind === "user" || audience.kind === "group") {
    const [table, id] = audience.kind === "user" ? ["users", audience.userId] : ["groups", audience.groupId];
    const [exists] = await sequelize.query(`SELECT 1 FROM ${table} WHERE id = :id`, {
      replacements: { id },
      type: QueryTypes.SELECT,
      transaction,
    });
    if (!exists) throw NotFoundError(audience.kind === "user" ? "The user" : "The group");
  }
  const count = await notifyRecipients(
    sequelize,
    { type: "message", payload: message },
    { sql: audienceSql[audience.kind], replacements: { ...audience } },
    transaction,
  );
  if (count === 0) throw FailedPreconditionError("Nobody is in this audience.");
  return count;
}

/** Who receives a notification; resolved set-based inside one INSERT … SELECT. */
export type Recipients =
  | { kind: "users"; userIds: readonly string[] }
  | { kind: "group"; groupId: string }
  | { kind: "learningClass"; learningClass: string }
  | { kind: "everyone" }
  /** Every student of an audience; both lists empty = every student (the events/contests audience model). */
  | { kind: "students"; groupIds: readonly string[]; learningClasses: readonly string[] };

/** The recipients' `user_id` rows, as SQL over the users table, by kind. */
function recipientsSql(recipients: Recipients): { sql: string; replacements: Record<string, unknown> } {
  switch (recipients.kind) {
    case "users":
      return {
        sql: "SELECT id AS user_id FROM users WHERE id = ANY(CAST(ARRAY[:userIds]::text[] AS uuid[]))",
        replacements: { userIds: recipients.userIds.length > 0 ? [...recipients.userIds] : [null] },
      };
    case "group":
      return { sql: audienceSql.group, replacements: { groupId: recipients.groupId } };
    case "learningClass":
      return { sql: audienceSql.learningClass, replacements: { learningClass: recipients.learningClass } };
    case "everyone":
      return { sql: audienceSql.everyone, replacements: {} };
    case "students":
      return {
        sql: `SELECT id AS user_id FROM users WHERE role = 'student' AND event_viewer_keys(group_id, learning_class)
                && event_audience_keys(${arrayParam("groupIds", recipients.groupIds, "uuid")}, ${arrayParam("classes", recipients.learningClasses, "text")})`,
        replacements: { groupIds: [...recipients.groupIds], classes: [...recipients.learningClasses] },
      };
  }
}

/**
 * Writes one notification to every recipient, as one INSERT … SELECT in the caller's transaction.
 * @param recipients - who receives it
 * @param content - its type and payload
 * @returns how many were written
 */
export function notify(db: TransactionDb, recipients: Recipients, content: NotificationContent): Promise<number> {
  const { sql, replacements } = recipientsSql(recipients);
  return notifyRecipients(db.sequelize, content, { sql, replacements }, db.transaction);
}
