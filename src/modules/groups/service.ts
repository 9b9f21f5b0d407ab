import { ConflictError, NotFoundError } from "../../errors/index.js";
import type { Db, TransactionDb } from "../../db/db.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertReferencesKnown, type Reference } from "../../validation/references.js";
import type { GroupListQuery } from "./schema.js";
import { nameCursor } from "./schema.js";
import {
  deleteGroupRow,
  existingGroupIds,
  findGroup,
  groupsAfter,
  insertGroup,
  memberCountOf,
  nameTaken,
  renameGroup,
  type GroupWithCount,
} from "./queries.js";

export type { GroupWithCount } from "./queries.js";

/**
 * A page of groups in case-insensitive name order.
 * @param query - limit and cursor
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listGroups(
  db: Db,
  query: GroupListQuery,
): Promise<{ items: GroupWithCount[]; nextCursor: string }> {
  const after = query.cursor ? decodeCursor(query.cursor, nameCursor)[0] : undefined;
  const rows = await groupsAfter(db, after, query.limit + 1);
  return pageOf(rows, query.limit, (row) => [row.name.toLowerCase()]);
}

/**
 * One group with its member count.
 * @throws AppError not_found
 */
export async function getGroup(db: Db, id: string): Promise<GroupWithCount> {
  const group = await findGroup(db, id);
  if (!group) throw NotFoundError("The group");
  return { id: group.id, name: group.name, createdAt: group.createdAt, memberCount: await memberCountOf(db, id) };
}

/**
 * Creates a group.
 * @throws AppError conflict when the name is taken (in any case)
 */
export async function createGroup(db: TransactionDb, name: string): Promise<GroupWithCount> {
  await assertNameFree(db, name);
  const group = await insertGroup(db, name);
  return { id: group.id, name: group.name, createdAt: group.createdAt, memberCount: 0 };
}

/**
 * Renames a group; an absent name leaves it as it is.
 * @throws AppError not_found, conflict
 */
export async function updateGroup(db: TransactionDb, id: string, changes: { name?: string }): Promise<GroupWithCount> {
  const group = await findGroup(db, id, { lock: true });
  if (!group) throw NotFoundError("The group");
  if (changes.name !== undefined) {
    await assertNameFree(db, changes.name, group.id);
    await renameGroup(db, group, changes.name);
  }
  return { id: group.id, name: group.name, createdAt: group.createdAt, memberCount: await memberCountOf(db, id) };
}

/**
 * Deletes an empty group. The row is locked first, so no member can be added between the check and
 * the delete (the foreign key would refuse it anyway).
 * @throws AppError not_found, conflict while the group has members
 */
export async function deleteGroup(db: TransactionDb, id: string): Promise<void> {
  const group = await findGroup(db, id, { lock: true });
  if (!group) throw NotFoundError("The group");
  const members = await memberCountOf(db, id);
  if (members > 0) throw ConflictError(`The group still has ${members} member(s); move them first.`);
  await deleteGroupRow(db, group);
}

/** A readable 409 for the common case; the unique index still decides under races. */
async function assertNameFree(db: Db, name: string, exceptId?: string): Promise<void> {
  if (await nameTaken(db, name, exceptId)) throw ConflictError("A group with this name exists.");
}

/**
 * The one "these groups exist" check of every module that names groups (accounts, event audiences,
 * messages): a well-formed request naming a group that does not exist breaks a rule, so it answers
 * 422 with the field that named it. Inside a transaction the groups stay locked against deletion
 * until it commits.
 * @param groups - each id with the request field that named it (`groupId`, `audience.groupIds.2`)
 * @throws AppError failed_precondition with one violation per unknown group
 */
export async function assertGroupsExist(db: Db, groups: readonly Reference[]): Promise<void> {
  const known = await existingGroupIds(
    db,
    groups.map((group) => group.id),
  );
  assertReferencesKnown(groups, known, "group");
}
