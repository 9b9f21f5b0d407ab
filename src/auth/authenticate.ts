import type { Config } from "../config/index.js";
import { UnauthenticatedError } from "../errors/index.js";
import { User } from "../modules/users/user.model.js";
import type { Actor } from "./roles.js";
import { verifyAccessToken } from "./tokens.js";

const bearer = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resolves the caller from an `Authorization: Bearer` header. The user is read on every request, so a
 * deleted user or a changed role takes effect at once rather than when the token expires.
 * @param authorization - the header value, empty when absent
 * @param settings - token settings
 * @returns the caller, or undefined when no credential was sent
 * @throws AppError unauthenticated/token_expired for a credential that does not hold
 */
export async function authenticate(authorization: string, settings: Config["auth"]): Promise<Actor | undefined> {
  if (authorization === "") return undefined;
  const token = bearer.exec(authorization)?.[1];
  if (!token) throw UnauthenticatedError("Send the access token as `Authorization: Bearer <token>`.");
  const claims = await verifyAccessToken(token, settings);
  if (!uuid.test(claims.userId)) throw UnauthenticatedError("The access token is not valid.");
  const user = await User.findByPk(claims.userId, { attributes: ["id", "role"] });
  if (!user) throw UnauthenticatedError("The account of this token no longer exists.");
  return { id: user.id, role: user.role };
}
