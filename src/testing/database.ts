import { initModels } from "../modules/index.js";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { loadConfig } from "../config/index.js";
import { connect, ensureDatabaseExists, type Database } from "../db/database.js";
import type { Db } from "../db/db.js";
import { createSequelize } from "../db/sequelize.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { createLogger } from "../logging/logger.js";

/** The PostgreSQL server the suite runs against and the fresh database it made there. */
export interface TestDatabase {
  /** Administrative URL of the server (database `postgres`, or the external one as given). */
  serverUrl: string;
  database: Database;
  /** `embedded` or `external`, to label the run. */
  kind: "embedded" | "external";
}

let current: { test: TestDatabase; embedded?: EmbeddedDatabase; tempDir?: string; name: string } | undefined;

/**
 * Starts the suite's database: a fresh database on the external server named by TEST_DATABASE_URL when
 * TEST_USE_EXTERNAL_DATABASE=1, otherwise on an embedded PostgreSQL in a temporary directory. A fresh
 * database per run keeps runs independent of whatever an earlier run left behind.
 */
export async function startTestDatabase(): Promise<TestDatabase> {
  const externalUrl = process.env.TEST_USE_EXTERNAL_DATABASE === "1" ? process.env.TEST_DATABASE_URL : undefined;
  let embedded: EmbeddedDatabase | undefined;
  let tempDir: string | undefined;
  let serverUrl = externalUrl;
  if (!serverUrl) {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-test-"));
    embedded = await startEmbeddedPostgres({ dataDir: path.join(tempDir, "data"), logger: createLogger("silent") });
    serverUrl = embedded.url;
  }
  const name = `shtp_test_${randomBytes(6).toString("hex")}`;
  const url = await ensureDatabaseExists(serverUrl, name);
  const database = await connect(url, loadConfig({ NODE_ENV: "test" }).database, initModels);
  const test: TestDatabase = { serverUrl, database, kind: externalUrl ? "external" : "embedded" };
  current = { test, embedded, tempDir, name };
  return test;
}

/** @returns the suite's database, started by the root hook */
export function testDatabase(): TestDatabase {
  if (!current) throw new Error("The test database is not started; is src/testing/hooks.ts required by mocha?");
  return current.test;
}

/** Closes the pool, drops the run's database and stops the embedded server. */
export async function stopTestDatabase(): Promise<void> {
  if (!current) return;
  const { test, embedded, tempDir, name } = current;
  current = undefined;
  await test.database.close();
  await dropDatabase(test.serverUrl, name);
  await embedded?.stop();
  if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
}

/**
 * Runs `work` with a Db on the suite's database whose sessions PostgreSQL ends once a transaction sits
 * idle for `idleMs` (`idle_in_transaction_session_timeout`): for tests of work that must not wait
 * inside a transaction. Its own pool, closed after.
 */
export async function withIdleTransactionLimit<T>(idleMs: number, work: (db: Db) => Promise<T>): Promise<T> {
  const sequelize = createSequelize(testDatabase().database.url, {
    ...loadConfig({ NODE_ENV: "test" }).database,
    poolMax: 2,
    idleInTransactionTimeoutMs: idleMs,
  });
  try {
    return await work({ sequelize });
  } finally {
    await sequelize.close();
  }
}

/**
 * Creates a further empty database on the suite's server, for tests that need one of their own
 * (migrations up and down, concurrent boots).
 * @returns its URL and a function that drops it
 */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { serverUrl } = testDatabase();
  const name = `shtp_scratch_${randomBytes(6).toString("hex")}`;
  const url = await ensureDatabaseExists(serverUrl, name);
  return { url, drop: () => dropDatabase(serverUrl, name) };
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
