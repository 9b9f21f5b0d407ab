import assert from "node:assert/strict";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { serverVersion } from "./config/version.js";
import { migrationsDir } from "./db/migrator.js";
import { createScratchDatabase } from "./testing/database.js";
import { SilenceableProxy } from "./testing/tcp-proxy.js";
import { waitFor } from "./testing/wait.js";
import { rawRequest } from "./testing/http.js";
import {
  childEnv,
  cleanUpProcesses as cleanUp,
  exitWithin,
  getOnNewConnection,
  isAlive,
  isRunning,
  listeningUrl,
  logLines,
  makeStorageDir,
  pollUntilOk,
  postmasterPid,
  runTs as run,
  spawnProcess,
  type Exit,
} from "./testing/processes.js";

/**
 * Process-level tests: the real entry points run as child processes, exactly as `npm start` and
 * `npm run db` run them, so boot, signals, exit codes and the embedded PostgreSQL's lifetime are real.
 */

describe("server process", function () {
  this.timeout(120_000);
  afterEach(async function () {
    this.timeout(60_000);
    await cleanUp();
  });

  it("boots an embedded PostgreSQL, becomes ready, and on SIGTERM exits 0 with PostgreSQL stopped", async () => {
    const storageDir = await makeStorageDir();
    const started = performance.now();
    const server = run("src/server.ts", [], childEnv({ STORAGE_DIR: storageDir }));
    const url = await listeningUrl(server);
    await pollUntilOk(server, `${url}/readyz`);
    const coldStartMs = Math.round(performance.now() - started);
    console.log(`      cold start to ready (initdb + PostgreSQL + migrations + HTTP): ${coldStartMs} ms`);

    const listening = logLines(server).find((line) => line.msg === "listening");
    assert.equal(listening?.embeddedDatabase, true);
    // Development, but the output is a pipe, not a terminal: JSON lines only, and no banner.
    const written = server.stdout().split("\n").filter(Boolean);
    assert.ok(
      written.every((line) => line.startsWith("{")),
      `not JSON: ${written.find((line) => !line.startsWith("{"))}`,
    );
    assert.ok(!server.stdout().includes("is ready"), "no banner");
    const ready = await rawRequest(`${url}/readyz`);
    assert.deepEqual(JSON.parse(ready.body.toString("utf8")), { status: "ready" });
    const health = await rawRequest(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body.toString("utf8")), { status: "ok" });
    const version = await rawRequest(`${url}/api/v1/version`);
    assert.equal(version.status, 200);
    assert.deepEqual(JSON.parse(version.body.toString("utf8")), {
      name: "shtp-api",
      version: serverVersion,
      apiVersion: "shtp.v1",
    });

    const pid = await postmasterPid(storageDir);
    assert.ok(pid !== undefined && isAlive(pid), "the embedded PostgreSQL runs while the server does");
    server.child.kill("SIGTERM");
    const exit = await exitWithin(server, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
    assert.ok(
      logLines(server).some((line) => line.msg === "stopped"),
      "the server's own shutdown ran to its end",
    );
    const leftover = await postmasterPid(storageDir);
    assert.ok(leftover === undefined || !isAlive(leftover), `PostgreSQL ${leftover} is still running`);
    assert.ok(!isAlive(pid), `PostgreSQL ${pid} is still running`);
  });

  it("lets an in-flight request finish after SIGTERM, refuses new connections, then exits 0", async () => {
    const storageDir = await makeStorageDir();
    const server = run("src/testing/fixture-server.ts", [], childEnv({ STORAGE_DIR: storageDir }));
    const url = await listeningUrl(server);
    await pollUntilOk(server, `${url}/readyz`);

    const sentAt = Date.now();
    const slow = rawRequest(`${url}/api/v1/test/slow?ms=2000`);
    await sleep(300);
    server.child.kill("SIGTERM");
    await sleep(200);
    await assert.rejects(getOnNewConnection(`${url}/healthz`), "a connection opened after SIGTERM is refused");
    assert.ok(isRunning(server), "the server is still draining when the new connection is refused");

    const response = await slow;
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^application\/json/);
    assert.deepEqual(JSON.parse(response.body.toString("utf8")), { name: "slow", version: "2000" });
    assert.ok(Date.now() - sentAt >= 2000, "the response came after the requested delay");

    const exit = await exitWithin(server, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
    const pid = await postmasterPid(storageDir);
    assert.ok(pid === undefined || !isAlive(pid), `PostgreSQL ${pid} is still running`);
  });

  it("on a terminal in development writes readable lines with the request id, and the banner after boot", async () => {
    const scratch = await createScratchDatabase();
    try {
      const storageDir = await makeStorageDir();
      const command = [process.execPath, "--import", "tsx", "src/server.ts"].join(" ");
      // util-linux `script` runs the server on a pseudo-terminal, as a developer's shell would.
      const server = spawnProcess(
        "script",
        ["-qefc", command, "/dev/null"],
        childEnv({
          STORAGE_DIR: storageDir,
          DATABASE_URL: scratch.url,
          NODE_ENV: "development",
          INITIAL_ADMIN_EMAIL: "head@school.test",
          INITIAL_ADMIN_PASSWORD: "head-teacher-pass",
          NO_COLOR: "1",
        }),
      );
      // Line ends as a person reads them (a terminal writes \r\n); NO_COLOR keeps colour codes out.
      const screen = () => server.stdout().replace(/\r/g, "");
      const deadline = Date.now() + 90_000;
      while (!screen().includes("Ctrl-C")) {
        assert.ok(isRunning(server) && Date.now() < deadline, `no banner:\n${screen()}\n${server.stderr()}`);
        await sleep(50);
      }
      const url = /^ {2}Docs {6}(http:\/\/127\.0\.0\.1:\d+)\/api\/docs$/m.exec(screen())?.[1];
      assert.ok(url, screen());
      const requestId = "pty-test-request-0001";
      assert.equal((await rawRequest(`${url}/api/v1/version`, { headers: { "x-request-id": requestId } })).status, 200);
      while (!screen().includes(requestId)) {
        assert.ok(Date.now() < deadline, `the request was not logged:\n${screen()}`);
        await sleep(50);
      }

      const lines = screen().split("\n");
      assert.ok(
        lines.every((line) => !line.startsWith("{")),
        `a JSON line: ${lines.find((line) => line.startsWith("{"))}`,
      );
      assert.ok(lines.some((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening /.test(line)));
      const requestLine = lines.find((line) => line.includes(requestId));
      assert.match(
        requestLine ?? "",
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: request .*"path":"\/api\/v1\/version","status":200/,
      );
      assert.match(screen(), new RegExp(`^ {2}API {7}${url}/api/v1$`, "m"));
      const database = new URL(scratch.url);
      assert.match(screen(), /^ {2}Database {2}postgres:\/\/\S+$/m);
      if (database.password) assert.ok(!screen().includes(`:${database.password}@`), "the password is not shown");
      assert.ok(screen().includes(`@${database.host}${database.pathname}`), "the database's host and name are shown");
      assert.match(screen(), /^ {2}Judge {5}not in this process \(JUDGE_IN_PROCESS=false\); workers: npm run judge$/m);
      assert.match(screen(), /^ {2}Sign in {3}as head@school\.test, created just now with INITIAL_ADMIN_PASSWORD$/m);
      const bannerAt = lines.findIndex((line) => line.includes("is ready (development)"));
      const listeningAt = lines.findIndex((line) => line.includes("INFO: listening"));
      assert.ok(bannerAt > listeningAt, "the banner comes once the server listens");

      server.child.kill("SIGTERM");
      const exit = await exitWithin(server, 15_000);
      assert.equal(exit.code, 0, screen());
    } finally {
      await cleanUp();
      await scratch.drop();
    }
  });

  it("only logs a second SIGTERM while draining (on IPv6): the in-flight request still finishes, and the exit is 0", async () => {
    const storageDir = await makeStorageDir();
    // On IPv6 loopback, which the logged URL must write in brackets.
    const server = run("src/testing/fixture-server.ts", [], childEnv({ STORAGE_DIR: storageDir, HOST: "::1" }));
    const url = await listeningUrl(server);
    assert.match(url, /^http:\/\/\[::1\]:\d+$/);
    await pollUntilOk(server, `${url}/readyz`);

    const slow = rawRequest(`${url}/api/v1/test/slow?ms=1500`);
    await sleep(300);
    server.child.kill("SIGTERM");
    await sleep(200);
    server.child.kill("SIGTERM");
    assert.equal((await slow).status, 200, "the drain was not cut short");
    assert.deepEqual(await exitWithin(server, 15_000), { code: 0, signal: null }, server.stderr());
    assert.deepEqual(
      logLines(server)
        .filter((line) => line.msg === "shutting down" || line.msg === "already shutting down")
        .map((line) => [line.msg, line.signal]),
      [
        ["shutting down", "SIGTERM"],
        ["already shutting down", "SIGTERM"],
      ],
    );
  });

  it("answers /readyz 503 during SHUTDOWN_DELAY_MS, then cuts what outlives SHUTDOWN_TIMEOUT_MS and exits 0", async () => {
    const storageDir = await makeStorageDir();
    const server = run(
      "src/testing/fixture-server.ts",
      [],
      childEnv({ STORAGE_DIR: storageDir, SHUTDOWN_DELAY_MS: "1500", SHUTDOWN_TIMEOUT_MS: "500" }),
    );
    const url = await listeningUrl(server);
    await pollUntilOk(server, `${url}/readyz`);

    const slow = rawRequest(`${url}/api/v1/test/slow?ms=10000`).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    await sleep(300);
    server.child.kill("SIGTERM");
    await sleep(300);
    assert.equal((await rawRequest(`${url}/readyz`)).status, 503, "load balancers are told to stop sending");
    assert.equal((await rawRequest(`${url}/healthz`)).status, 200, "while it still serves");

    const outcome = await slow;
    assert.ok(outcome instanceof Error, `the request past the timeout is cut, not answered (${String(outcome)})`);
    assert.deepEqual(await exitWithin(server, 15_000), { code: 0, signal: null }, server.stderr());
    const lines = logLines(server);
    assert.deepEqual(
      lines.filter((line) => line.msg?.startsWith("readiness answers 503")).map((line) => line.delayMs),
      [1500],
    );
    const cut = lines.filter((line) => line.msg === "shutdown timeout: cut what was still open");
    assert.equal(cut.length, 1, server.stdout());
    assert.equal(cut[0]?.timeoutMs, 500);
    assert.ok(Number(cut[0]?.connections) >= 1);
    const pid = await postmasterPid(storageDir);
    assert.ok(pid === undefined || !isAlive(pid), `PostgreSQL ${pid} is still running`);
  });

  it("on SIGTERM with its database gone silent, leaves the pool's goodbye unanswered, says so, and exits 0", async () => {
    const scratch = await createScratchDatabase();
    const direct = new URL(scratch.url);
    const proxy = await SilenceableProxy.start({ host: direct.hostname, port: Number(direct.port) });
    try {
      const proxied = new URL(scratch.url);
      proxied.port = String(proxy.port);
      const storageDir = await makeStorageDir();
      const server = run(
        "src/server.ts",
        [],
        childEnv({ STORAGE_DIR: storageDir, DATABASE_URL: proxied.href, SHUTDOWN_TIMEOUT_MS: "500" }),
      );
      const url = await listeningUrl(server);
      await pollUntilOk(server, `${url}/readyz`);

      proxy.silence();
      server.child.kill("SIGTERM");
      assert.deepEqual(await exitWithin(server, 20_000), { code: 0, signal: null }, server.stderr());
      // The exit can be reported before the last lines on its stdout are read.
      const said = () => logLines(server).map((line) => line.msg);
      await waitFor(() => said().includes("stopped")).catch(() => assert.fail(server.stdout()));
      assert.ok(
        said().includes("the database did not answer the pool's goodbye; its connections were left"),
        server.stdout(),
      );
    } finally {
      await proxy.close();
      await scratch.drop();
    }
  });

  it("exits 1 with a fatal log line when the database cannot be reached at boot", async () => {
    const storageDir = await makeStorageDir();
    const server = run(
      "src/server.ts",
      [],
      childEnv({ STORAGE_DIR: storageDir, DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none" }),
    );
    assert.deepEqual(await exitWithin(server, 30_000), { code: 1, signal: null });
    const fatal = logLines(server).filter((line) => line.msg === "boot failed");
    assert.equal(fatal.length, 1, server.stdout());
    assert.match(JSON.stringify(fatal[0]?.err), /ECONNREFUSED/);
    assert.equal(server.stderr(), "", "not a configuration mistake: the log says it all");
    assert.equal(logLines(server).filter((line) => line.msg === "listening").length, 0);
  });

  it("exits 1 when its port is taken, having stopped the PostgreSQL it started", async () => {
    const storageDir = await makeStorageDir();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const server = run("src/server.ts", [], childEnv({ STORAGE_DIR: storageDir, PORT: String(port) }));
      assert.deepEqual(await exitWithin(server, 60_000), { code: 1, signal: null });
      const fatal = logLines(server).filter((line) => line.msg === "boot failed");
      assert.match(JSON.stringify(fatal), /EADDRINUSE/, server.stdout());
      assert.ok(logLines(server).some((line) => line.msg === "embedded PostgreSQL started"));
      const pid = await postmasterPid(storageDir);
      assert.ok(pid === undefined || !isAlive(pid), `PostgreSQL ${pid} is still running`);
    } finally {
      taken.close();
    }
  });

  it("exits 78 naming PORT when PORT is not a number", async () => {
    const storageDir = await makeStorageDir();
    const server = run("src/server.ts", [], childEnv({ STORAGE_DIR: storageDir, PORT: "abc" }));
    const exit = await exitWithin(server, 30_000);
    assert.deepEqual(exit, { code: 78, signal: null });
    assert.match(server.stderr(), /PORT/);
    assert.equal(logLines(server).length, 0, "nothing was booted or logged");
    await assert.rejects(fs.stat(path.join(storageDir, "postgres")), "no database was started");
  });

  it("exits 78 naming MIGRATE_ON_BOOT when a migration is pending and it may not apply it, after a fatal log line", async () => {
    const scratch = await createScratchDatabase();
    try {
      const storageDir = await makeStorageDir();
      const server = run(
        "src/server.ts",
        [],
        childEnv({ STORAGE_DIR: storageDir, DATABASE_URL: scratch.url, MIGRATE_ON_BOOT: "false" }),
      );
      assert.deepEqual(await exitWithin(server, 30_000), { code: 78, signal: null });
      assert.match(
        server.stderr(),
        /^Invalid configuration:\n {2}MIGRATE_ON_BOOT: is false and \d+ migration\(s\) are pending/,
      );
      assert.equal(logLines(server).filter((line) => line.msg === "boot failed").length, 1, server.stdout());
      assert.equal(logLines(server).filter((line) => line.msg === "listening").length, 0);
    } finally {
      await scratch.drop();
    }
  });
});

describe("db CLI process", function () {
  this.timeout(120_000);
  let scratch: { url: string; drop: () => Promise<void> };
  let migrationNames: string[];
  before(async () => {
    scratch = await createScratchDatabase();
    migrationNames = (await fs.readdir(migrationsDir))
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
      .map((file) => file.replace(/\.ts$/, ""))
      .sort();
  });
  after(async () => {
    await cleanUp();
    await scratch?.drop();
  });

  async function cli(...args: string[]): Promise<{ exit: Exit; stdout: string; stderr: string }> {
    const storageDir = await makeStorageDir();
    const spawned = run("src/db/cli.ts", args, childEnv({ STORAGE_DIR: storageDir, DATABASE_URL: scratch.url }));
    const exit = await exitWithin(spawned, 60_000);
    return { exit, stdout: spawned.stdout(), stderr: spawned.stderr() };
  }

  it("status, migrate, status, rollback against DATABASE_URL", async () => {
    assert.ok(migrationNames.length > 0);
    const lines = (text: string) => text.trimEnd().split("\n");

    const pending = await cli("status");
    assert.deepEqual(pending.exit, { code: 0, signal: null }, pending.stderr);
    assert.deepEqual(
      lines(pending.stdout),
      migrationNames.map((name) => `pending  ${name}`),
    );

    const migrated = await cli("migrate");
    assert.deepEqual(migrated.exit, { code: 0, signal: null }, migrated.stderr);
    assert.deepEqual(
      lines(migrated.stdout),
      migrationNames.map((name) => `applied ${name}`),
    );

    const applied = await cli("status");
    assert.deepEqual(
      lines(applied.stdout),
      migrationNames.map((name) => `applied  ${name}`),
    );

    const again = await cli("migrate");
    assert.deepEqual(again.exit, { code: 0, signal: null }, again.stderr);
    assert.equal(again.stdout, "nothing to apply\n");

    const rolledBack = await cli("rollback");
    assert.deepEqual(rolledBack.exit, { code: 0, signal: null }, rolledBack.stderr);
    assert.deepEqual(lines(rolledBack.stdout), [`reverted ${migrationNames.at(-1)}`]);
  });

  it("uses the embedded database under STORAGE_DIR without DATABASE_URL, and stops it after each command", async () => {
    const storageDir = await makeStorageDir();
    const embeddedCli = async (command: string) => {
      const spawned = run("src/db/cli.ts", [command], childEnv({ STORAGE_DIR: storageDir, LOG_LEVEL: "error" }));
      const exit = await exitWithin(spawned, 60_000);
      assert.deepEqual(exit, { code: 0, signal: null }, spawned.stderr());
      const pid = await postmasterPid(storageDir);
      assert.ok(pid === undefined || !isAlive(pid), "the embedded PostgreSQL was stopped");
      return spawned.stdout();
    };
    assert.equal(await embeddedCli("rollback"), "nothing to revert\n");
    const status = (await embeddedCli("status")).trimEnd().split("\n");
    assert.deepEqual(
      status,
      migrationNames.map((name) => `pending  ${name}`),
      "the same data folder, its database still empty",
    );
  });

  it("exits 1 with the configuration's message alone when the environment is invalid", async () => {
    const storageDir = await makeStorageDir();
    const spawned = run("src/db/cli.ts", ["status"], childEnv({ STORAGE_DIR: storageDir, DATABASE_POOL_MAX: "0" }));
    assert.deepEqual(await exitWithin(spawned, 60_000), { code: 1, signal: null });
    assert.equal(spawned.stdout(), "");
    assert.match(spawned.stderr(), /^Invalid configuration:\n {2}DATABASE_POOL_MAX: /);
    assert.doesNotMatch(spawned.stderr(), /\n\s+at /, "no stack trace for a configuration mistake");
    await assert.rejects(fs.stat(path.join(storageDir, "postgres")), "no database was started");
  });

  it("exits 1 with the failure and its stack when the database cannot be reached", async () => {
    const storageDir = await makeStorageDir();
    const spawned = run(
      "src/db/cli.ts",
      ["status"],
      childEnv({ STORAGE_DIR: storageDir, DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/none" }),
    );
    assert.deepEqual(await exitWithin(spawned, 60_000), { code: 1, signal: null });
    assert.equal(spawned.stdout(), "");
    assert.match(spawned.stderr(), /ECONNREFUSED/);
    assert.match(spawned.stderr(), /\n\s+at /, "a failure of ours, unlike a configuration mistake, keeps its stack");
  });

  it("exits 2 with the usage on an unknown command", async () => {
    const result = await cli("explode");
    assert.deepEqual(result.exit, { code: 2, signal: null });
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /usage: npm run db -- migrate\|rollback\|status/);
  });
});
