import type { Sequelize } from "sequelize";
import { selectPrepared } from "../db/db.js";
import type { Config } from "../config/index.js";
import { UnauthenticatedError } from "../errors/index.js";
import type { Actor, RoleName } from "./roles.js";
import type { SessionCache } from "./session-cache.js";
import { verifyAccessToken } from "./tokens.js";
import { isUuid } from "../validation/text.js";

const bearer = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/;

/** When a session (`sessions s`) still holds, by the database's clock; its user must exist too. */
export const sessionHolds = "s.revoked_at IS NULL AND s.expires_at > now()";

/** The per-request check of the caller's user and session (`:userId`, `:sessionId`); the benchmark's floor reuses it. */
export const sessionCheckSql = `SELECT u.id, u.role, s.expires_at AS "expiresAt"
       FROM users u
       JOIN sessions s ON s.user_id = u.id
      WHERE u.id = :userId AND s.id = :sessionId AND ${sessionHolds}`;

/** The refusal of a credential whose session no longer holds. */
export const sessionEndedError = () => UnauthenticatedError("This session has ended; sign in again.");

/**
 * Resolves the caller from an `Authorization: Bearer` header. The user and the session are read (one
 * indexed query), or taken from the process's session cache, which forgets a user as soon as the
 * database announces a change of their sessions or account (and trusts nothing longer than 5 s), so
 * deleting a user, changing a role, logging out or changing a password takes effect at once rather
 * than when the token expires.
 * @param authorization - the header value, empty when absent
 * @param settings - token settings
 * @param sequelize - the database
 * @param cache - the process's session cache; without it every call reads the database
 * @returns the caller, or undefined when no credential was sent
 * @throws AppError unauthenticated/token_expired for a credential that does not hold
 */
export async function authenticate(
  authorization: string,
  settings: Config["auth"],
  sequelize: Sequelize,
  cache?: SessionCache,
): Promise<Actor | undefined> {
  if (authorization === "") return undefined;
  const token = bearer.exec(authorization)?.[1];
  if (!token) throw UnauthenticatedError("Send the access token as `Authorization: Bearer <token>`.");
  const claims = await verifyAccessToken(token, settings);
  if (!isUuid(claims.userId) || !claims.sessionId || !isUuid(claims.sessionId)) {
    throw UnauthenticatedError("The access token is not valid.");
  }
  const cached = cache?.lookup(claims.userId, claims.sessionId);
  if (cached) return cached;
  const mark = cache?.mark();
  const [row] = await selectPrepared<{ id: string; role: RoleName; expiresAt: Date }>({ sequelize }, sessionCheckSql, {
    userId: claims.userId,
    sessionId: claims.sessionId,
  });
  if (!row) throw sessionEndedError();
  const actor = { id: row.id, role: row.role, sessionId: claims.sessionId };
  if (cache && mark !== undefined) cache.remember({ ...actor, expiresAt: row.expiresAt }, mark);
  return actor;
}
