import { randomBytes, randomUUID } from "node:crypto";
import type { RoleName } from "../auth/roles.js";
import type { Config } from "../config/index.js";
import { inTransaction } from "../db/db.js";
import { startSession, type IssuedTokens } from "../modules/auth/service.js";
import { createAccounts } from "../modules/users/accounts.service.js";
import { Group } from "../modules/groups/group.model.js";
import { User } from "../modules/users/user.model.js";
import { testDatabase } from "./database.js";

const unique = () => randomUUID().slice(0, 8);

/**
 * Creates a group with a unique name.
 * @param overrides - fields to set
 */
export async function buildGroup(overrides: Partial<{ name: string }> = {}): Promise<Group> {
  return Group.create({ name: overrides.name ?? `Group ${unique()}` });
}

/**
 * Creates a user, and a group for it unless one is given. The password hash is a placeholder that
 * matches no password; sign-in tests set a real one.
 * @param overrides - fields to set
 */
export async function buildUser(
  overrides: Partial<{ role: RoleName; groupId: string; email: string; nickName: string; learningClass: string }> = {},
): Promise<User> {
  const tag = unique();
  return User.create({
    email: overrides.email ?? `user-${tag}@example.test`,
    nickName: overrides.nickName ?? `user_${tag}`,
    firstName: "Test",
    lastName: `User ${tag}`,
    role: overrides.role ?? "student",
    groupId: overrides.groupId ?? (await buildGroup()).id,
    learningClass: overrides.learningClass ?? "",
    passwordHash: "unusable",
  });
}

/**
 * Creates a group with `size` students, inserted in one statement (for audiences of hundreds).
 * @returns the group's id
 */
export async function buildGroupOfStudents(size: number, overrides: { learningClass?: string } = {}): Promise<string> {
  const group = await buildGroup();
  const tag = unique();
  await testDatabase().database.sequelize.query(
    `INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, learning_class, password_hash)
     SELECT 'bulk-' || :tag || '-' || i || '@example.test', 'bulk_' || :tag || '_' || i, 'Bulk', 'User ' || i,
            'student', :groupId, :learningClass, 'unusable'
       FROM generate_series(1, :size) AS i`,
    { replacements: { tag, groupId: group.id, size, learningClass: overrides.learningClass ?? "" } },
  );
  return group.id;
}

/**
 * Opens a real session for `user`, as a login would.
 * @param user - the subject
 * @param config - the server's configuration (its secret, issuer and audience)
 * @returns the session's id and its first token pair
 */
export const sessionFor = (user: { id: string }, config: Config): Promise<IssuedTokens> =>
  inTransaction({ sequelize: testDatabase().database.sequelize }, (db) => startSession(db, config.auth, user.id));

/**
 * Opens a real session for `user`, as a login would, and returns its access token.
 * @param user - the subject
 * @param config - the server's configuration (its secret, issuer and audience)
 */
export const tokenFor = async (user: { id: string }, config: Config): Promise<string> =>
  (await sessionFor(user, config)).accessToken;

/** A signed-in user: their id and an access token of a real session. */
export interface Caller {
  id: string;
  token: string;
}

/**
 * Creates a user of `role` (and a group, unless one is given) and signs them in.
 * @param config - the server's configuration (its secret, issuer and audience)
 */
export async function buildCaller(
  config: Config,
  role: RoleName,
  overrides: { groupId?: string; learningClass?: string } = {},
): Promise<Caller> {
  const user = await buildUser({ role, ...overrides });
  return { id: user.id, token: await tokenFor(user, config) };
}

/**
 * Creates an account with a real password, as staff would, for tests that sign in.
 * @param role - its role
 * @returns its id, its email (stored in lower case) and its password
 */
export async function buildAccount(
  role: RoleName = "student",
): Promise<{ id: string; email: string; password: string }> {
  const tag = unique();
  const password = `pw-${randomBytes(9).toString("base64url")}`;
  const groupId = (await buildGroup()).id;
  const [user] = await inTransaction({ sequelize: testDatabase().database.sequelize }, (db) =>
    createAccounts(db, [
      {
        email: `auth-${tag}@example.test`,
        password,
        role,
        firstName: "Auth",
        lastName: `Test ${tag}`,
        nickName: `auth_${tag}`,
        groupId,
        learningClass: role === "student" ? "10A" : "",
      },
    ]),
  );
  if (!user) throw new Error("createAccounts created nothing");
  return { id: user.id, email: user.email, password };
}

/** A client address of its own (documentation IPv6), so no other test's failed sign-ins count against it. */
export const uniqueClientAddress = (): string =>
  `2001:db8::${randomBytes(2).toString("hex")}:${randomBytes(2).toString("hex")}`;
