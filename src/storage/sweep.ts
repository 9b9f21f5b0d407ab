import fs from "node:fs/promises";
import path from "node:path";
import { QueryTypes, type Sequelize } from "sequelize";
import { startPeriodicJob, type BackgroundJob } from "../lifecycle/periodic.js";
import type { Logger } from "../logging/logger.js";
import { removeStoredFile, storedNamePattern } from "./files.js";

/**
 * A folder of stored files and the column that names them. A file is moved into place before its row
 * is written (and the row's transaction removes it again on failure), so only a process that dies in
 * between leaves a file no row names. The sweep removes such files once they are old enough that no
 * request can still be recording them.
 */
export interface StoredFolder {
  dir: string;
  /** `table.column` of the stored names; a trusted constant, never input. */
  table: "achievements" | "users";
  column: "proof_file" | "avatar_file";
}

const BATCH = 500;

/**
 * Removes the files of `folders` that are older than `olderThanMs` and named by no row.
 * @returns how many files were removed
 */
export async function sweepOrphanFiles(
  sequelize: Sequelize,
  folders: readonly StoredFolder[],
  olderThanMs: number,
): Promise<number> {
  let removed = 0;
  const cutoff = Date.now() - olderThanMs;
  for (const folder of folders) {
    const names = await fs.readdir(folder.dir).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    });
    const old: string[] = [];
    for (const name of names.filter((candidate) => storedNamePattern.test(candidate))) {
      const stat = await fs.stat(path.join(folder.dir, name)).catch(() => undefined);
      if (stat?.isFile() && stat.mtimeMs < cutoff) old.push(name);
    }
    for (let start = 0; start < old.length; start += BATCH) {
      const orphans = await sequelize.query<{ name: string }>(
        `SELECT candidate.name FROM unnest(ARRAY[:names]::text[]) AS candidate (name)
          WHERE NOT EXISTS (SELECT 1 FROM ${folder.table} WHERE ${folder.column} = candidate.name)`,
        { replacements: { names: old.slice(start, start + BATCH) }, type: QueryTypes.SELECT },
      );
      for (const { name } of orphans) await removeStoredFile(folder.dir, name);
      removed += orphans.length;
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
export function startSweepJob(sequelize: Sequelize, logger: Logger, folders: readonly StoredFolder[]): BackgroundJob {
  return startPeriodicJob(
    "storage sweep",
    async () => {
      const removed = await sweepOrphanFiles(sequelize, folders, ORPHAN_AGE_MS);
      if (removed > 0) logger.warn({ removed }, "removed stored files that no row names");
    },
    { firstAfterMs: 60_000, everyMs: ORPHAN_AGE_MS },
    logger,
  );
}

/** The stored folders of this configuration. */
export const storedFolders = (storage: { proofsDir: string; avatarsDir: string }): StoredFolder[] => [
  { dir: storage.proofsDir, table: "achievements", column: "proof_file" },
  { dir: storage.avatarsDir, table: "users", column: "avatar_file" },
];
