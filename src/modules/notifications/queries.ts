import { select, type Db } from "../../db/db.js";

/**
 * How many unread notifications a user has, counted from the partial unread index (no rows loaded).
 * @param userId - whose
 */
export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [row] = await select<{ count: number }>(
    db,
    "SELECT count(*)::int AS count FROM notifications WHERE user_id = :userId AND read_at IS NULL",
    { userId },
  );
  return row?.count ?? 0;
}
