import { inTransaction, type TransactionDb } from "../db/db.js";
import { testDatabase } from "./database.js";

/** Thrown to roll a test's transaction back, so what it wrote never reaches other tests. */
class RollBack extends Error {}

/** Runs `work` in a transaction that is always rolled back. */
export async function rolledBack(work: (db: TransactionDb) => Promise<void>): Promise<void> {
  await inTransaction({ sequelize: testDatabase().database.sequelize }, async (db) => {
    await work(db);
    throw new RollBack();
  }).catch((error: unknown) => {
    if (!(error instanceof RollBack)) throw error;
  });
}
