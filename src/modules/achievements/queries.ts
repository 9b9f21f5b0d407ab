import { select, type Db } from "../../db/db.js";

/**
 * @param names - stored proof names found in storage
 * @returns those an achievement row still names
 */
export async function proofNamesInUse(db: Db, names: readonly string[]): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    "SELECT proof_file AS name FROM achievements WHERE proof_file = ANY(ARRAY[:names]::text[])",
    { names: [...names] },
  );
  return rows.map((row) => row.name);
}

/** @returns the stored proof names of a user's achievements */
export async function proofNamesOf(db: Db, userId: string): Promise<string[]> {
  const rows = await select<{ name: string }>(
    db,
    "SELECT proof_file AS name FROM achievements WHERE user_id = :userId",
    {
      userId,
    },
  );
  return rows.map((row) => row.name);
}
