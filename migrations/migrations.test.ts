import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { QueryTypes, UniqueConstraintError, type Sequelize } from "sequelize";
import { createMigrator, migrateToLatest, migrationsDir, withMigrationLock } from "../src/db/migrator.js";
import { createSequelize, maintenanceSettings } from "../src/db/sequelize.js";
import { createScratchDatabase } from "../src/testing/database.js";

/** The migration names umzug should see: every file in migrations/ but the tests, in order. */
async function migrationNames(): Promise<string[]> {
  return (await fs.readdir(migrationsDir))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .map((file) => file.replace(/\.ts$/, ""))
    .sort();
}

/**
 * umzug's SequelizeStorage table. It is "SequelizeMeta" in umzug's docs, but our Sequelize defines models with
 * `underscored: true`, which names it `sequelize_meta`; existing databases hold their history there, so a change
 * of name would make every migration run again.
 */
const META = "sequelize_meta";

const select = <T extends object>(sequelize: Sequelize, sql: string) =>
  sequelize.query<T>(sql, { type: QueryTypes.SELECT });

/** Tables of the public schema, sorted. */
async function tables(sequelize: Sequelize): Promise<string[]> {
  const rows = await select<{ name: string }>(
    sequelize,
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  return rows.map((row) => row.name);
}

/** Unique indexes of the public schema as `table.index` → definition. */
async function uniqueIndexes(sequelize: Sequelize): Promise<Map<string, string>> {
  const rows = await select<{ name: string; definition: string }>(
    sequelize,
    `SELECT t.relname || '.' || i.relname AS name, pg_get_indexdef(i.oid) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND x.indisunique`,
  );
  return new Map(rows.map((row) => [row.name, row.definition]));
}

/** Every relation (tables, indexes, sequences, views) of the public schema, sorted. */
async function relations(sequelize: Sequelize): Promise<string[]> {
  const rows = await select<{ name: string }>(
    sequelize,
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' ORDER BY c.relname`,
  );
  return rows.map((row) => row.name);
}

/** The names recorded in the meta table, with how often each is recorded. */
async function recorded(sequelize: Sequelize): Promise<{ name: string; times: number }[]> {
  return select<{ name: string; times: number }>(
    sequelize,
    `SELECT name, count(*)::int AS times FROM ${META} GROUP BY name ORDER BY name`,
  );
}

async function assertSchemaPresent(sequelize: Sequelize): Promise<void> {
  const present = await tables(sequelize);
  for (const table of ["groups", "users", META]) assert.ok(present.includes(table), `${table} exists`);
  const unique = await uniqueIndexes(sequelize);
  const expected: [string, RegExp][] = [
    ["groups.groups_pkey", /\(id\)/],
    ["groups.groups_name_lower_key", /\(lower\(name\)\)/],
    ["users.users_pkey", /\(id\)/],
    ["users.users_email_lower_key", /\(lower\(email\)\)/],
    ["users.users_nick_name_lower_key", /\(lower\(nick_name\)\)/],
  ];
  for (const [name, columns] of expected) {
    const definition = unique.get(name);
    assert.ok(definition, `unique index ${name} exists`);
    assert.match(definition, /^CREATE UNIQUE INDEX /);
    assert.match(definition, columns, name);
  }
}

describe("migrations (migrations/*.ts, src/db/migrator.ts)", function () {
  this.timeout(60_000);
  const scratches: { url: string; drop: () => Promise<void> }[] = [];
  const instances: Sequelize[] = [];
  let names: string[];

  /** A fresh empty database and a Sequelize of its own, both released by the after hook. */
  async function freshDatabase(count = 1): Promise<{ url: string; sequelizes: Sequelize[] }> {
    const scratch = await createScratchDatabase();
    scratches.push(scratch);
    const sequelizes = Array.from({ length: count }, () => createSequelize(scratch.url, maintenanceSettings(2)));
    instances.push(...sequelizes);
    return { url: scratch.url, sequelizes };
  }

  before(async () => {
    names = await migrationNames();
    assert.ok(names.length > 0, "there is at least one migration");
  });
  after(async () => {
    await Promise.all(instances.map((sequelize) => sequelize.close()));
    await Promise.all(scratches.map((scratch) => scratch.drop()));
  });

  it("applies every migration, rolls all of them back to an empty schema, and applies them again", async () => {
    const { sequelizes } = await freshDatabase();
    const sequelize = sequelizes[0]!;
    const migrator = createMigrator(sequelize);
    assert.deepEqual(await tables(sequelize), []);

    const applied = await migrator.up();
    assert.deepEqual(
      applied.map((migration) => migration.name),
      names,
    );
    await assertSchemaPresent(sequelize);
    assert.deepEqual(
      await recorded(sequelize),
      names.map((name) => ({ name, times: 1 })),
    );
    assert.deepEqual(await migrator.pending(), []);

    // The unique indexes compare case-insensitively, as the API relies on.
    await sequelize.query(`INSERT INTO groups (name) VALUES ('10A')`);
    await assert.rejects(sequelize.query(`INSERT INTO groups (name) VALUES ('10a')`), UniqueConstraintError);

    const reverted = await migrator.down({ to: 0 });
    assert.deepEqual(reverted.map((migration) => migration.name).sort(), names);
    assert.deepEqual(await tables(sequelize), [META], "only umzug's own table is left");
    assert.deepEqual(await relations(sequelize), [META, `${META}_pkey`], "no index or sequence left");
    assert.deepEqual(await recorded(sequelize), []);

    const reapplied = await migrator.up();
    assert.deepEqual(
      reapplied.map((migration) => migration.name),
      names,
    );
    await assertSchemaPresent(sequelize);
    assert.deepEqual(
      await recorded(sequelize),
      names.map((name) => ({ name, times: 1 })),
    );
    const groups = await select<{ count: number }>(sequelize, "SELECT count(*)::int AS count FROM groups");
    assert.deepEqual(groups, [{ count: 0 }], "the tables came back empty");
  });

  it("lets two processes migrate one fresh database at once: one applies everything, the other nothing", async () => {
    const { url, sequelizes } = await freshDatabase(2);
    const [first, second] = sequelizes as [Sequelize, Sequelize];

    const results = await Promise.all([migrateToLatest(url, first), migrateToLatest(url, second)]);
    const winners = results.filter((result) => result.length > 0);
    assert.equal(winners.length, 1, `exactly one applied the migrations: ${JSON.stringify(results)}`);
    assert.deepEqual(winners[0], names);
    assert.deepEqual(
      results.find((result) => result.length === 0),
      [],
    );
    assert.deepEqual(
      await recorded(first),
      names.map((name) => ({ name, times: 1 })),
    );
    await assertSchemaPresent(second);
  });

  it("makes a migration wait while another holder has the advisory lock", async () => {
    const { url, sequelizes } = await freshDatabase();
    const sequelize = sequelizes[0]!;
    let migrating: Promise<string[]> | undefined;
    let settled = false;

    await withMigrationLock(url, async () => {
      migrating = migrateToLatest(url, sequelize);
      void migrating.finally(() => (settled = true)).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 750));
      assert.equal(settled, false, "the migration waits for the lock");
      const meta = await select<{ exists: boolean }>(
        sequelize,
        `SELECT to_regclass('public.${META}') IS NOT NULL AS exists`,
      );
      assert.deepEqual(meta, [{ exists: false }], "nothing was touched while the lock was held");
    });

    assert.ok(migrating, "the migration was started");
    assert.deepEqual(await migrating, names, "it runs once the lock is released");
    await assertSchemaPresent(sequelize);
  });
});
