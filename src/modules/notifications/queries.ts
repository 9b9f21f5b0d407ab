import pg from "pg";
import { Op } from "sequelize";
import { execute, select, selectPrepared, type Db, type TransactionDb } from "../../db/db.js";
import type { LiveEvent, LiveEventSource } from "../../http/route.js";
import { Banner, type BannerSeverityName } from "./banner.model.js";
import type { NotificationContent, NotificationTypeName, Recipients } from "./content.js";

/** A notification row as list queries select it. */
export interface NotificationRow {
  id: string;
  seq: string;
  userId: string;
  type: NotificationTypeName;
  payload: unknown;
  createdAt: Date;
  readAt: Date | null;
}

/**
 * The columns every notification query selects, in the shape of NotificationRow (exported for the
 * benchmark's floor server, which runs the list's statement without the app around it).
 */
export const notificationColumns = `n.id, n.seq::text AS seq, n.user_id AS "userId", n.type, n.payload,
  n.created_at AS "createdAt", n.read_at AS "readAt"`;

/**
 * A page of a user's notifications, newest first, keyset-paged on (user_id, seq): each page is one
 * range of the (user_id, seq DESC) index, or of its partial unread twin.
 * @param before - the sequence number the previous page ended on
 * @param limit - how many rows to read (the page size plus one, to know if more follow)
 */
export function notificationsBefore(
  db: Db,
  userId: string,
  options: { before: string | undefined; unread: boolean; limit: number },
): Promise<NotificationRow[]> {
  return selectPrepared<NotificationRow>(
    db,
    `SELECT ${notificationColumns}
       FROM notifications n
      WHERE n.user_id = :userId
        ${options.unread ? "AND n.read_at IS NULL" : ""}
        ${options.before ? "AND n.seq < :before" : ""}
      ORDER BY n.seq DESC
      LIMIT :limit`,
    { userId, before: options.before ?? null, limit: options.limit },
  );
}

/**
 * A user's notifications written after a sequence number, oldest first (what a resuming stream missed).
 * @param limit - the most to return
 */
export function notificationsAfter(
  db: Db,
  userId: string,
  afterSeq: string,
  limit: number,
): Promise<NotificationRow[]> {
  return select<NotificationRow>(
    db,
    `SELECT ${notificationColumns} FROM notifications n
      WHERE n.user_id = :userId AND n.seq > :afterSeq ORDER BY n.seq LIMIT :limit`,
    { userId, afterSeq, limit },
  );
}

/** The inclusive range of sequence numbers one insert statement wrote, as its trigger announces it. */
export interface InsertedRange {
  low: string;
  high: string;
}

/** The channel the notifications table's statement trigger announces on (see the migration). */
const INSERTS_CHANNEL = "shtp_notifications";

/**
 * Makes a dedicated connection listen for the ranges insert statements announce at commit.
 * @param client - a connected client of its own (LISTEN holds it for as long as it listens)
 * @param onRange - called with each announced range, in announcement order
 */
export async function listenForInserts(client: pg.Client, onRange: (range: InsertedRange) => void): Promise<void> {
  client.on("notification", (message) => {
    if (message.channel !== INSERTS_CHANNEL || !message.payload) return;
    const [low, high] = message.payload.split(":");
    if (low && high) onRange({ low, high });
  });
  await client.query(`LISTEN ${INSERTS_CHANNEL}`);
}

/**
 * Listens on each live event source's channel and hands every event it can read to `onEvent`.
 * @param client - the hub's dedicated LISTEN connection
 * @param sources - the modules' live event sources
 */
export async function listenForLiveEvents(
  client: pg.Client,
  sources: readonly LiveEventSource[],
  onEvent: (userId: string, event: LiveEvent) => void,
): Promise<void> {
  const byChannel = new Map(sources.map((source) => [source.channel, source]));
  client.on("notification", (message) => {
    const source = byChannel.get(message.channel);
    const parsed = source && message.payload ? source.parse(message.payload) : undefined;
    if (source && parsed) onEvent(parsed.userId, { codec: source.codec, message: parsed.message });
  });
  for (const channel of byChannel.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
}

/**
 * Listens on each channel listener's channel and hands it every payload announced there.
 * @param client - the hub's dedicated LISTEN connection
 * @param listeners - who listens on which channel
 */
export async function listenOnChannels(
  client: pg.Client,
  listeners: readonly { channel: string; announced(payload: string): void }[],
): Promise<void> {
  client.on("notification", (message) => {
    for (const listener of listeners)
      if (listener.channel === message.channel) listener.announced(message.payload ?? "");
  });
  for (const channel of new Set(listeners.map((listener) => listener.channel))) {
    await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  }
}

/**
 * The rows of an announced sequence range that belong to the given users, in order (one query per
 * announcement, whatever the number of streams).
 * @param range - the inclusive range of sequence numbers one insert statement wrote
 * @param userIds - the users streaming in this process
 */
export function notificationsInRange(
  db: Db,
  range: InsertedRange,
  userIds: readonly string[],
): Promise<NotificationRow[]> {
  return select<NotificationRow>(
    db,
    `SELECT ${notificationColumns} FROM notifications n
      WHERE n.seq BETWEEN :low AND :high AND n.user_id = ANY(ARRAY[:userIds]::uuid[])
      ORDER BY n.seq`,
    { low: range.low, high: range.high, userIds: [...userIds] },
  );
}

/**
 * @returns how many unread notifications the user has: the count the database keeps in
 *   `notification_counts` (its triggers update it in every statement that writes notifications)
 */
export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [row] = await selectPrepared<{ unread: number }>(
    db,
    "SELECT unread FROM notification_counts WHERE user_id = :userId",
    {
      userId,
    },
  );
  return row?.unread ?? 0;
}

/**
 * Marks a user's unread notifications read: the listed ids, or all. Ids of other users' rows match nothing.
 * @returns how many were newly marked
 */
export async function markUnreadRead(
  db: TransactionDb,
  userId: string,
  selection: { ids: readonly string[]; all: boolean },
): Promise<number> {
  const { count } = await execute(
    db,
    `UPDATE notifications SET read_at = now()
      WHERE user_id = :userId AND read_at IS NULL ${selection.all ? "" : "AND id = ANY(CAST(ARRAY[:ids] AS uuid[]))"}`,
    { userId, ids: [...selection.ids] },
  );
  return count;
}

/** Each kind of recipients as a query of user ids; every one reads the users table, so unknown ids drop out. */
const recipientQueries: { [K in Recipients["kind"]]: string } = {
  users: "SELECT u.id FROM users u WHERE u.id = ANY(CAST(ARRAY[:userIds] AS uuid[]))",
  group: "SELECT u.id FROM users u WHERE u.group_id = :groupId",
  learningClass: "SELECT u.id FROM users u WHERE u.learning_class = :learningClass",
  everyone: "SELECT u.id FROM users u",
  students: `SELECT u.id FROM users u
              WHERE u.role = 'student'
                AND ((cardinality(CAST(ARRAY[:groupIds] AS uuid[])) = 0
                      AND cardinality(CAST(ARRAY[:learningClasses] AS text[])) = 0)
                     OR u.group_id = ANY(CAST(ARRAY[:groupIds] AS uuid[]))
                     OR u.learning_class = ANY(CAST(ARRAY[:learningClasses] AS text[])))`,
};

/** The replacements each recipients query reads (arrays copied, since sequelize wants mutable ones). */
function recipientValues(recipients: Recipients): Record<string, unknown> {
  switch (recipients.kind) {
    case "users":
      return { userIds: [...recipients.userIds] };
    case "group":
      return { groupId: recipients.groupId };
    case "learningClass":
      return { learningClass: recipients.learningClass };
    case "everyone":
      return {};
    case "students":
      return { groupIds: [...recipients.groupIds], learningClasses: [...recipients.learningClasses] };
  }
}

/**
 * Writes one notification per recipient in one INSERT … SELECT, so the statement count does not
 * depend on how many there are; the table's statement trigger announces the written range once.
 * @returns how many were written
 */
export async function insertNotifications(
  db: TransactionDb,
  recipients: Recipients,
  content: NotificationContent,
): Promise<number> {
  const { count } = await execute(
    db,
    `INSERT INTO notifications (user_id, type, payload)
     SELECT recipient.id, :type, CAST(:payload AS jsonb) FROM (${recipientQueries[recipients.kind]}) AS recipient`,
    { ...recipientValues(recipients), type: content.type, payload: JSON.stringify(content.payload) },
  );
  return count;
}

/** Any fixed number: one process purges at a time; the others skip that round. */
const RETENTION_LOCK_KEY = 746_102_314;

/**
 * Takes the retention job's transaction-scoped advisory lock if it is free.
 * @returns whether this transaction holds it now
 */
export async function tryRetentionLock(db: TransactionDb): Promise<boolean> {
  const [row] = await select<{ locked: boolean }>(db, "SELECT pg_try_advisory_xact_lock(:key) AS locked", {
    key: RETENTION_LOCK_KEY,
  });
  return row?.locked ?? false;
}

/**
 * Deletes up to `batch` read notifications read longer ago than `olderThanDays` (found through the
 * partial read_at index, without touching unread rows).
 * @returns how many were deleted
 */
export async function deleteOldReadNotifications(
  db: TransactionDb,
  olderThanDays: number,
  batch: number,
): Promise<number> {
  const { count } = await execute(
    db,
    `DELETE FROM notifications WHERE id IN (
       SELECT id FROM notifications
        WHERE read_at IS NOT NULL AND read_at < now() - make_interval(days => :days)
        LIMIT :batch)`,
    { days: olderThanDays, batch },
  );
  return count;
}

/**
 * Banners newest first (at most `limit`).
 * @param options.showingAt - only those active and inside their window at this instant; absent: all of them
 */
export function bannersNewestFirst(db: Db, options: { showingAt?: Date; limit: number }): Promise<Banner[]> {
  const now = options.showingAt;
  return Banner.findAll({
    where: now
      ? {
          active: true,
          [Op.and]: [
            { [Op.or]: [{ startsAt: null }, { startsAt: { [Op.lte]: now } }] },
            { [Op.or]: [{ endsAt: null }, { endsAt: { [Op.gt]: now } }] },
          ],
        }
      : {},
    order: [
      ["createdAt", "DESC"],
      ["id", "DESC"],
    ],
    limit: options.limit,
    transaction: db.transaction,
  });
}

/** A banner's stored fields. */
export interface BannerFields {
  text: string;
  severity: BannerSeverityName;
  active: boolean;
  startsAt: Date | null;
  endsAt: Date | null;
}

/** @returns the new banner */
export const insertBanner = (db: TransactionDb, fields: BannerFields): Promise<Banner> =>
  Banner.create(fields, { transaction: db.transaction });

/** @returns the banner, locked for the rest of the transaction, or null when there is none */
export const findBannerForUpdate = (db: TransactionDb, id: string): Promise<Banner | null> =>
  Banner.findByPk(id, { lock: db.transaction.LOCK.UPDATE, transaction: db.transaction });

/** Writes changed fields of a loaded banner. */
export const updateBannerRow = (db: TransactionDb, banner: Banner, changes: Partial<BannerFields>): Promise<Banner> =>
  banner.update(changes, { transaction: db.transaction });

/** @returns whether a banner was deleted */
export async function deleteBannerRow(db: TransactionDb, id: string): Promise<boolean> {
  return (await Banner.destroy({ where: { id }, transaction: db.transaction })) > 0;
}
