import assert from "node:assert/strict";
import os from "node:os";
import { ConfigError, loadConfig } from "../config/index.js";
import { childEnv, cleanUpProcesses, exitWithin, logLines, runTs } from "../testing/processes.js";
import { DEFAULT_WORKER_UID_BASE, parseWorkerArguments } from "./main.js";

describe("npm run judge's command line", () => {
  const url = "postgres://judge@db.internal:5432/shtp";

  it("defaults to cores − 1 slots (at least 1), DATABASE_URL and the worker's uid range", () => {
    const parsed = parseWorkerArguments([], url);
    assert.equal(parsed.slots, Math.max(1, os.availableParallelism() - 1));
    assert.equal(parsed.databaseUrl, url);
    assert.equal(parsed.uidBase, DEFAULT_WORKER_UID_BASE);
    assert.deepEqual(
      [parsed.leaseSeconds, parsed.pollMs, parsed.maintenanceSeconds, parsed.stopGraceMs],
      [60, 1000, 60, 60_000],
    );
  });

  it("takes every option, --database-url over DATABASE_URL", () => {
    const other = "postgresql://judge@elsewhere/shtp";
    assert.deepEqual(
      parseWorkerArguments(
        [
          "--slots",
          "3",
          "--database-url",
          other,
          "--uid-base",
          "61000",
          "--lease-seconds",
          "5",
          "--poll-ms",
          "100",
          "--maintenance-seconds",
          "2",
          "--stop-grace-seconds",
          "0",
        ],
        url,
      ),
      {
        slots: 3,
        databaseUrl: other,
        uidBase: 61_000,
        leaseSeconds: 5,
        pollMs: 100,
        maintenanceSeconds: 2,
        stopGraceMs: 0,
      },
    );
  });

  it("refuses a bad number, one out of range, an unknown option, a uid below 1000 and a missing database", () => {
    assert.throws(() => parseWorkerArguments(["--slots", "0"], url), /--slots must be a whole number from 1/);
    assert.throws(() => parseWorkerArguments(["--slots", "two"], url), ConfigError);
    assert.throws(() => parseWorkerArguments(["--uid-base", "999"], url), /--uid-base/);
    assert.throws(
      () => parseWorkerArguments(["--lease-seconds", "3601"], url),
      /--lease-seconds must be a whole number from 3 to 3600, not "3601"/,
    );
    assert.throws(() => parseWorkerArguments(["--slot", "2"], url), /Unknown option '--slot'/);
    assert.throws(() => parseWorkerArguments([], undefined), /--database-url \(or DATABASE_URL\)/);
    assert.throws(() => parseWorkerArguments(["--database-url", "mysql://x/y"], undefined), ConfigError);
  });

  it("needs no JWT secret in production: a worker signs no token", () => {
    assert.throws(() => loadConfig({ NODE_ENV: "production" }), /JWT_SECRET/);
    assert.equal(loadConfig({ NODE_ENV: "production" }, { signsTokens: false }).env, "production");
  });

  describe("as a process that cannot start", function () {
    this.timeout(60_000);
    afterEach(() => cleanUpProcesses());

    const judge = (args: string[]) => runTs("src/judge/main.ts", args, childEnv({ NODE_ENV: "test" }));

    it("exits 78 with the usage on a bad command line, before it connects to anything", async () => {
      const worker = judge(["--slot", "2", "--database-url", url]);
      assert.equal((await exitWithin(worker, 30_000)).code, 78);
      assert.match(worker.stderr(), /Unknown option '--slot'/);
      assert.match(worker.stderr(), /^Usage: npm run judge -- \[options\]$/m);
      assert.equal(worker.stdout(), "", "nothing was logged: no logger, no database");
    });

    it("exits 1 saying why when the database cannot be reached", async () => {
      const worker = judge(["--database-url", "postgres://nobody:nothing@127.0.0.1:1/none", "--slots", "1"]);
      assert.equal((await exitWithin(worker, 30_000)).code, 1);
      const [fatal] = logLines(worker).filter((line) => line.msg === "judge boot failed");
      assert.match(JSON.stringify(fatal?.err), /ECONNREFUSED 127\.0\.0\.1:1/);
    });
  });
});
