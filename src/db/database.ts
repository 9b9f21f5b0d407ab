import pg from "pg";
import type { Sequelize } from "sequelize";
import { ConfigError, type Config } from "../config/index.js";
import { within } from "../lifecycle/within.js";
import type { Logger } from "../logging/logger.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded.js";
import { createMigrator, migrateToLatest } from "./migrator.js";
import { createSequelize, maintenanceSettings, type ConnectionSettings } from "./sequelize.js";

/** The database of one server process, migrated and with its models bound. */
export interface Database {
  url: string;
  sequelize: Sequelize;
  /** Set when this process started its own PostgreSQL. */
  embedded?: EmbeddedDatabase;
  /** @returns whether the database answers within the readiness timeout and every migration is applied */
  isReady: () => Promise<boolean>;
  /**
   * Closes the pool, then stops the embedded PostgreSQL if this process started one.
   * @param withinMs - how long the pool may take to say goodbye; a silent database never answers it
   * @returns false when the pool was abandoned after `withinMs`
   */
  close: (withinMs?: number) => Promise<boolean>;
}

/** What `connect` needs besides the URL and the pool settings. */
export interface ConnectOptions {
  logger?: Logger;
  embedded?: EmbeddedDatabase;
  /** Apply pending migrations (the default); when false, a database that lacks one is refused. */
  migrate?: boolean;
  /** `/readyz`'s bound on the database check. */
  readinessTimeoutMs?: number;
}

const EMBEDDED_DATABASE_NAME = "shtp";

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is unset, then applies pending
 * migrations under the advisory lock.
 * @param config - the process configuration
 * @param logger - the process logger
 * @param initModels - binds the modules' models to the new instance
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  initModels: (sequelize: Sequelize) => void,
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.storage.embeddedDatabaseDir, logger });
    url = await ensureDatabaseExists(embedded.url, EMBEDDED_DATABASE_NAME);
    logger.info({ port: embedded.port }, "embedded PostgreSQL started");
  }
  try {
    return await connect(url, config.database, initModels, {
      logger,
      embedded,
      migrate: config.database.migrateOnBoot,
      readinessTimeoutMs: config.database.readinessTimeoutMs,
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/**
 * Migrates `url` (or checks that nothing is pending), binds the models to it and wraps it as a Database.
 * Tests use it for their own databases.
 * @param url - a postgres:// URL
 * @param settings - pool size and limits of the process's connections
 * @param initModels - binds the modules' models to the new instance
 * @param options - logger, embedded server, whether to migrate, readiness bound
 * @throws ConfigError when `migrate` is false and a migration is pending
 */
export async function connect(
  url: string,
  settings: ConnectionSettings,
  initModels: (sequelize: Sequelize) => void,
  options: ConnectOptions = {},
): Promise<Database> {
  const { logger, embedded, migrate = true, readinessTimeoutMs = 2000 } = options;
  await prepareSchema(url, settings, migrate, logger);
  const sequelize = createSequelize(url, settings);
  initModels(sequelize);
  const migrator = createMigrator(sequelize);
  const checkSchema = async () => {
    try {
      return (await migrator.pending()).length === 0;
    } catch {
      return false;
    }
  };
  return {
    url,
    sequelize,
    embedded,
    // A silent database would hold the check as long as the pool and query limits allow; a load
    // balancer's probe wants its answer sooner than that.
    isReady: () => within(checkSchema(), readinessTimeoutMs, false),
    async close(withinMs = Number.POSITIVE_INFINITY) {
      const closed = await within(
        sequelize.close().then(() => true),
        withinMs,
        false,
      );
      await embedded?.stop();
      return closed;
    },
  };
}

/**
 * Applies pending migrations over a connection of their own, without the API's statement limits (building
 * an index on a large table rightly takes longer than any request may), or, when `migrate` is false,
 * refuses to go on with a database that lacks one: migrations are then a step of the release.
 */
async function prepareSchema(
  url: string,
  settings: ConnectionSettings,
  migrate: boolean,
  logger: Logger | undefined,
): Promise<void> {
  const sequelize = createSequelize(url, maintenanceSettings(2, settings));
  try {
    if (migrate) {
      await migrateToLatest(url, sequelize, logger);
      return;
    }
    const pending = await createMigrator(sequelize).pending();
    if (pending.length > 0) {
      throw new ConfigError(
        `Invalid configuration:\n  MIGRATE_ON_BOOT: is false and ${pending.length} migration(s) are pending ` +
          `(${pending.map((migration) => migration.name).join(", ")}); run \`node dist/db.js migrate\` first`,
      );
    }
  } finally {
    await sequelize.close();
  }
}

/**
 * Creates database `name` on the server of `adminUrl` unless it exists.
 * @returns the URL of that database
 */
export async function ensureDatabaseExists(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const existing = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
