import { QueryTypes } from "sequelize";
import { testDatabase } from "./database.js";

/**
 * Polls `condition` every 10 ms until it holds, for things that settle a moment after the call that
 * caused them (a stream counted off, a lease released, a folder removed).
 * @param condition - checked as it is, sync or async
 * @param timeoutMs - how long to wait before failing
 * @throws Error when the condition does not hold in time
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Waits until a statement of the test database waits for a lock: the moment a test holding a row in an
 * open transaction has made a concurrent statement queue behind it.
 * @param statementPrefix - the waiting statement's first words; any statement when empty
 */
export function untilWaitingForLock(statementPrefix = ""): Promise<void> {
  return waitFor(async () => {
    const [row] = await testDatabase().database.sequelize.query<{ count: string }>(
      `SELECT count(*) AS count FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND state = 'active' AND query LIKE :pattern`,
      { replacements: { pattern: `${statementPrefix}%` }, type: QueryTypes.SELECT },
    );
    return Number(row?.count) > 0;
  });
}
