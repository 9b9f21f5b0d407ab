import { QueryTypes, type Sequelize } from "sequelize";
import { startPeriodicJob, type BackgroundJob } from "../../lifecycle/periodic.js";
import type { Logger } from "../../logging/logger.js";

/** Any fixed number: one process purges at a time; the others skip that round. */
const RETENTION_LOCK_KEY = 746_102_314;
/** Small batches keep each delete's locks and WAL short, so requests never wait on the job. */
const BATCH = 5000;

/**
 * Deletes read notifications older than `olderThanDays`, batch by batch, each batch in its own short
 * transaction under a try-lock, so several processes never purge at once and none ever blocks.
 * @returns how many rows were deleted (0 when another process held the lock)
 */
export async function purgeReadNotifications(sequelize: Sequelize, olderThanDays: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await sequelize.transaction(async (transaction) => {
      const [lock] = await sequelize.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(:key) AS locked", {
        replacements: { key: RETENTION_LOCK_KEY },
        type: QueryTypes.SELECT,
        transaction,
      });
      if (!lock?.locked) return -1;
      const [row] = await sequelize.query<{ deleted: string }>(
        `WITH gone AS (
           DELETE FROM notifications WHERE id IN (
             SELECT id FROM notifications
              WHERE read_at IS NOT NULL AND read_at < now() - make_interval(days => :days)
              LIMIT ${BATCH})
           RETURNING 1)
         SELECT count(*) AS deleted FROM gone`,
        { replacements: { days: olderThanDays }, type: QueryTypes.SELECT, transaction },
      );
      return Number(row?.deleted ?? 0);
    });
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
  sequelize: Sequelize,
  logger: Logger,
  settings: { retentionDays: number; intervalSeconds: number },
): BackgroundJob {
  const everyMs = settings.intervalSeconds * 1000;
  return startPeriodicJob(
    "notification retention",
    async () => {
      const deleted = await purgeReadNotifications(sequelize, settings.retentionDays);
      if (deleted > 0) logger.info({ deleted }, "purged old read notifications");
    },
    { firstAfterMs: everyMs, everyMs },
    logger,
  );
}
