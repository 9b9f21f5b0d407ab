import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { appRoot } from "../config/paths.js";
import { rawRequest } from "./http.js";

/**
 * Child processes for the process-level tests: the real entry points (sources through tsx, the
 * compiled build, `npm start`) started as an operator starts them, with their output collected, and
 * everything a failed test may leave behind stopped afterwards.
 */

/** One JSON log line of the server. */
export interface LogLine {
  msg?: string;
  url?: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned process with its output collected as it arrives. */
export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
}

const children = new Set<Spawned>();
const tempDirs = new Set<string>();

/** @returns a fresh temporary folder, removed by `cleanUpProcesses` */
export async function makeStorageDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-server-test-"));
  tempDirs.add(dir);
  return dir;
}

/**
 * The mocha process's environment without any database of its own, plus the given variables. No
 * judge slot runs in a server started with it unless the test asks (JUDGE_IN_PROCESS, and a
 * JUDGE_SLOT_UID of the test's own so that suites running at once never share a uid).
 */
export function childEnv(variables: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.TEST_DATABASE_URL;
  delete env.TEST_USE_EXTERNAL_DATABASE;
  return { ...env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", JUDGE_IN_PROCESS: "false", ...variables };
}

/**
 * Starts `command args` from the repository root.
 * @param command - an executable on PATH or a path
 * @param args - its arguments
 * @param env - its whole environment
 * @param stdin - what it reads on standard input; none when omitted
 */
export function spawnProcess(command: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Spawned {
  const child = spawn(command, args, {
    cwd: appRoot,
    env,
    stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (stdin !== undefined) child.stdin?.end(stdin);
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

/** Runs `node --import tsx <file> ...args` from the repository root. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  return spawnProcess(process.execPath, ["--import", "tsx", file, ...args], env);
}

export const isRunning = (spawned: Spawned) => spawned.child.exitCode === null && spawned.child.signalCode === null;

/** The JSON lines the process has written to stdout so far. */
export function logLines(spawned: Spawned): LogLine[] {
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
export async function exitWithin(spawned: Spawned, timeoutMs: number): Promise<Exit> {
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
export async function listeningUrl(spawned: Spawned, timeoutMs = 90_000): Promise<string> {
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
export async function pollUntilOk(spawned: Spawned, url: string, timeoutMs = 90_000): Promise<void> {
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
export function getOnNewConnection(url: string): Promise<number> {
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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the embedded cluster's postmaster.pid, when the file exists. */
export async function postmasterPid(storageDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(storageDir, "postgres", "postmaster.pid"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = Number(text.split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Stops what a failed test may have left: its processes, then any PostgreSQL they started, then their folders. */
export async function cleanUpProcesses(): Promise<void> {
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
