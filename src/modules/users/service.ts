import { Op, QueryTypes, type Transaction, type WhereOptions } from "sequelize";
import { z } from "zod";
import { roleFromJSON } from "../../../generated/shtp/v1/users.js";
import { hashPassword, verifyPassword } from "../../auth/passwords.js";
import type { Actor, RoleName } from "../../auth/roles.js";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnauthenticatedError,
} from "../../errors/index.js";
import type { UploadedFile } from "../../storage/files.js";
import type { Services } from "../../services.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { escapeLike, isUuid } from "../../validation/text.js";
import { revokeSessions } from "../auth/service.js";
import { Group } from "../groups/group.model.js";
import { authorize, type UserAction } from "./policy.js";
import { AVATARS_FOLDER, roleFromProto } from "./presenter.js";
import type { UserListQuery } from "./schema.js";
import { User } from "./user.model.js";

const nameCursor = z.tuple([z.string(), z.string(), z.uuid()]);

/**
 * A page of users in name order, filtered; keyset-paged on the (last_name, first_name, id) index.
 * @param query - filters, limit and cursor
 */
export async function listUsers(query: UserListQuery): Promise<{ items: User[]; nextCursor: string }> {
  const conditions: WhereOptions[] = [];
  if (query.groupId) conditions.push({ groupId: query.groupId });
  if (query.role) conditions.push({ role: roleFromProto(roleFromJSON(query.role)) });
  if (query.learningClass !== undefined) conditions.push({ learningClass: query.learningClass });
  if (query.query) {
    const pattern = `%${escapeLike(query.query)}%`;
    conditions.push({
      [Op.or]: ["firstName", "lastName", "nickName", "email"].map((column) => ({ [column]: { [Op.iLike]: pattern } })),
    });
  }
  if (query.cursor) {
    const [lastName, firstName, id] = decodeCursor(query.cursor, nameCursor);
    conditions.push({
      [Op.or]: [
        { lastName: { [Op.gt]: lastName } },
        { lastName, firstName: { [Op.gt]: firstName } },
        { lastName, firstName, id: { [Op.gt]: id } },
      ],
    });
  }
  const rows = await User.findAll({
    where: { [Op.and]: conditions },
    order: [
      ["lastName", "ASC"],
      ["firstName", "ASC"],
      ["id", "ASC"],
    ],
    limit: query.limit + 1,
  });
  return pageOf(rows, query.limit, (user) => [user.lastName, user.firstName, user.id]);
}

/**
 * Loads a user by id or, failing the id form, by nickname (any case).
 * @throws AppError not_found
 */
export async function findProfile(idOrNickName: string): Promise<User> {
  const user = isUuid(idOrNickName)
    ? await User.findByPk(idOrNickName)
    : await User.findOne({ where: { nickName: { [Op.iLike]: escapeLike(idOrNickName) } } });
  if (!user) throw NotFoundError("The user");
  return user;
}

/**
 * Loads a user for staff to act on, locked for the rest of the transaction, and checks the policy.
 * @throws AppError not_found when missing, permission_denied when the policy refuses
 */
async function loadManagedUser(actor: Actor, id: string, action: UserAction, transaction: Transaction): Promise<User> {
  const user = await User.findByPk(id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!user) throw NotFoundError("The user");
  authorize(actor, action, user);
  return user;
}

async function assertGroupExists(groupId: string, transaction: Transaction): Promise<void> {
  const group = await Group.findByPk(groupId, { attributes: ["id"], transaction });
  if (!group)
    throw FailedPreconditionError("The group does not exist.", [{ field: "groupId", description: "No such group." }]);
}

/** Any fixed number: serialises the operations that may leave fewer admins (role changes, deletions). */
const ADMIN_CHANGES_LOCK_KEY = 746_102_313;

/**
 * Taken before any row lock by every operation that may demote or delete an admin. Without it, two
 * admins demoting each other each lock their target, then wait for the other's while locking every
 * admin row, and PostgreSQL breaks the deadlock by failing one of them (a 500).
 */
async function serialiseAdminChanges(transaction: Transaction): Promise<void> {
  const sequelize = User.sequelize;
  if (!sequelize) throw new Error("The User model is not initialised.");
  await sequelize.query("SELECT pg_advisory_xact_lock(:key)", {
    replacements: { key: ADMIN_CHANGES_LOCK_KEY },
    transaction,
  });
}

/**
 * The last admin may be neither deleted nor demoted. Every admin row is locked first, so two admins
 * demoting each other at once cannot both succeed; callers hold serialiseAdminChanges, so they do not
 * deadlock either.
 * @throws AppError failed_precondition
 */
async function assertAnotherAdminRemains(user: User, transaction: Transaction): Promise<void> {
  if (user.role !== "admin") return;
  const admins = await User.findAll({
    where: { role: "admin" },
    attributes: ["id"],
    lock: transaction.LOCK.UPDATE,
    transaction,
  });
  if (admins.every((admin) => admin.id === user.id)) {
    throw FailedPreconditionError("This is the last admin account; make another admin first.");
  }
}

/** The fields of a new account. */
export interface NewUser {
  email: string;
  nickName: string;
  firstName: string;
  lastName: string;
  role: RoleName;
  groupId: string;
  learningClass: string;
  password: string;
}

/**
 * Creates an account (teachers create students only).
 * @throws AppError permission_denied, failed_precondition for an unknown group; conflict on a taken email or nickname
 */
export async function createUser(actor: Actor, input: NewUser, transaction: Transaction): Promise<User> {
  authorize(actor, "create", input);
  await assertGroupExists(input.groupId, transaction);
  return User.create(
    {
      email: input.email.trim().toLowerCase(),
      nickName: input.nickName,
      firstName: input.firstName.trim(),
      lastName: input.lastName.trim(),
      role: input.role,
      groupId: input.groupId,
      learningClass: input.learningClass.trim(),
      passwordHash: await hashPassword(input.password),
    },
    { transaction },
  );
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
export async function updateOwnProfile(actor: Actor, changes: ProfileChanges, transaction: Transaction): Promise<User> {
  const user = await User.findByPk(actor.id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!user) throw UnauthenticatedError("The account of this token no longer exists.");
  return user.update(definedOnly(changes), { transaction });
}

/** Staff-editable fields; absent ones are left as they are. */
export interface AccountChanges {
  email?: string;
  nickName?: string;
  firstName?: string;
  lastName?: string;
  role?: RoleName;
  groupId?: string;
  learningClass?: string;
}

/**
 * Staff edit of an account: teachers edit students (never roles); admins edit anyone.
 * @throws AppError not_found, permission_denied, failed_precondition (unknown group, last admin), conflict
 */
export async function updateAccount(
  actor: Actor,
  id: string,
  changes: AccountChanges,
  transaction: Transaction,
): Promise<User> {
  if (changes.role !== undefined) await serialiseAdminChanges(transaction);
  const user = await loadManagedUser(actor, id, "update", transaction);
  if (changes.role !== undefined && changes.role !== user.role) {
    authorize(actor, "changeRole", user);
    if (changes.role !== "admin") await assertAnotherAdminRemains(user, transaction);
  }
  if (changes.groupId !== undefined) await assertGroupExists(changes.groupId, transaction);
  const update = definedOnly({
    ...changes,
    email: changes.email?.trim().toLowerCase(),
    firstName: changes.firstName?.trim(),
    lastName: changes.lastName?.trim(),
    learningClass: changes.learningClass?.trim(),
  });
  return user.update(update, { transaction });
}

/**
 * Changes the caller's own password and ends their other sessions. The current password is checked
 * against the same throttle as sign-in, so this cannot be used to guess it faster.
 * @throws AppError rate_limited, invalid_argument when the current password is wrong
 */
export async function changeOwnPassword(
  services: Services,
  actor: Actor,
  passwords: { currentPassword: string; newPassword: string; address: string },
  transaction: Transaction,
): Promise<void> {
  const user = await User.findByPk(actor.id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!user) throw UnauthenticatedError("The account of this token no longer exists.");
  await services.loginThrottle.assertAllowed(user.email, passwords.address);
  if (!(await verifyPassword(passwords.currentPassword, user.passwordHash))) {
    await services.loginThrottle.recordFailure(user.email, passwords.address);
    throw InvalidArgumentError("The current password is wrong.", [
      { field: "currentPassword", description: "Does not match." },
    ]);
  }
  await user.update({ passwordHash: await hashPassword(passwords.newPassword) }, { transaction });
  await revokeSessions({ sequelize: services.sequelize, transaction }, user.id, actor.sessionId);
}

/**
 * Staff sets a new password for an account and ends all its sessions.
 * @throws AppError not_found, permission_denied
 */
export async function resetPassword(
  actor: Actor,
  id: string,
  newPassword: string,
  transaction: Transaction,
): Promise<void> {
  const user = await loadManagedUser(actor, id, "resetPassword", transaction);
  await user.update({ passwordHash: await hashPassword(newPassword) }, { transaction });
  const sequelize = User.sequelize;
  if (!sequelize) throw new Error("The User model is not initialised.");
  await revokeSessions({ sequelize, transaction }, user.id);
}

/**
 * Deletes an account with its rows (sessions cascade) and, once committed, its files.
 * @throws AppError not_found, permission_denied, failed_precondition for the last admin
 */
export async function deleteUser(
  services: Services,
  actor: Actor,
  id: string,
  transaction: Transaction,
): Promise<void> {
  await serialiseAdminChanges(transaction);
  const user = await loadManagedUser(actor, id, "delete", transaction);
  await assertAnotherAdminRemains(user, transaction);
  // Each module collects what its rows name outside the database; the rows go with the user (ON
  // DELETE CASCADE) and the files once that has committed.
  await services.onUserDeleted({ sequelize: services.sequelize, transaction }, user.id);
  await user.destroy({ transaction });
}

/**
 * Replaces the caller's avatar. The new file is stored and recorded first; the old one is removed only
 * after that has committed, and the new one is removed if recording it fails.
 * @param file - the received image, already checked by content
 */
export async function replaceAvatar(services: Services, actor: Actor, file: UploadedFile): Promise<User> {
  const stored = await services.files.put(AVATARS_FOLDER, file);
  let previous: string | null = null;
  let user: User;
  try {
    user = await services.sequelize.transaction(async (transaction) => {
      const row = await User.findByPk(actor.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!row) throw UnauthenticatedError("The account of this token no longer exists.");
      previous = row.avatarFile;
      return row.update({ avatarFile: stored }, { transaction });
    });
  } catch (error) {
    await services.files.remove(AVATARS_FOLDER, stored);
    throw error;
  }
  await services.files.remove(AVATARS_FOLDER, previous);
  return user;
}

/** One leaderboard row. */
export interface LeaderboardRow {
  id: string;
  nickName: string;
  firstName: string;
  lastName: string;
  avatarFile: string | null;
  rating: number;
  rank: number;
}

/**
 * The top students by rating. The inner query walks the partial index (rating DESC, id) and stops at
 * `limit`; ranks are computed over those rows only, which is exact because everyone rated higher than
 * a row is in the prefix before it.
 * @param limit - 1..100
 */
export async function leaderboard(services: Services, limit: number): Promise<LeaderboardRow[]> {
  const rows = await services.sequelize.query<LeaderboardRow & { rank: string | number }>(
    `SELECT id, nick_name AS "nickName", first_name AS "firstName", last_name AS "lastName",
            avatar_file AS "avatarFile", rating, rank() OVER (ORDER BY rating DESC) AS rank
       FROM (SELECT id, nick_name, first_name, last_name, avatar_file, rating
               FROM users
              WHERE role = 'student'
              ORDER BY rating DESC, id
              LIMIT :limit) AS top
      ORDER BY rating DESC, id`,
    { replacements: { limit }, type: QueryTypes.SELECT },
  );
  return rows.map((row) => ({ ...row, rank: Number(row.rank) }));
}

/** Drops undefined keys, so an update touches only the fields the client sent. */
function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
