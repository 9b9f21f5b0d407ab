import { hashPassword, hashPasswords } from "../../auth/passwords.js";
import type { Actor, RoleName } from "../../auth/roles.js";
import { inTransaction, type Db, type TransactionDb } from "../../db/db.js";
import { FailedPreconditionError, NotFoundError } from "../../errors/index.js";
import type { Services } from "../../services.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { forgetSessions } from "../../auth/session-cache.js";
import { revokeSessions } from "../auth/service.js";
import { assertGroupsExist } from "../groups/service.js";
import { authorize, type UserAction } from "./policy.js";
import {
  deleteUserRow,
  findUser,
  insertUsers,
  lockAdminChanges,
  lockedAdminIds,
  updateUser,
  usersAfter,
  type UserFilters,
} from "./queries.js";
import { userNameCursor } from "./schema.js";
import type { User } from "./user.model.js";

/**
 * A new account: its fields in the form they are stored in (the request schema, the CSV row schema
 * or NewAccountSchema has trimmed and lowercased them), and its password in clear, to be hashed.
 */
export interface NewAccount {
  email: string;
  nickName: string;
  firstName: string;
  lastName: string;
  role: RoleName;
  groupId: string;
  learningClass: string;
  password: string;
}

/** A new account with its password hashed, ready to insert. */
export type HashedAccount = Omit<NewAccount, "password"> & { passwordHash: string };

/**
 * Hashes the accounts' passwords, about 200 ms of a core each. Callers creating many accounts (the CSV
 * import) hash them before their transaction opens, so it never sits idle while they are hashed.
 * @returns the accounts in the same order, each with its hash instead of its password
 */
export async function hashAccounts(accounts: readonly NewAccount[]): Promise<HashedAccount[]> {
  const hashes = await hashPasswords(accounts.map((account) => account.password));
  // Field by field: callers pass rows that carry more (an import's line number and group name).
  return accounts.map((account, index) => ({
    email: account.email,
    nickName: account.nickName,
    firstName: account.firstName,
    lastName: account.lastName,
    role: account.role,
    groupId: account.groupId,
    learningClass: account.learningClass,
    passwordHash: hashes[index] ?? "",
  }));
}

/**
 * The one way accounts are created, by staff, the CSV import, the first boot and the create-admin
 * command: passwords hashed, rows inserted in one statement. Whether the caller may create them and
 * whether their groups exist is for the caller to check first.
 * @param accounts - the accounts, in order
 * @returns the stored rows, in the same order
 * @throws a unique violation (answered as 409) on a taken email or nickname
 */
export async function createAccounts(db: TransactionDb, accounts: readonly NewAccount[]): Promise<User[]> {
  return insertAccounts(db, await hashAccounts(accounts));
}

/**
 * Inserts accounts whose passwords `hashAccounts` hashed, in one statement.
 * @returns the stored rows, in the same order
 * @throws a unique violation (answered as 409) on a taken email or nickname
 */
export async function insertAccounts(db: TransactionDb, accounts: readonly HashedAccount[]): Promise<User[]> {
  if (accounts.length === 0) return [];
  return insertUsers(db, accounts);
}

/**
 * A page of users in name order, filtered; keyset-paged on the (last_name, first_name, id) index.
 * @param query - filters, limit and cursor
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listUsers(
  db: Db,
  query: UserFilters & { limit: number; cursor?: string },
): Promise<{ items: User[]; nextCursor: string }> {
  const after = query.cursor ? decodeCursor(query.cursor, userNameCursor) : undefined;
  const rows = await usersAfter(db, query, after, query.limit + 1);
  return pageOf(rows, query.limit, (user) => [user.lastName, user.firstName, user.id]);
}

/**
 * Creates an account (teachers create students only).
 * @throws AppError permission_denied, failed_precondition for an unknown group; conflict on a taken email or nickname
 */
export async function createUser(db: TransactionDb, actor: Actor, input: NewAccount): Promise<User> {
  authorize(actor, "create", input);
  await assertGroupsExist(db, [{ id: input.groupId, field: "groupId" }]);
  const [user] = await createAccounts(db, [input]);
  if (!user) throw new Error("Inserting one account returned no row.");
  return user;
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
  db: TransactionDb,
  actor: Actor,
  id: string,
  changes: AccountChanges,
): Promise<User> {
  if (changes.role !== undefined) await lockAdminChanges(db);
  const user = await loadManagedUser(db, actor, id, "update");
  if (changes.role !== undefined && changes.role !== user.role) {
    authorize(actor, "changeRole", user);
    if (changes.role !== "admin") await assertAnotherAdminRemains(db, user);
  }
  if (changes.groupId !== undefined) await assertGroupsExist(db, [{ id: changes.groupId, field: "groupId" }]);
  // The session check reads the role: cached checks of this user must be read again.
  if (changes.role !== undefined && changes.role !== user.role) forgetSessions(db, user.id);
  return updateUser(db, user, changes);
}

/**
 * Staff sets a new password for an account and ends all its sessions.
 * @throws AppError not_found, permission_denied
 */
export async function resetPassword(db: Db, actor: Actor, id: string, newPassword: string): Promise<void> {
  // Checked before the hash as well, so a refused reset costs none. The hash is made outside the
  // transaction: during a burst of sign-ins it waits seconds for its slot, the account's row locked.
  await loadManagedUser(db, actor, id, "resetPassword");
  const passwordHash = await hashPassword(newPassword);
  await inTransaction(db, async (tx) => {
    const user = await loadManagedUser(tx, actor, id, "resetPassword");
    await updateUser(tx, user, { passwordHash });
    await revokeSessions(tx, user.id);
  });
}

/**
 * Deletes an account with its rows (sessions cascade) and, once committed, its files.
 * @param services - every module's deletion hook
 * @throws AppError not_found, permission_denied, failed_precondition for the last admin
 */
export async function deleteUser(
  db: TransactionDb,
  services: Pick<Services, "onUserDeleted">,
  actor: Actor,
  id: string,
): Promise<void> {
  await lockAdminChanges(db);
  const user = await loadManagedUser(db, actor, id, "delete");
  await assertAnotherAdminRemains(db, user);
  // Each module collects what its rows name outside the database; the rows go with the user (ON
  // DELETE CASCADE) and the files once that has committed.
  await services.onUserDeleted(db, user.id);
  await deleteUserRow(db, user);
  forgetSessions(db, user.id);
}

/**
 * Loads a user for staff to act on, locked for the rest of the transaction, and checks the policy.
 * @throws AppError not_found when missing, permission_denied when the policy refuses
 */
async function loadManagedUser(db: Db, actor: Actor, id: string, action: UserAction): Promise<User> {
  const user = await findUser(db, id, { lock: true });
  if (!user) throw NotFoundError("The user");
  authorize(actor, action, user);
  return user;
}

/**
 * The last admin may be neither deleted nor demoted. Every admin row is locked first, so two admins
 * demoting each other at once cannot both succeed. Callers hold the admin-changes lock, taken before
 * any row lock: without it, two admins demoting each other each lock their target, then wait for the
 * other's while locking every admin row, and PostgreSQL breaks the deadlock by failing one (a 500).
 * @throws AppError failed_precondition
 */
async function assertAnotherAdminRemains(db: TransactionDb, user: User): Promise<void> {
  if (user.role !== "admin") return;
  const admins = await lockedAdminIds(db);
  if (admins.every((adminId) => adminId === user.id)) {
    throw FailedPreconditionError("This is the last admin account; make another admin first.");
  }
}
