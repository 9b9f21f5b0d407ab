import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createLogger } from "../logging/logger.js";
import { recordingLogger } from "../testing/logs.js";
import { isAlive } from "../testing/processes.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded.js";

/**
 * The embedded PostgreSQL of development (src/db/embedded.ts) in a data folder of its own: what it does
 * with a cluster a killed server left running, and with a data folder it cannot use.
 */

/** Runs one statement on `url` and returns its rows. */
async function query<Row extends object>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("startEmbeddedPostgres (src/db/embedded.ts)", function () {
  this.timeout(60_000);
  let dir: string;
  const started: EmbeddedDatabase[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-embedded-test-"));
  });
  afterEach(async () => {
    for (const database of started.splice(0)) await database.stop().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("stops a cluster a killed server left running on its data, then starts on the same data", async () => {
    const dataDir = path.join(dir, "postgres");
    const orphan = await startEmbeddedPostgres({ dataDir, logger: createLogger("silent") });
    started.push(orphan);
    await query(orphan.url, "CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)");
    const [{ pid }] = (await query<{ pid: number }>(orphan.url, "SELECT pg_backend_pid() AS pid")) as [{ pid: number }];
    assert.ok(pid > 0);
    const postmaster = Number((await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    assert.ok(isAlive(postmaster));

    const { logger, lines } = recordingLogger("warn");
    const next = await startEmbeddedPostgres({ dataDir, logger });
    // The orphan's server is gone; its handle would wait forever for an exit it has already seen.
    started.splice(0, started.length, next);
    assert.deepEqual(
      lines.filter((line) => line.msg === "stopping an orphaned embedded PostgreSQL").map((line) => line.pid),
      [postmaster],
    );
    assert.equal(isAlive(postmaster), false, "the orphan is gone");
    assert.notEqual(next.port, orphan.port);
    assert.deepEqual(await query(next.url, "SELECT value FROM kept"), [{ value: 42 }], "the data was reused");
  });

  it("gives up after three attempts on a data folder it cannot use, naming the folder, instead of hanging", async () => {
    const dataDir = path.join(dir, "not-a-folder");
    await fs.writeFile(dataDir, "a file where the data folder should be");
    const { logger, lines } = recordingLogger("debug");
    await assert.rejects(
      startEmbeddedPostgres({ dataDir, logger }),
      new Error(`The embedded PostgreSQL in ${dataDir} did not start`),
    );
    // The server's own reason reaches the log (at debug level, where its output goes), once per start.
    const reasons = lines.filter((line) =>
      String(line.postgres).includes(`"${dataDir}/postgresql.conf": Not a directory`),
    );
    assert.equal(reasons.length, 2, "the first attempt fails to initialise; the other two to start");
  });
});
