/**
 * `npm run db -- migrate | rollback | status`: migrations by hand, against DATABASE_URL or the embedded
 * database under STORAGE_DIR, under the same advisory lock the server takes at boot.
 */
import { ConfigError, loadConfig } from "../config/index.js";
import { createLogger } from "../logging/logger.js";
import { ensureDatabaseExists } from "./database.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { createMigrator, withMigrationLock } from "./migrator.js";
import { createSequelize, maintenanceSettings } from "./sequelize.js";

const commands = ["migrate", "rollback", "status"] as const;
type Command = (typeof commands)[number];

async function main(command: Command): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.storage.embeddedDatabaseDir, logger });
  const url = config.database.url ?? (await ensureDatabaseExists(embedded!.url, "shtp"));
  const sequelize = createSequelize(url, maintenanceSettings(2, config.database));
  const migrator = createMigrator(sequelize);
  try {
    if (command === "migrate") {
      const applied = await withMigrationLock(url, () => migrator.up());
      print(applied.length ? applied.map((m) => `applied ${m.name}`) : ["nothing to apply"]);
    } else if (command === "rollback") {
      const reverted = await withMigrationLock(url, () => migrator.down());
      print(reverted.length ? reverted.map((m) => `reverted ${m.name}`) : ["nothing to revert"]);
    } else {
      // One after the other: each creates the meta table when missing, and two concurrent creations collide.
      const executed = await migrator.executed();
      const pending = await migrator.pending();
      print([...executed.map((m) => `applied  ${m.name}`), ...pending.map((m) => `pending  ${m.name}`)]);
    }
  } finally {
    await sequelize.close();
    await embedded?.stop();
  }
}

const print = (lines: string[]) => process.stdout.write(`${lines.join("\n")}\n`);

const command = process.argv[2];
if (!commands.includes(command as Command)) {
  process.stderr.write(`usage: npm run db -- ${commands.join("|")}\n`);
  process.exit(2);
}
main(command as Command).catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : String(error instanceof Error ? (error.stack ?? error) : error)}\n`,
  );
  process.exit(1);
});
