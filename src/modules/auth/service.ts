import { createHash, randomBytes } from "node:crypto";
import { Op, type Transaction } from "sequelize";
import { hashPassword, needsRehash, UNUSABLE_PASSWORD_HASH, verifyPassword } from "../../auth/passwords.js";
import { issueAccessToken, type TokenSettings } from "../../auth/tokens.js";
import { UnauthenticatedError } from "../../errors/index.js";
import type { Services } from "../../services.js";
import { User } from "../users/user.model.js";
import { RefreshToken, Session } from "./session.model.js";

/** The tokens a sign-in or refresh hands out. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  sessionId: string;
}

const digest = (token: string) => createHash("sha256").update(token).digest();
const secondsFromNow = (seconds: number) => new Date(Date.now() + seconds * 1000);

/**
 * Opens a session for a user and issues its first token pair.
 * @param auth - token settings
 * @param userId - the signed-in user
 * @param transaction - the caller's transaction, if any
 */
export async function startSession(
  auth: TokenSettings,
  userId: string,
  transaction?: Transaction,
): Promise<IssuedTokens> {
  const session = await Session.create(
    { userId, expiresAt: secondsFromNow(auth.sessionMaxAgeSeconds) },
    { transaction },
  );
  return issueTokens(auth, session, transaction);
}

async function issueTokens(auth: TokenSettings, session: Session, transaction?: Transaction): Promise<IssuedTokens> {
  const refreshToken = randomBytes(32).toString("base64url");
  const expiresAt = new Date(
    Math.min(secondsFromNow(auth.refreshTokenTtlSeconds).getTime(), session.expiresAt.getTime()),
  );
  await RefreshToken.create({ sessionId: session.id, tokenHash: digest(refreshToken), expiresAt }, { transaction });
  const accessToken = await issueAccessToken({ userId: session.userId, sessionId: session.id }, auth);
  return { accessToken, refreshToken, expiresIn: auth.accessTokenTtlSeconds, sessionId: session.id };
}

/**
 * Signs a user in by email and password. Unknown email and wrong password answer alike, in time too.
 * @param services - config, database and the login throttle
 * @param credentials - email, password and the client address
 * @throws AppError rate_limited when the account or address has failed too often, unauthenticated otherwise
 */
export async function login(
  services: Services,
  credentials: { email: string; password: string; address: string },
): Promise<IssuedTokens> {
  const { loginThrottle, sequelize } = services;
  const email = credentials.email.trim().toLowerCase();
  await loginThrottle.assertAllowed(email, credentials.address);
  const user = await User.findOne({ where: sequelize.where(sequelize.fn("lower", sequelize.col("email")), email) });
  const matches = await verifyPassword(credentials.password, user?.passwordHash ?? UNUSABLE_PASSWORD_HASH);
  if (!user || !matches) {
    await loginThrottle.recordFailure(email, credentials.address);
    throw UnauthenticatedError("The email or password is wrong.");
  }
  await loginThrottle.recordSuccess(email);
  if (needsRehash(user.passwordHash)) await user.update({ passwordHash: await hashPassword(credentials.password) });
  return sequelize.transaction((transaction) => startSession(services.config.auth, user.id, transaction));
}

/**
 * Trades a refresh token for a new pair. A token is good once: presenting a used one again means it
 * was stolen or replayed, so its whole session is revoked, and that revocation is committed before
 * the 401 is answered.
 * @throws AppError unauthenticated for an unknown, expired, used or revoked token
 */
export async function refresh(services: Services, refreshToken: string): Promise<IssuedTokens> {
  const outcome = await services.sequelize.transaction(async (transaction) => {
    const token = await RefreshToken.findOne({
      where: { tokenHash: digest(refreshToken) },
      lock: transaction.LOCK.UPDATE,
      transaction,
    });
    if (!token) return { refused: "The refresh token is not valid." } as const;
    const session = await Session.findByPk(token.sessionId, { lock: transaction.LOCK.UPDATE, transaction });
    const now = new Date();
    if (!session || session.revokedAt || session.expiresAt <= now)
      return { refused: "This session has ended; sign in again." } as const;
    if (token.usedAt) {
      await session.update({ revokedAt: now }, { transaction });
      return { refused: "This refresh token was already used; the session has been ended for safety." } as const;
    }
    if (token.expiresAt <= now) return { refused: "The refresh token has expired; sign in again." } as const;
    await token.update({ usedAt: now }, { transaction });
    return { tokens: await issueTokens(services.config.auth, session, transaction) } as const;
  });
  if ("refused" in outcome) throw UnauthenticatedError(outcome.refused);
  return outcome.tokens;
}

/**
 * Ends the session a refresh token belongs to. Unknown tokens are ignored, so logout is idempotent.
 * @param refreshToken - any token of the session
 */
export async function logout(refreshToken: string, transaction?: Transaction): Promise<void> {
  const token = await RefreshToken.findOne({ where: { tokenHash: digest(refreshToken) }, transaction });
  if (token)
    await Session.update({ revokedAt: new Date() }, { where: { id: token.sessionId, revokedAt: null }, transaction });
}

/**
 * Ends every session of a user but `keepSessionId` (password change keeps the caller signed in).
 * @param userId - whose sessions
 * @param keepSessionId - the one session to keep, if any
 */
export async function revokeSessions(
  userId: string,
  keepSessionId: string | undefined,
  transaction?: Transaction,
): Promise<void> {
  await Session.update(
    { revokedAt: new Date() },
    {
      where: { userId, revokedAt: null, ...(keepSessionId ? { id: { [Op.ne]: keepSessionId } } : {}) },
      transaction,
    },
  );
}
