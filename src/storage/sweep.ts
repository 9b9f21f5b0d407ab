import type { Db } from "../db/db.js";
import { startPeriodicJob, type BackgroundJob } from "../lifecycle/periodic.js";
import type { Logger } from "../logging/logger.js";
import type { FileStore } from "./store.js";

/**
 * A folder of stored files and how to tell which of them rows still name. A file is moved into place
 * before its row is written (and the row's transaction removes it again on failure), so only a process
 * that dies in between leaves a file no row names. The sweep removes such files once they are old
 * enough that no request can still be recording them.
 */
export interface StoredFolder {
  folder: string;
  /** @returns the names among `names` that rows still hold */
  namesInUse(db: Db, names: readonly string[]): Promise<string[]>;
}

const BATCH = 500;

/**
 * Removes the files of `folders` that are older than `olderThanMs` and named by no row.
 * @returns how many files were removed
 */
export async function sweepOrphanFiles(
  db: Db,
  files: FileStore,
  folders: readonly StoredFolder[],
  olderThanMs: number,
): Promise<number> {
  let removed = 0;
  const cutoff = new Date(Date.now() - olderThanMs);
  for (const stored of folders) {
    const { folder } = stored;
    const old = await files.namesOlderThan(folder, cutoff);
    for (let start = 0; start < old.length; start += BATCH) {
      const batch = old.slice(start, start + BATCH);
      const inUse = new Set(await stored.namesInUse(db, batch));
      for (const name of batch.filter((candidate) => !inUse.has(candidate))) {
        await files.remove(folder, name);
        removed += 1;
      }
    }
  }
  return removed;
}

/** Files younger than this may belong to a request still recording them. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

/**
 * Sweeps once shortly after start and then every hour, off the request path. Several processes may
 * sweep at once: removing a file twice is harmless.
 * @returns the job; stopping it waits for a sweep in progress
 */
export function startSweepJob(
  db: Db,
  files: FileStore,
  logger: Logger,
  folders: readonly StoredFolder[],
): BackgroundJob {
  return startPeriodicJob(
    "storage sweep",
    async () => {
      const removed = await sweepOrphanFiles(db, files, folders, ORPHAN_AGE_MS);
      if (removed > 0) logger.warn({ removed }, "removed stored files that no row names");
    },
    { firstAfterMs: 60_000, everyMs: ORPHAN_AGE_MS },
    logger,
  );
}
