import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type { QueryInterface, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";
import { migrationExtension, migrationsDir } from "../config/paths.js";
import type { Logger } from "../logging/logger.js";

export { migrationsDir };

/** What a file in migrations/ exports. */
export interface Migration {
  up(props: { context: QueryInterface }): Promise<void>;
  down(props: { context: QueryInterface }): Promise<void>;
}

/**
 * Builds the umzug runner over migrations/ with its state in the `sequelize_meta` table (umzug calls it
 * SequelizeMeta; our `underscored: true` define option renames it, and renaming it now would re-run every migration).
 * @param sequelize - the connection to migrate
 * @param logger - receives one line per migration applied or reverted
 */
export function createMigrator(sequelize: Sequelize, logger?: Logger): Umzug<QueryInterface> {
  return new Umzug({
    migrations: {
      glob: [`*${migrationExtension}`, { cwd: migrationsDir, ignore: [`*.test${migrationExtension}`] }],
      resolve: ({ name, path: file, context }) => {
        const load = async () =>
          (await import(pathToFileURL(file ?? path.join(migrationsDir, name)).href)) as Migration;
        return {
          name: name.slice(0, -migrationExtension.length),
          up: async () => (await load()).up({ context }),
          down: async () => (await load()).down({ context }),
        };
      },
    },
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize }),
    logger: logger
      ? {
          info: (event) => logger.info(event, "migration"),
          warn: (event) => logger.warn(event, "migration"),
          error: (event) => logger.error(event, "migration"),
          debug: (event) => logger.debug(event, "migration"),
        }
      : undefined,
  });
}

/** Any fixed number would do; it only has to be the same for every process of this application. */
const MIGRATION_LOCK_KEY = 746_102_311;

/**
 * Runs `work` while holding a PostgreSQL advisory lock, so that processes starting together migrate
 * one after the other instead of racing. The lock lives on its own connection, outside the pool the
 * migrations use, and is released when that connection closes, even if this process dies.
 * @param url - the database URL
 * @param work - what to do under the lock
 */
export async function withMigrationLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    return await work();
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Applies every pending migration under the advisory lock.
 * @returns the names of the migrations this call applied
 */
export async function migrateToLatest(url: string, sequelize: Sequelize, logger?: Logger): Promise<string[]> {
  const migrator = createMigrator(sequelize, logger);
  return withMigrationLock(url, async () => (await migrator.up()).map((migration) => migration.name));
}
