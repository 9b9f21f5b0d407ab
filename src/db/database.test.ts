import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../config/index.js";
import { createScratchDatabase } from "../testing/database.js";
import { recordingLogger } from "../testing/logs.js";
import { isAlive, postmasterPid } from "../testing/processes.js";
import { testConfig } from "../testing/server.js";
import { openDatabase } from "./database.js";

/**
 * Opening the process's database (src/db/database.ts): a fresh one with MIGRATE_ON_BOOT=false is refused
 * as a configuration the release must fix, a migrated one is taken, and readiness tells which is which.
 */
describe("openDatabase (src/db/database.ts)", function () {
  this.timeout(60_000);
  const quiet = recordingLogger("silent").logger;
  // The modules' models stay bound to the suite's database: binding them here would move them.
  const initModels = () => undefined;

  it("refuses a database with pending migrations when MIGRATE_ON_BOOT=false, naming them; takes it once migrated", async () => {
    const scratch = await createScratchDatabase();
    try {
      const refusing = testConfig({ DATABASE_URL: scratch.url, MIGRATE_ON_BOOT: "false" });
      await assert.rejects(openDatabase(refusing, quiet, initModels), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(
          error.message,
          /^Invalid configuration:\n {2}MIGRATE_ON_BOOT: is false and \d+ migration\(s\) are pending \(\d/,
        );
        assert.match(error.message, /run `node dist\/db\.js migrate` first$/);
        return true;
      });

      const migrating = await openDatabase(testConfig({ DATABASE_URL: scratch.url }), quiet, initModels);
      assert.equal(await migrating.isReady(), true);
      assert.equal(await migrating.close(), true);

      const database = await openDatabase(refusing, quiet, initModels);
      try {
        assert.equal(database.embedded, undefined, "DATABASE_URL set: no PostgreSQL of its own");
        assert.equal(await database.isReady(), true);
      } finally {
        await database.close();
      }
      assert.equal(await database.isReady(), false, "a closed pool is not ready, and the check does not throw");
    } finally {
      await scratch.drop();
    }
  });

  it("stops the embedded PostgreSQL it started when the database is refused", async () => {
    const storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-database-test-"));
    try {
      const { logger, lines } = recordingLogger("info");
      const config = testConfig({ STORAGE_DIR: storageDir, MIGRATE_ON_BOOT: "false" });
      await assert.rejects(openDatabase(config, logger, initModels), ConfigError);
      assert.ok(
        lines.some((line) => line.msg === "embedded PostgreSQL started" && typeof line.port === "number"),
        "it was started",
      );
      const pid = await postmasterPid(storageDir);
      assert.ok(pid === undefined || !isAlive(pid), `PostgreSQL ${pid} is still running`);
    } finally {
      await fs.rm(storageDir, { recursive: true, force: true });
    }
  });
});
