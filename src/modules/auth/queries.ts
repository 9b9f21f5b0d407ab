import { Op } from "sequelize";
import { sessionHolds } from "../../auth/authenticate.js";
import type { Actor } from "../../auth/roles.js";
import { arrayParam, execute, select, selectPrepared, type Db, type TransactionDb } from "../../db/db.js";
import type { MedalName } from "../medals/catalogue.js";
import type { MedalAwardRow } from "../medals/service.js";
import type { UserFields } from "../users/user.model.js";
import { RefreshToken, Session } from "./session.model.js";

/**
 * @param expiresAt - when the sign-in ends however often it is refreshed
 * @returns the new session
 */
export const insertSession = (db: TransactionDb, userId: string, expiresAt: Date): Promise<Session> =>
  Session.create({ userId, expiresAt }, { transaction: db.transaction });

/**
 * @param options.lock - lock the row for the rest of the transaction (a change follows)
 * @returns the session, or null when there is none
 */
export function findSession(db: Db, id: string, options: { lock?: boolean } = {}): Promise<Session | null> {
  const lock = options.lock && db.transaction ? db.transaction.LOCK.UPDATE : undefined;
  return Session.findByPk(id, { transaction: db.transaction, lock });
}

/** Records a refresh token of a session by its digest (the token itself is never stored). */
export async function insertRefreshToken(
  db: TransactionDb,
  token: { sessionId: string; tokenHash: Buffer; expiresAt: Date },
): Promise<void> {
  await RefreshToken.create(token, { transaction: db.transaction });
}

/**
 * @param tokenHash - the SHA-256 digest of the presented token
 * @param options.lock - lock the row for the rest of the transaction (it is about to be used)
 * @returns the token's row, or null when no token has this digest
 */
export function findRefreshToken(
  db: Db,
  tokenHash: Buffer,
  options: { lock?: boolean } = {},
): Promise<RefreshToken | null> {
  const lock = options.lock && db.transaction ? db.transaction.LOCK.UPDATE : undefined;
  return RefreshToken.findOne({ where: { tokenHash }, transaction: db.transaction, lock });
}

/** Marks a loaded refresh token used, so presenting it again is a replay. */
export async function markRefreshTokenUsed(db: TransactionDb, token: RefreshToken, at: Date): Promise<void> {
  await token.update({ usedAt: at }, { transaction: db.transaction });
}

/** A session that still holds: whose it is, and how long it has left by the database's clock. */
export interface LiveSession {
  userId: string;
  msLeft: number;
}

/**
 * Which of the given sessions still hold (not revoked, not expired, their user still there), as the
 * per-request session check judges them; a caller also compares the user, as that check does.
 * @returns each live session by id
 */
export async function liveSessions(db: Db, sessionIds: readonly string[]): Promise<Map<string, LiveSession>> {
  const rows = await select<{ id: string; userId: string; msLeft: number }>(
    db,
    `SELECT s.id, s.user_id AS "userId", (extract(epoch FROM s.expires_at - now()) * 1000)::float8 AS "msLeft"
       FROM sessions s
       JOIN users u ON u.id = s.user_id
      WHERE s.id = ANY(${arrayParam("sessionIds", sessionIds, "uuid")}) AND ${sessionHolds}`,
    { sessionIds: [...sessionIds] },
  );
  return new Map(rows.map(({ id, userId, msLeft }) => [id, { userId, msLeft }]));
}

/** Ends one session, unless it has ended already. */
export async function revokeSession(db: Db, sessionId: string, at: Date): Promise<void> {
  await Session.update({ revokedAt: at }, { where: { id: sessionId, revokedAt: null }, transaction: db.transaction });
}

/** Ends every live session of a user but `exceptSessionId`. */
export async function revokeUserSessions(
  db: Db,
  userId: string,
  exceptSessionId: string | undefined,
  at: Date,
): Promise<void> {
  await Session.update(
    { revokedAt: at },
    {
      where: { userId, revokedAt: null, ...(exceptSessionId ? { id: { [Op.ne]: exceptSessionId } } : {}) },
      transaction: db.transaction,
    },
  );
}

/**
 * Stores a stream ticket of a session by its digest, valid `ttlSeconds` by the database's clock (the one
 * redemption reads, whichever process it runs on). The same statement purges expired tickets, so the
 * table holds about a minute's worth.
 */
export async function insertStreamTicket(
  db: Db,
  ticket: { sessionId: string; ticketHash: Buffer; ttlSeconds: number },
): Promise<void> {
  await execute(
    db,
    `WITH purged AS (DELETE FROM stream_tickets WHERE expires_at < now())
     INSERT INTO stream_tickets (ticket_hash, session_id, expires_at)
     VALUES (:ticketHash, :sessionId, now() + make_interval(secs => :ttlSeconds))`,
    ticket,
  );
}

/**
 * Uses a stream ticket: one statement marks it used only if it is unused, unexpired and its session
 * is live, so of two requests racing with the same ticket exactly one gets the caller.
 * @param ticketHash - the SHA-256 digest of the presented ticket
 * @returns the caller the ticket was minted for, or undefined when it does not hold
 */
export async function useStreamTicket(db: Db, ticketHash: Buffer): Promise<Actor | undefined> {
  const { rows } = await execute<Actor>(
    db,
    `UPDATE stream_tickets t
        SET used_at = now()
       FROM sessions s
       JOIN users u ON u.id = s.user_id
      WHERE t.ticket_hash = :ticketHash AND t.used_at IS NULL AND t.expires_at > now()
        AND s.id = t.session_id AND ${sessionHolds}
      RETURNING u.id, u.role, s.id AS "sessionId"`,
    { ticketHash },
  );
  return rows[0];
}

/** What `/auth/me` shows: the caller's row, their unread notification count and their medals. */
export interface MeRow {
  user: UserFields;
  unreadNotifications: number;
  medals: MedalAwardRow[];
}

/**
 * The user with their unread count and medals in one statement: one round trip and one connection
 * rather than three, on the route every client calls at start-up and after each change of screen. It
 * reads the notifications module's kept counter (`notification_counts`, 0 for a user who never had a
 * notification) and the medals module's awards in award order, as other modules' statements join users.
 * @returns the row, or null when there is no such user
 */
export async function findMe(db: Db, userId: string): Promise<MeRow | null> {
  const [row] = await selectPrepared<
    UserFields & { unreadNotifications: number; medals: { medal: MedalName; awardedAt: string }[] }
  >(
    db,
    `SELECT u.id, u.email, u.nick_name AS "nickName", u.first_name AS "firstName", u.last_name AS "lastName",
            u.role, u.group_id AS "groupId", u.learning_class AS "learningClass", u.rating,
            u.about_text AS "aboutText", u.social_links AS "socialLinks", u.tech_stack AS "techStack",
            u.avatar_file AS "avatarFile", u.created_at AS "createdAt", u.updated_at AS "updatedAt",
            coalesce((SELECT c.unread FROM notification_counts c WHERE c.user_id = u.id), 0) AS "unreadNotifications",
            coalesce((SELECT json_agg(json_build_object('medal', m.medal, 'awardedAt', m.awarded_at)
                                      ORDER BY m.awarded_at, m.medal)
                        FROM user_medals m WHERE m.user_id = u.id), '[]') AS medals
       FROM users u
      WHERE u.id = :userId`,
    { userId },
  );
  if (!row) return null;
  const { unreadNotifications, medals, ...user } = row;
  // JSON carries the award instants as text.
  const awards = medals.map((award) => ({ medal: award.medal, awardedAt: new Date(award.awardedAt) }));
  return { user, unreadNotifications, medals: awards };
}
