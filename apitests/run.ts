/**
 * `npm run apitests [-- --base URL --admin-email E --admin-password P --junit FILE]`
 *
 * Without --base it boots the real server on its own embedded PostgreSQL (with an initial admin it
 * made up), seeds actors through the API, runs every case in JSON and in protobuf, compares the two,
 * checks every OpenAPI operation has a success and a failure case, prints one line per case and
 * encoding and `N passed, N failed`, writes a JUnit report, and exits non-zero on any failure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { junitXml } from "./lib/junit.js";
import { runApiTests, type CaseResult } from "./lib/runner.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    "admin-email": { type: "string" },
    "admin-password": { type: "string" },
    junit: { type: "string", default: path.join(root, "node_modules", ".cache", "apitests", "junit.xml") },
  },
});

/** Boots `src/server.ts` on a fresh embedded database and resolves with its URL once it listens. */
async function bootServer(admin: {
  email: string;
  password: string;
}): Promise<{ url: string; child: ChildProcess; storage: string }> {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), "shtp-apitests-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    STORAGE_DIR: storage,
    LOG_LEVEL: "info",
    INITIAL_ADMIN_EMAIL: admin.email,
    INITIAL_ADMIN_PASSWORD: admin.password,
    // Each run sends a few solutions in quick succession; the limits themselves are tested by mocha.
    SUBMISSIONS_PER_WINDOW: "1000",
    // The cases read submissions as they wait in the queue: no judge takes them here.
    JUDGE_IN_PROCESS: "false",
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src", "server.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited with ${code} before listening`)));
    lines.on("line", (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === "listening" && entry.url) resolve(entry.url);
    });
  });
  return { url, child, storage };
}

const started = performance.now();
const admin = {
  email: values["admin-email"] ?? `admin-${randomBytes(4).toString("hex")}@apitests.example`,
  password: values["admin-password"] ?? randomBytes(12).toString("base64url"),
};
const server = values.base ? undefined : await bootServer(admin);
const baseUrl = values.base ?? server!.url;

const line = (result: CaseResult) => {
  const verdict = result.failures.length ? "FAIL" : "pass";
  process.stdout.write(`${verdict} [${result.encoding}] ${result.file}: ${result.title}\n`);
  for (const failure of result.failures) process.stdout.write(`     ${failure}\n`);
};

let results: CaseResult[] = [];
try {
  results = await runApiTests({
    baseUrl,
    casesDir: path.join(here, "cases"),
    protoDir: path.join(root, "proto"),
    fixturesDir: path.join(here, "fixtures"),
    admin,
    schoolTimeZone: process.env.SCHOOL_TIME_ZONE,
    onResult: line,
  });
} catch (error) {
  results.push({
    title: "runner",
    file: "run.ts",
    encoding: "coverage",
    failures: [error instanceof Error ? error.message : String(error)],
    ms: 0,
  });
  line(results[results.length - 1]!);
} finally {
  if (server) {
    server.child.kill("SIGTERM");
    await new Promise((resolve) => server.child.once("exit", resolve));
    fs.rmSync(server.storage, { recursive: true, force: true });
  }
}

const seconds = (performance.now() - started) / 1000;
fs.mkdirSync(path.dirname(values.junit), { recursive: true });
fs.writeFileSync(values.junit, junitXml(results, seconds));
const failed = results.filter((result) => result.failures.length > 0).length;
const requests = results.filter((result) => result.encoding === "json" || result.encoding === "protobuf").length;
process.stdout.write(
  `apitests: ${requests} encoded requests in ${seconds.toFixed(1)} s; JUnit report: ${path.relative(root, values.junit)}\n`,
);
process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
