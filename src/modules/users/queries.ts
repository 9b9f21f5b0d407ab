import { select, type Db } from "../../db/db.js";

/**
 * @param names - stored avatar names found in storage
 * @returns those a user row still names
 */
export async function avatarNamesInUse(db: Db, names: readonly string[]): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    "SELECT avatar_file AS name FROM users WHERE avatar_file = ANY(ARRAY[:names]::text[])",
    { names: [...names] },
  );
  return rows.map((row) => row.name);
}

/** @returns the stored avatar name of a user, if any */
export async function avatarOf(db: Db, userId: string): Promise<string | null> {
  const [row] = await select<{ name: string | null }>(db, "SELECT avatar_file AS name FROM users WHERE id = :userId", {
    userId,
  });
  return row?.name ?? null;
}
