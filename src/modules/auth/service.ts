import { createHash, randomBytes } from "node:crypto";
import { hashPassword, needsRehash, UNUSABLE_PASSWORD_HASH, verifyPassword } from "../../auth/passwords.js";
import type { Actor } from "../../auth/roles.js";
import { forgetSessions } from "../../auth/session-cache.js";
import { issueAccessToken, type TokenSettings } from "../../auth/tokens.js";
import { inTransaction, type Db, type TransactionDb } from "../../db/db.js";
import { NotFoundError, UnauthenticatedError } from "../../errors/index.js";
import type { Services } from "../../services.js";
import { findUserByEmail, updateUser } from "../users/queries.js";
import {
  findMe,
  findRefreshToken,
  findSession,
  insertRefreshToken,
  insertSession,
  insertStreamTicket,
  markRefreshTokenUsed,
  revokeSession,
  revokeUserSessions,
  useStreamTicket,
  type MeRow,
} from "./queries.js";
import type { Session } from "./session.model.js";

/** The tokens a sign-in or refresh hands out. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  sessionId: string;
}

/** Refresh tokens and stream tickets: 32 random bytes, 43 characters of base64url. */
const newSecret = () => randomBytes(32).toString("base64url");
const secretFormat = /^[A-Za-z0-9_-]{43}$/;
const digest = (token: string) => createHash("sha256").update(token).digest();
const secondsFromNow = (seconds: number) => new Date(Date.now() + seconds * 1000);

/**
 * Opens a session for a user and issues its first token pair.
 * @param auth - token settings
 * @param userId - the signed-in user
 */
export async function startSession(db: TransactionDb, auth: TokenSettings, userId: string): Promise<IssuedTokens> {
  const session = await insertSession(db, userId, secondsFromNow(auth.sessionMaxAgeSeconds));
  return issueTokens(db, auth, session);
}

async function issueTokens(db: TransactionDb, auth: TokenSettings, session: Session): Promise<IssuedTokens> {
  const refreshToken = newSecret();
  const expiresAt = new Date(
    Math.min(secondsFromNow(auth.refreshTokenTtlSeconds).getTime(), session.expiresAt.getTime()),
  );
  await insertRefreshToken(db, { sessionId: session.id, tokenHash: digest(refreshToken), expiresAt });
  const accessToken = await issueAccessToken({ userId: session.userId, sessionId: session.id }, auth);
  return { accessToken, refreshToken, expiresIn: auth.accessTokenTtlSeconds, sessionId: session.id };
}

/**
 * Signs a user in by email and password. Unknown email and wrong password answer alike, in time too.
 * The session is written in a transaction of its own, after the password check and the throttle.
 * @param services - the token settings and the login throttle
 * @param credentials - email (lowercased by the request schema), password and the client address
 * @throws AppError rate_limited when the account or address has failed too often, unauthenticated otherwise
 */
export async function login(
  db: Db,
  services: Pick<Services, "config" | "loginThrottle">,
  credentials: { email: string; password: string; address: string },
): Promise<IssuedTokens> {
  const { loginThrottle } = services;
  const { email, password, address } = credentials;
  await loginThrottle.assertAllowed(email, address);
  const user = await findUserByEmail(db, email);
  const matches = await verifyPassword(password, user?.passwordHash ?? UNUSABLE_PASSWORD_HASH);
  if (!user || !matches) {
    await loginThrottle.recordFailure(email, address);
    throw UnauthenticatedError("The email or password is wrong.");
  }
  await loginThrottle.recordSuccess(email);
  if (needsRehash(user.passwordHash)) await updateUser(db, user, { passwordHash: await hashPassword(password) });
  return inTransaction(db, (tx) => startSession(tx, services.config.auth, user.id));
}

/**
 * Trades a refresh token for a new pair. A token is good once: presenting a used one again means it
 * was stolen or replayed, so its whole session is revoked, and that revocation is committed (in the
 * service's own transaction) before the 401 is answered.
 * @param auth - token settings
 * @throws AppError unauthenticated for an unknown, expired, used or revoked token
 */
export async function refresh(db: Db, auth: TokenSettings, refreshToken: string): Promise<IssuedTokens> {
  const outcome = await inTransaction(db, async (tx) => {
    const token = await findRefreshToken(tx, digest(refreshToken), { lock: true });
    if (!token) return { refused: "The refresh token is not valid." } as const;
    const session = await findSession(tx, token.sessionId, { lock: true });
    const now = new Date();
    if (!session || session.revokedAt || session.expiresAt <= now)
      return { refused: "This session has ended; sign in again." } as const;
    if (token.usedAt) {
      await endSession(tx, session.id, now);
      return { refused: "This refresh token was already used; the session has been ended for safety." } as const;
    }
    if (token.expiresAt <= now) return { refused: "The refresh token has expired; sign in again." } as const;
    await markRefreshTokenUsed(tx, token, now);
    return { tokens: await issueTokens(tx, auth, session) } as const;
  });
  if ("refused" in outcome) throw UnauthenticatedError(outcome.refused);
  return outcome.tokens;
}

/**
 * Ends the session a refresh token belongs to. Unknown tokens are ignored, so logout is idempotent.
 * @param refreshToken - any token of the session
 */
export async function logout(db: TransactionDb, refreshToken: string): Promise<void> {
  const token = await findRefreshToken(db, digest(refreshToken));
  if (token) await endSession(db, token.sessionId, new Date());
}

/** Revokes one session, and makes this process's session cache forget it (others hear it at commit). */
async function endSession(db: TransactionDb, sessionId: string, at: Date): Promise<void> {
  await revokeSession(db, sessionId, at);
  forgetSessions(db, sessionId);
}

/** A stream ticket as minted: the secret (stored only as its digest) and its lifetime. */
export interface IssuedStreamTicket {
  ticket: string;
  expiresIn: number;
}

/**
 * Mints a single-use stream ticket for a session: what a browser's EventSource, which cannot send an
 * Authorization header, presents instead to open the notification stream.
 * @param auth - token settings (the ticket's lifetime)
 * @param sessionId - the caller's session; the ticket ends with it
 */
export async function issueStreamTicket(db: Db, auth: TokenSettings, sessionId: string): Promise<IssuedStreamTicket> {
  const ticket = newSecret();
  await insertStreamTicket(db, { sessionId, ticketHash: digest(ticket), ttlSeconds: auth.streamTicketTtlSeconds });
  return { ticket, expiresIn: auth.streamTicketTtlSeconds };
}

/**
 * The caller a stream ticket was minted for; the ticket is used up by this call. Every refusal reads
 * the same, so a ticket's state cannot be probed.
 * @param db - the database, outside any transaction (the use commits at once)
 * @param ticket - the ticket as presented
 * @throws AppError unauthenticated for an unknown, used or expired ticket, or one whose session has ended
 */
export async function authenticateStreamTicket(db: Db, ticket: string): Promise<Actor> {
  const actor = secretFormat.test(ticket) ? await useStreamTicket(db, digest(ticket)) : undefined;
  if (!actor) {
    throw UnauthenticatedError("The stream ticket is unknown, used, expired or of an ended session; get a new one.");
  }
  return actor;
}

/**
 * Ends every session of a user but `exceptSessionId` (a password change keeps the caller signed in).
 * Session caches forget the user at commit (this process's at once), so the ended ones stop working at once.
 * @param userId - whose sessions
 * @param exceptSessionId - the one session to keep, if any
 */
export async function revokeSessions(db: Db, userId: string, exceptSessionId?: string): Promise<void> {
  await revokeUserSessions(db, userId, exceptSessionId, new Date());
  forgetSessions(db, userId);
}

export type { MeRow as Me } from "./queries.js";

/**
 * The signed-in user with their unread count and medals.
 * @throws AppError not_found when the account went between authentication and this read
 */
export async function me(db: Db, userId: string): Promise<MeRow> {
  const found = await findMe(db, userId);
  if (!found) throw NotFoundError("The user");
  return found;
}
