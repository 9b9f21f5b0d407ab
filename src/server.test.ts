import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serverVersion } from "./config/version.js";
import { migrationsDir } from "./db/migrator.js";
import { createScratchDatabase } from "./testing/database.js";
import { rawRequest } from "./testing/http.js";

/**
 * Process-level tests: the real entry points run as child processes, exactly as `npm start` and
 * `npm run db` run them, so boot, signals, exit codes and the embedded PostgreSQL's lifetime are real.
 */

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** One JSON log line of the server. */
interface LogLine {
  msg?: string;
  url?: string;
  [field: string]: unknown;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned process with its output collected as it arrives. */
interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
}

const children = new Set<Spawned>();
const tempDirs = new Set<string>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function makeStorageDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-server-test-"));
  tempDirs.add(dir);
  return dir;
}

/** The mocha process's environment without any database of its own, plus the given variables. */
function childEnv(variables: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.TEST_DATABASE_URL;
  delete env.TEST_USE_EXTERNAL_DATABASE;
  return { ...env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...variables };
}

/** Runs `node --import tsx <file> ...args` from the repository root. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, ["--import", "tsx", file, ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const spawned: Spawned = { child, stdout: () => stdout, stderr: () => stderr, exited };
  children.add(spawned);
  void exited.then(() => children.delete(spawned));
  return spawned;
}

const isRunning = (spawned: Spawned) => spawned.child.exitCode === null && spawned.child.signalCode === null;

function logLines(spawned: Spawned): LogLine[] {
  return spawned
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * Resolves with the process's exit, or rejects after `timeoutMs`.
 * @param spawned - the process
 * @param timeoutMs - how long to wait
 */
async function exitWithin(spawned: Spawned, timeoutMs: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process still running after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([spawned.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the "listening" log line and returns its URL; fails if the process exits first. */
async function listeningUrl(spawned: Spawned, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = logLines(spawned).find((entry) => entry.msg === "listening");
    if (line) {
      assert.equal(typeof line.url, "string", "the listening line carries the URL");
      return String(line.url);
    }
    if (!isRunning(spawned)) {
      throw new Error(`the server exited before listening:\n${spawned.stdout()}\n${spawned.stderr()}`);
    }
    await sleep(25);
  }
  throw new Error(`the server did not log "listening" within ${timeoutMs} ms:\n${spawned.stderr()}`);
}

/** Polls `url` until it answers 200. */
async function pollUntilOk(spawned: Spawned, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(spawned)) throw new Error(`the server exited:\n${spawned.stdout()}\n${spawned.stderr()}`);
    const status = await rawRequest(url).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(25);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** A GET on a connection of its own (no pooled keep-alive socket), resolving with the status. */
function getOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the embedded cluster's postmaster.pid, when the file exists. */
async function postmasterPid(storageDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(storageDir, "postgres", "postmaster.pid"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = Number(text.split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Stops what a failed test may have left: its server processes, then any PostgreSQL they started. */
async function cleanUp(): Promise<void> {
  for (const spawned of [...children]) {
    if (!isRunning(spawned)) continue;
    spawned.child.kill("SIGTERM");
    await exitWithin(spawned, 15_000).catch(async () => {
      spawned.child.kill("SIGKILL");
      await spawned.exited;
    });
  }
  for (const dir of [...tempDirs]) {
    const pid = await postmasterPid(dir);
    if (pid !== undefined && isAlive(pid)) {
      // SIGINT is PostgreSQL's fast shutdown; a cluster orphaned by a killed server is ours to stop.
      process.kill(pid, "SIGINT");
      for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await sleep(100);
    }
    await fs.rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

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

  it("exits 78 naming PORT when PORT is not a number", async () => {
    const storageDir = await makeStorageDir();
    const server = run("src/server.ts", [], childEnv({ STORAGE_DIR: storageDir, PORT: "abc" }));
    const exit = await exitWithin(server, 30_000);
    assert.deepEqual(exit, { code: 78, signal: null });
    assert.match(server.stderr(), /PORT/);
    assert.equal(logLines(server).length, 0, "nothing was booted or logged");
    await assert.rejects(fs.stat(path.join(storageDir, "postgres")), "no database was started");
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

  it("exits 2 with the usage on an unknown command", async () => {
    const result = await cli("explode");
    assert.deepEqual(result.exit, { code: 2, signal: null });
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /usage: npm run db -- migrate\|rollback\|status/);
  });
});
