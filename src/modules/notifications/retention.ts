import { inTransaction, type Db } from "../../db/db.js";
import { startPeriodicJob, type BackgroundJob } from "../../lifecycle/periodic.js";
import type { Logger } from "../../logging/logger.js";
import { deleteOldReadNotifications, tryRetentionLock } from "./queries.js";

/** Small batches keep each delete's locks and WAL short, so requests never wait on the job. */
const BATCH = 5000;

/**
 * Deletes read notifications older than `olderThanDays`, batch by batch, each batch in its own short
 * transaction under a try-lock, so several processes never purge at once and none ever blocks.
 * @returns how many rows were deleted (0 when another process held the lock)
 */
export async function purgeReadNotifications(db: Db, olderThanDays: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await inTransaction(db, async (tx) =>
      (await tryRetentionLock(tx)) ? deleteOldReadNotifications(tx, olderThanDays, BATCH) : -1,
    );
    if (deleted < 0) return total;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/**
 * Runs the purge every `intervalSeconds` inside the server process, off the request path.
 * @returns the job; stopping it waits for a purge in progress
 */
export function startRetentionJob(
  db: Db,
  logger: Logger,
  settings: { retentionDays: number; intervalSeconds: number },
): BackgroundJob {
  const everyMs = settings.intervalSeconds * 1000;
  return startPeriodicJob(
    "notification retention",
    async () => {
      const deleted = await purgeReadNotifications(db, settings.retentionDays);
      if (deleted > 0) logger.info({ deleted }, "purged old read notifications");
    },
    { firstAfterMs: everyMs, everyMs },
    logger,
  );
}
