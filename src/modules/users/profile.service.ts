import { hashPassword, verifyPassword } from "../../auth/passwords.js";
import type { Actor } from "../../auth/roles.js";
import { inTransaction, type Db, type TransactionDb } from "../../db/db.js";
import { ConflictError, InvalidArgumentError, NotFoundError, UnauthenticatedError } from "../../errors/index.js";
import type { Services } from "../../services.js";
import { isUuid } from "../../validation/text.js";
import { revokeSessions } from "../auth/service.js";
import { findUser, findUserByNickName, updateUser } from "./queries.js";
import type { User } from "./user.model.js";

/**
 * Loads a user by id or, failing the id form, by nickname (any case).
 * @throws AppError not_found
 */
export async function findProfile(db: Db, idOrNickName: string): Promise<User> {
  const user = isUuid(idOrNickName) ? await findUser(db, idOrNickName) : await findUserByNickName(db, idOrNickName);
  if (!user) throw NotFoundError("The user");
  return user;
}

/** Own profile fields; absent ones are left as they are. */
export interface ProfileChanges {
  nickName?: string;
  aboutText?: string;
  socialLinks?: string[];
  techStack?: string[];
}

/**
 * Updates the caller's own profile with presence semantics.
 * @throws AppError conflict on a taken nickname
 */
export async function updateOwnProfile(db: TransactionDb, actor: Actor, changes: ProfileChanges): Promise<User> {
  return updateUser(db, await loadOwnAccount(db, actor), changes);
}

/**
 * Changes the caller's own password and ends their other sessions. The current password is checked
 * against the same throttle as sign-in, so this cannot be used to guess it faster. Both hashes are made
 * before the transaction: during a burst of sign-ins a hash waits seconds for its slot, which inside
 * the transaction held the caller's row locked and a connection idle. The change then applies only if
 * the password is still the one checked.
 * @param services - the login throttle
 * @param passwords - the current and the new password, and the client address
 * @throws AppError rate_limited, invalid_argument when the current password is wrong, conflict when the
 *   password was changed meanwhile (another session's change, a reset by staff)
 */
export async function changeOwnPassword(
  db: Db,
  services: Pick<Services, "loginThrottle">,
  actor: Actor,
  passwords: { currentPassword: string; newPassword: string; address: string },
): Promise<void> {
  const checked = await loadOwnAccount(db, actor);
  await services.loginThrottle.assertAllowed(checked.email, passwords.address);
  if (!(await verifyPassword(passwords.currentPassword, checked.passwordHash))) {
    await services.loginThrottle.recordFailure(checked.email, passwords.address);
    throw InvalidArgumentError("The current password is wrong.", [
      { field: "currentPassword", description: "Does not match." },
    ]);
  }
  const passwordHash = await hashPassword(passwords.newPassword);
  await inTransaction(db, async (tx) => {
    const user = await loadOwnAccount(tx, actor);
    if (user.passwordHash !== checked.passwordHash) {
      throw ConflictError("The password was changed while this change was checked; check the current one again.");
    }
    await updateUser(tx, user, { passwordHash });
    await revokeSessions(tx, user.id, actor.sessionId);
  });
}

/**
 * The caller's own row, locked for the change that follows when read in a transaction.
 * @throws AppError unauthenticated when the account went after the token was checked
 */
export async function loadOwnAccount(db: Db, actor: Actor): Promise<User> {
  const user = await findUser(db, actor.id, { lock: true });
  if (!user) throw UnauthenticatedError("The account of this token no longer exists.");
  return user;
}
