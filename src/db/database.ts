import pg from "pg";
import type { Sequelize } from "sequelize";
import type { Config } from "../config/index.js";
import type { Logger } from "../logging/logger.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded.js";
import { createMigrator, migrateToLatest } from "./migrator.js";
import { createSequelize } from "./sequelize.js";

/** The database of one server process, migrated and with its models bound. */
export interface Database {
  url: string;
  sequelize: Sequelize;
  /** Set when this process started its own PostgreSQL. */
  embedded?: EmbeddedDatabase;
  /** @returns whether the database answers and every migration is applied */
  isReady: () => Promise<boolean>;
  /** Closes the pool, then stops the embedded PostgreSQL if this process started one. */
  close: () => Promise<void>;
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
    return await connect(url, config.database.poolMax, initModels, logger, embedded);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/**
 * Binds models to `url`, migrates it and wraps it as a Database. Tests use it for their own databases.
 * @param url - a postgres:// URL
 * @param poolMax - the pool size
 * @param initModels - binds the modules' models to the new instance
 */
export async function connect(
  url: string,
  poolMax: number,
  initModels: (sequelize: Sequelize) => void,
  logger?: Logger,
  embedded?: EmbeddedDatabase,
): Promise<Database> {
  const sequelize = createSequelize(url, poolMax);
  try {
    initModels(sequelize);
    await migrateToLatest(url, sequelize, logger);
  } catch (error) {
    await sequelize.close();
    throw error;
  }
  const migrator = createMigrator(sequelize);
  return {
    url,
    sequelize,
    embedded,
    async isReady() {
      try {
        return (await migrator.pending()).length === 0;
      } catch {
        return false;
      }
    },
    async close() {
      await sequelize.close();
      await embedded?.stop();
    },
  };
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
