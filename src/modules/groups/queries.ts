import { Op, col, fn, where } from "sequelize";
import { select, type Db } from "../../db/db.js";
import { User } from "../users/user.model.js";
import { Group } from "./group.model.js";

/** A group with its member count, as lists show it. */
export interface GroupWithCount {
  id: string;
  name: string;
  memberCount: number;
  createdAt: Date;
}

/**
 * A page of groups in name order, keyset-paged on the unique lower(name) index; member counts come
 * from the users(group_id) index, one count per listed group.
 * @param after - the lower-cased name the previous page ended on
 * @param limit - how many rows to read (the page size plus one, to know if more follow)
 */
export async function groupsAfter(db: Db, after: string | undefined, limit: number): Promise<GroupWithCount[]> {
  const rows = await select<GroupWithCount & { memberCount: string | number }>(
    db,
    `SELECT g.id, g.name, g.created_at AS "createdAt",
            (SELECT count(*) FROM users u WHERE u.group_id = g.id) AS "memberCount"
       FROM groups g
      WHERE (:after::text IS NULL OR lower(g.name) > :after)
      ORDER BY lower(g.name)
      LIMIT :limit`,
    { after: after ?? null, limit },
  );
  return rows.map((row) => ({ ...row, memberCount: Number(row.memberCount) }));
}

/**
 * @param options.lock - lock the row for the rest of the transaction (a change follows)
 * @returns the group, or null when there is none
 */
export function findGroup(db: Db, id: string, options: { lock?: boolean } = {}): Promise<Group | null> {
  const lock = options.lock && db.transaction ? db.transaction.LOCK.UPDATE : undefined;
  return Group.findByPk(id, { transaction: db.transaction, lock });
}

/** @returns how many users the group has */
export const memberCountOf = (db: Db, groupId: string): Promise<number> =>
  User.count({ where: { groupId }, transaction: db.transaction });

/** @returns the new group */
export const insertGroup = (db: Db, name: string): Promise<Group> =>
  Group.create({ name }, { transaction: db.transaction });

/** Renames a loaded group. */
export const renameGroup = async (db: Db, group: Group, name: string): Promise<void> => {
  await group.update({ name }, { transaction: db.transaction });
};

/** Deletes a loaded group (the foreign key refuses it while it has members). */
export const deleteGroupRow = (db: Db, group: Group): Promise<void> => group.destroy({ transaction: db.transaction });

/** @returns whether another group already has this name, in any case */
export async function nameTaken(db: Db, name: string, exceptId?: string): Promise<boolean> {
  const clash = await Group.findOne({
    where: {
      [Op.and]: [
        where(fn("lower", col("name")), name.toLowerCase()),
        ...(exceptId ? [{ id: { [Op.ne]: exceptId } }] : []),
      ],
    },
    attributes: ["id"],
    transaction: db.transaction,
  });
  return clash !== null;
}

/**
 * The ids among `ids` that name a group. The found groups are locked (KEY SHARE) until commit, so a
 * concurrent deletion waits and then meets what now refers to them, instead of leaving a dangling id.
 * @returns the existing ids, lowercased as PostgreSQL prints uuids
 */
export async function existingGroupIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await select<{ id: string }>(
    db,
    `SELECT id::text AS id FROM groups WHERE id = ANY(CAST(ARRAY[:ids] AS uuid[]))${db.transaction ? " FOR KEY SHARE" : ""}`,
    { ids: [...ids] },
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * Looks groups up by name, in any case (names are unique whatever their case). Inside a transaction
 * the found groups are locked (KEY SHARE) until commit, as in existingGroupIds.
 * @param names - the names asked for, as given
 * @returns each name that matched a group, as given, with that group's id
 */
export async function groupIdsByName(db: Db, names: readonly string[]): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const rows = await select<{ name: string; id: string }>(
    db,
    `SELECT wanted.name, g.id::text AS id
       FROM unnest(CAST(ARRAY[:names] AS text[])) AS wanted (name)
       JOIN groups g ON lower(g.name) = lower(wanted.name)${db.transaction ? " FOR KEY SHARE OF g" : ""}`,
    { names: [...new Set(names)] },
  );
  return new Map(rows.map((row) => [row.name, row.id]));
}
