import { Op, QueryTypes, col, fn, where, type Transaction } from "sequelize";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../errors/index.js";
import type { Services } from "../../services.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { User } from "../users/user.model.js";
import { Group } from "./group.model.js";

/** A group with its member count, as lists show it. */
export interface GroupWithCount {
  id: string;
  name: string;
  memberCount: number;
  createdAt: Date;
}

const nameCursor = z.tuple([z.string()]);

/**
 * A page of groups in name order, keyset-paged on the unique lower(name) index; member counts come
 * from the users(group_id) index, one count per listed group.
 * @param query - limit and cursor
 */
export async function listGroups(
  services: Services,
  query: { limit: number; cursor?: string },
): Promise<{ items: GroupWithCount[]; nextCursor: string }> {
  const after = query.cursor ? decodeCursor(query.cursor, nameCursor)[0] : undefined;
  const rows = await services.sequelize.query<GroupWithCount & { memberCount: string | number }>(
    `SELECT g.id, g.name, g.created_at AS "createdAt",
            (SELECT count(*) FROM users u WHERE u.group_id = g.id) AS "memberCount"
       FROM groups g
      WHERE (:after::text IS NULL OR lower(g.name) > :after)
      ORDER BY lower(g.name)
      LIMIT :limit`,
    { replacements: { after: after ?? null, limit: query.limit + 1 }, type: QueryTypes.SELECT },
  );
  const page = pageOf(rows, query.limit, (row) => [row.name.toLowerCase()]);
  return { ...page, items: page.items.map((row) => ({ ...row, memberCount: Number(row.memberCount) })) };
}

/**
 * One group with its member count.
 * @throws AppError not_found
 */
export async function getGroup(id: string, transaction?: Transaction): Promise<GroupWithCount> {
  const group = await Group.findByPk(id, { transaction });
  if (!group) throw NotFoundError("The group");
  return withCount(group, transaction);
}

async function withCount(group: Group, transaction?: Transaction): Promise<GroupWithCount> {
  const memberCount = await User.count({ where: { groupId: group.id }, transaction });
  return { id: group.id, name: group.name, memberCount, createdAt: group.createdAt };
}

/**
 * Creates a group.
 * @throws AppError conflict when the name is taken (in any case)
 */
export async function createGroup(name: string, transaction: Transaction): Promise<GroupWithCount> {
  await assertNameFree(name, undefined, transaction);
  return withCount(await Group.create({ name: name.trim() }, { transaction }), transaction);
}

/**
 * Renames a group; an absent name leaves it as it is.
 * @throws AppError not_found, conflict
 */
export async function updateGroup(
  id: string,
  changes: { name?: string },
  transaction: Transaction,
): Promise<GroupWithCount> {
  const group = await Group.findByPk(id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!group) throw NotFoundError("The group");
  if (changes.name !== undefined) {
    await assertNameFree(changes.name, group.id, transaction);
    await group.update({ name: changes.name.trim() }, { transaction });
  }
  return withCount(group, transaction);
}

/**
 * Deletes an empty group. The row is locked first, so no member can be added between the check and
 * the delete (the foreign key would refuse it anyway).
 * @throws AppError not_found, conflict while the group has members
 */
export async function deleteGroup(id: string, transaction: Transaction): Promise<void> {
  const group = await Group.findByPk(id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!group) throw NotFoundError("The group");
  const members = await User.count({ where: { groupId: id }, transaction });
  if (members > 0) throw ConflictError(`The group still has ${members} member(s); move them first.`);
  await group.destroy({ transaction });
}

/** A readable 409 for the common case; the unique index still decides under races. */
async function assertNameFree(name: string, exceptId: string | undefined, transaction: Transaction): Promise<void> {
  const clash = await Group.findOne({
    where: {
      [Op.and]: [
        where(fn("lower", col("name")), name.trim().toLowerCase()),
        ...(exceptId ? [{ id: { [Op.ne]: exceptId } }] : []),
      ],
    },
    attributes: ["id"],
    transaction,
  });
  if (clash) throw ConflictError("A group with this name exists.");
}
