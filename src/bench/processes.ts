import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { SERVER_NODE_FLAGS } from "../config/node-flags.js";
import { freePort } from "../db/embedded.js";
import { buildDist } from "../tools/build.js";
import type {
  Job,
  JobResult,
  LoadJob,
  LoadResult,
  ReferenceReady,
  ReferenceSpec,
  UploadJob,
  UploadResult,
} from "./protocol.js";

/** Children run TypeScript through tsx's loader, exactly as `npm start` runs the server. */
const TSX = ["--import", "tsx"];
const benchFile = (name: string) => path.resolve("src", "bench", name);

/** A child process the bench owns: where it listens, its pid (for RSS) and how to stop it. */
export interface ChildServer {
  origin: string;
  pid: number;
  stop(): Promise<void>;
}

/** Sends SIGTERM and waits for the exit, then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitUntilReady(origin: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The server exited with ${child.exitCode}; see ${logFile}`);
    const status = await fetch(`${origin}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`The server did not become ready; see ${logFile}`);
}

/** The STORAGE_DIR of the server under test: its proofs and avatars. */
export const serverFilesDir = (benchDir: string): string => path.join(benchDir, "files");

/** A judge worker process of the bench. */
export interface ChildWorker {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a judge worker (`node dist/judge.js`, or its sources through tsx) on `databaseUrl`, its output
 * in `judge.log` under the bench's folder, and resolves once it takes jobs.
 * @param options.runtime - `dist` expects dist/ built already (the server's start builds it)
 */
export async function startJudgeWorker(options: {
  databaseUrl: string;
  benchDir: string;
  runtime: "dist" | "tsx";
  slots: number;
  uidBase: number;
}): Promise<ChildWorker> {
  const logFile = path.join(options.benchDir, "judge.log");
  const entry =
    options.runtime === "dist" ? [path.resolve("dist", "judge.js")] : [...TSX, path.resolve("src", "judge", "main.ts")];
  const args = ["--slots", String(options.slots), "--uid-base", String(options.uidBase), "--poll-ms", "200"];
  const child = spawn(process.execPath, [...entry, ...args], {
    env: { PATH: process.env.PATH, NODE_ENV: "production", DATABASE_URL: options.databaseUrl, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  // Its workers row is its first heartbeat, written once it takes jobs.
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`The judge worker exited with ${child.exitCode}; see ${logFile}`);
      const { rows } = await client.query("SELECT 1 FROM judge_workers WHERE id LIKE $1", [`%:${child.pid}`]);
      if (rows.length > 0) break;
      if (Date.now() > deadline) throw new Error(`The judge worker did not start; see ${logFile}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stopChild(child);
    throw error;
  } finally {
    await client.end();
  }
  return { pid: child.pid ?? 0, stop: () => stopChild(child) };
}

/**
 * Starts the real server in its own process on the bench database, in production mode with its access log
 * on (`info`, as production runs it), its files under the bench's folder and its output in `server.log`
 * there, written by the server itself (not piped through the bench).
 * @param options.runtime - `dist`: `node dist/server.js` with SERVER_NODE_FLAGS, built first, as production runs it;
 *   `tsx`: the sources
 * @param options.cpuProfileDir - when set, the process runs with --cpu-prof and writes its profile there on exit
 */
export async function startAppServer(options: {
  databaseUrl: string;
  benchDir: string;
  runtime: "dist" | "tsx";
  cpuProfileDir?: string;
}): Promise<ChildServer> {
  const port = await freePort();
  const logFile = path.join(options.benchDir, "server.log");
  const storageDir = serverFilesDir(options.benchDir);
  await fs.mkdir(storageDir, { recursive: true });
  const profiling = options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir] : [];
  if (options.runtime === "dist") await buildDist();
  const entry =
    options.runtime === "dist" ? [path.resolve("dist", "server.js")] : [...TSX, path.resolve("src", "server.ts")];
  const log = await fs.open(logFile, "w");
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...profiling, ...entry], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      // Production refuses the development secret; a fresh one per run is all a bench needs.
      JWT_SECRET: randomBytes(32).toString("hex"),
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      STORAGE_DIR: storageDir,
      LOG_LEVEL: "info",
      // A full run must not see its tokens expire half-way.
      ACCESS_TOKEN_TTL_SECONDS: "86400",
      // The seed spans ~4 months; a long window keeps the retention job from deleting rows mid-run.
      NOTIFICATION_RETENTION_DAYS: "3650",
      // The upload burst sends its 20 proofs as one user, who may otherwise have only 3 in flight.
      MAX_UPLOADS_PER_USER: "20",
      // The submission scenario sends as each student as fast as the server takes (the limiter still runs).
      SUBMISSIONS_PER_WINDOW: "10000",
      SUBMISSION_WINDOW_SECONDS: "1",
      SUBMISSIONS_PER_DAY: "100000",
      // The judge scenario starts worker processes of its own; a slot in here would blur the HTTP figures.
      JUDGE_IN_PROCESS: "false",
    },
    stdio: ["ignore", log.fd, log.fd],
  });
  await log.close();
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(origin, child, logFile);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { origin, pid: child.pid!, stop: () => stopChild(child) };
}

/**
 * Starts a reference server (reference.ts) in its own process.
 * @param spec - which one, and what it needs
 */
export async function startReferenceServer(spec: ReferenceSpec): Promise<ChildServer> {
  const child = fork(benchFile("reference.ts"), [JSON.stringify(spec)], { execArgv: TSX, stdio: "inherit" });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message: ReferenceReady) => resolve(message.port));
    child.once("exit", (code) => reject(new Error(`The ${spec.kind} reference server exited with ${code}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) };
}

/** The load generator process (load.ts): one job at a time. */
export interface LoadGenerator {
  /** One autocannon run. */
  load(job: Omit<LoadJob, "id" | "kind">): Promise<LoadResult>;
  /** One burst of simultaneous uploads. */
  upload(job: Omit<UploadJob, "id" | "kind">): Promise<UploadResult>;
  stop(): Promise<void>;
}

/** Starts the load generator process. */
export function startLoadGenerator(): LoadGenerator {
  const child = fork(benchFile("load.ts"), [], { execArgv: TSX, stdio: "inherit" });
  let next = 0;
  const send = (job: Job): Promise<JobResult> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`The load generator exited with ${code}`));
      const onMessage = (result: JobResult) => {
        if (result.id !== job.id) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (result.kind === "failed") reject(new Error(`Load job failed: ${result.message}`));
        else resolve(result);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send(job);
    });
  return {
    async load(job) {
      const result = await send({ ...job, kind: "autocannon", id: ++next });
      if (result.kind !== "autocannon") throw new Error(`Unexpected ${result.kind} result`);
      return result;
    },
    async upload(job) {
      const result = await send({ ...job, kind: "upload", id: ++next });
      if (result.kind !== "upload") throw new Error(`Unexpected ${result.kind} result`);
      return result;
    },
    stop: async () => {
      if (child.connected) child.disconnect();
      await stopChild(child, 5000);
    },
  };
}

/** Resident and peak resident memory of a process, in MiB, from /proc (Linux). */
export async function memoryOf(pid: number): Promise<{ rssMiB: number; hwmMiB: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rssMiB: field("VmRSS"), hwmMiB: field("VmHWM") };
}

/**
 * Samples a process's RSS every `intervalMs` until stopped.
 * @returns stop(), which resolves to the samples in MiB
 */
export function sampleRss(pid: number, intervalMs: number): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let pending = Promise.resolve();
  const timer = setInterval(() => {
    pending = pending.then(async () => {
      samples.push((await memoryOf(pid)).rssMiB);
    });
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
      return samples;
    },
  };
}
