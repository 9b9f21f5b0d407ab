import http from "node:http";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config/index.js";
import { openDatabase, type Database } from "./db/database.js";
import { createLogger, type Logger } from "./logging/logger.js";

/** A started server: its address and how to stop it. */
export interface RunningServer {
  url: string;
  server: http.Server;
  database: Database;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the pool and the embedded database. */
  shutdown(): Promise<void>;
}

/**
 * Boots one server process: database (embedded when DATABASE_URL is unset), migrations, HTTP.
 * @param config - the parsed configuration
 * @param logger - the process logger
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const database = await openDatabase(config, logger);
  const server = http.createServer();
  // Slow or idle clients must not hold sockets forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  try {
    const app = buildApp({ config, logger, sequelize: database.sequelize, isReady: database.isReady });
    server.on("request", app.callback());
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
  logger.info({ url, embeddedDatabase: Boolean(database.embedded) }, "listening");

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), config.http.shutdownTimeoutMs);
      await closed;
      clearTimeout(deadline);
      await database.close();
      logger.info("stopped");
    })());
  return { url, server, database, shutdown };
}

async function main(): Promise<void> {
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
  const running = await startServer(config, logger).catch((error: unknown) => {
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
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
