import { Op } from "sequelize";
import type { Db, TransactionDb } from "../../db/db.js";
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
