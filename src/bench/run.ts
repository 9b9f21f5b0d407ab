/**
 * `npm run bench`: seeds (or reuses) a large embedded database, starts the real server, the two reference
 * servers and an autocannon process, runs every scenario round-robin after a warm-up, measures the server's
 * memory, and prints a table and the targets (met / not met); the full data go to a JSON file.
 * Not a test: it asserts nothing and never fails on a missed target. README "Benchmark" lists the options.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { VersionInfo, protobufPackage } from "../../generated/shtp/v1/meta.js";
import { serverVersion } from "../config/version.js";
import { createLogger } from "../logging/logger.js";
import { buildDist } from "../tools/build.js";
import { judgeTarget, measureJudgeThroughput, renderJudgeBench, type JudgeBenchOutcome } from "./judge-floor.js";
import { BENCH_DIR, loadBenchOptions, type BenchOptions } from "./options.js";
import {
  memoryOf,
  sampleRss,
  serverFilesDir,
  startAppServer,
  startLoadGenerator,
  startReferenceServer,
  type LoadGenerator,
} from "./processes.js";
import type { LoadRequest } from "./protocol.js";
import {
  judgeTargets,
  renderReport,
  renderTargets,
  summarize,
  type BenchReport,
  type MemoryOutcome,
  type OpenLoopOutcome,
  type ScenarioOutcome,
} from "./report.js";
import { requestsOf, SCENARIOS, UPLOAD, type Scenario, type ScenarioContext, type ServerName } from "./scenarios.js";
import {
  BENCH_PASSWORD,
  benchEmail,
  contestStudentNumbers,
  prepareBenchDatabase,
  readFixtures,
  userNumbers,
} from "./seed.js";
import { forgetBenchSubmissions, measureWrites } from "./writes.js";

const say = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** One request outside the load, to see whether a route exists and what it answers. */
async function probe(origin: string, request: LoadRequest): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(new URL(request.path, origin), {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

async function signIn(origin: string, email: string): Promise<string> {
  const { status, body } = await probe(origin, {
    method: "POST",
    path: "/api/v1/auth/login",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  });
  if (status !== 200) throw new Error(`Signing in as ${email} answered ${status}: ${body.toString("utf8")}`);
  return (JSON.parse(body.toString("utf8")) as { accessToken: string }).accessToken;
}

const selected = (options: BenchOptions, id: string) => !options.only || options.only.some((word) => id.includes(word));

const gitCommit = () => {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8" }).trim() !== "";
    return dirty ? `${commit}+changes` : commit;
  } catch {
    return "unknown";
  }
};

const machine = () => ({
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  loadAverage: os.loadavg(),
});

/** The judge scenario; a failure (no sandbox here, say) is reported, not thrown. */
async function measureJudge(
  options: BenchOptions,
  logger: ReturnType<typeof createLogger>,
): Promise<{ outcome?: JudgeBenchOutcome; note?: string }> {
  say("judge: a worker process with 2 slots on its own embedded PostgreSQL (storage/bench/judge-postgres)");
  try {
    return { outcome: await measureJudgeThroughput({ benchDir: BENCH_DIR, runtime: options.runtime, logger, say }) };
  } catch (error) {
    const note = error instanceof Error ? error.message : String(error);
    say(`judge failed: ${note}`);
    return { note: `failed: ${note}` };
  }
}

/** `BENCH_ONLY=judge`: the judge against its floor and nothing else (no seed, no HTTP load). */
async function judgeOnly(options: BenchOptions): Promise<void> {
  const startedAt = new Date().toISOString();
  const logger = createLogger("warn", process.stderr);
  if (options.runtime === "dist") await buildDist();
  const judge = await measureJudge(options, logger);
  const targets = [judgeTarget(judge.outcome, judge.note)];
  const report = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machine(),
    gitCommit: gitCommit(),
    options: { ...options },
    judge: judge.outcome,
    targets,
  };
  await fs.mkdir(path.dirname(options.reportPath), { recursive: true });
  await fs.writeFile(options.reportPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    [
      `ShTP API benchmark, judge only — ${startedAt}, ${report.machine.cpus} × ${report.machine.cpuModel}, ` +
        `load average ${report.machine.loadAverage.map((value) => value.toFixed(2)).join(" ")}, commit ${report.gitCommit}`,
      "",
      ...(judge.outcome ? [renderJudgeBench(judge.outcome), ""] : []),
      renderTargets(targets),
      "",
      `JSON report: ${options.reportPath}`,
      "",
    ].join("\n"),
  );
}

async function main(): Promise<void> {
  const options = loadBenchOptions();
  await fs.mkdir(BENCH_DIR, { recursive: true });
  if (options.only?.every((word) => word === "judge")) return judgeOnly(options);
  const startedAt = new Date().toISOString();
  const logger = createLogger("info", process.stderr);
  const stops: (() => Promise<void>)[] = [];
  let report: BenchReport | undefined;
  try {
    say("preparing the bench database (storage/bench/postgres)");
    const database = await prepareBenchDatabase({
      dataDir: path.join(BENCH_DIR, "postgres"),
      reseed: options.reseed,
      logger,
    });
    stops.push(() => database.stop());
    // A new seed drops every row, so files the server stored for the old one are orphans now.
    if (database.seeded) await fs.rm(serverFilesDir(BENCH_DIR), { recursive: true, force: true });
    const fixtures = await readFixtures(database.url);

    const profileDir = options.cpuProfile ? path.join(BENCH_DIR, "profiles") : undefined;
    say(
      `starting the server under test (${options.runtime})${profileDir ? ` with --cpu-prof into ${profileDir}` : ""}`,
    );
    const app = await startAppServer({
      databaseUrl: database.url,
      benchDir: BENCH_DIR,
      runtime: options.runtime,
      cpuProfileDir: profileDir,
    });
    stops.push(() => app.stop());
    const memory: MemoryOutcome = { idleMiB: (await memoryOf(app.pid)).rssMiB };
    // The same bytes GET /version writes, so the bare Koa server answers a body of the same size.
    const versionBody = JSON.stringify(
      VersionInfo.toJSON({ name: "shtp-api", version: serverVersion, apiVersion: protobufPackage }),
    );
    const koa = await startReferenceServer({ kind: "koa", body: versionBody });
    stops.push(() => koa.stop());
    const context: ScenarioContext = {
      tokens: {
        heavy: await signIn(app.origin, benchEmail(userNumbers.heavy)),
        light: await signIn(app.origin, benchEmail(userNumbers.light)),
        teacher: await signIn(app.origin, benchEmail(userNumbers.teacher)),
        contestStudents: await Promise.all(contestStudentNumbers.map((n) => signIn(app.origin, benchEmail(n)))),
      },
      fixtures,
      loginEmail: benchEmail(userNumbers.light),
      password: BENCH_PASSWORD,
    };
    const floorSpec = {
      kind: "floor",
      databaseUrl: database.url,
      userId: fixtures.heavyUserId,
      limit: 20,
      // The app's default pool (DATABASE_POOL_MAX), so both wait on the database alike.
      poolMax: 10,
    } as const;
    const floor = await startReferenceServer(floorSpec);
    stops.push(() => floor.stop());
    const sessionId = decodeJwt(context.tokens.heavy).sid;
    const floorSession = await startReferenceServer({
      ...floorSpec,
      sessionId: typeof sessionId === "string" ? sessionId : undefined,
    });
    stops.push(() => floorSession.stop());
    const origins: Record<ServerName, string> = {
      app: app.origin,
      koa: koa.origin,
      floor: floor.origin,
      floorSession: floorSession.origin,
    };

    // Probe every scenario once: routes of modules not merged yet answer 404/405 and are reported as such.
    // Those BENCH_ONLY leaves out are probed too: the memory section's mixed load runs every scenario.
    const outcomes: ScenarioOutcome[] = [];
    const bodies = new Map<string, Buffer>();
    const available: Scenario[] = [];
    for (const scenario of SCENARIOS) {
      const outcome: ScenarioOutcome = {
        id: scenario.id,
        title: scenario.title,
        kind: scenario.kind,
        server: scenario.server,
        status: "measured",
        connections: scenario.connections ?? options.connections,
        rounds: [],
      };
      outcomes.push(outcome);
      const { status, body } = await probe(origins[scenario.server], requestsOf(scenario, context)[0]!);
      bodies.set(scenario.id, body);
      if (scenario.pendingModule && (status === 404 || status === 405)) {
        outcome.status = "not available";
        outcome.note = `${scenario.pendingModule} module not merged (HTTP ${status})`;
        continue;
      } else if (status < 200 || status > 299) {
        outcome.status = "failed";
        outcome.note = `probe answered HTTP ${status}: ${body.toString("utf8").slice(0, 120)}`;
        continue;
      }
      available.push(scenario);
      // The reference servers always run: every other figure is divided by theirs.
      if (scenario.kind !== "reference" && !selected(options, scenario.id)) {
        outcome.status = "skipped";
        outcome.note = "BENCH_ONLY";
      }
    }
    const checks = consistencyChecks(bodies, versionBody);
    for (const check of checks) say(check);

    const load = startLoadGenerator();
    stops.push(() => load.stop());
    const runnable = SCENARIOS.filter((scenario) => outcomes.find((o) => o.id === scenario.id)?.status === "measured");
    const roundSeconds = options.warmupSeconds + options.durationSeconds;
    say(
      `${runnable.length} scenarios × ${options.repeats} rounds × ${roundSeconds} s ≈ ` +
        `${Math.ceil((runnable.length * options.repeats * roundSeconds + options.memorySeconds) / 60)} min of load`,
    );
    for (let round = 0; round < options.repeats; round++) {
      // Round-robin, starting one further each round, so no scenario always follows the same neighbour.
      const shift = round % Math.max(1, runnable.length);
      for (const scenario of [...runnable.slice(shift), ...runnable.slice(0, shift)]) {
        const outcome = outcomes.find((o) => o.id === scenario.id)!;
        const job = {
          origin: origins[scenario.server],
          requests: requestsOf(scenario, context),
          connections: outcome.connections,
        };
        await load.load({ ...job, durationSeconds: options.warmupSeconds });
        const result = await load.load({ ...job, durationSeconds: options.durationSeconds });
        outcome.rounds.push(result);
        // Every round reads the seeded rows: the thousands of solutions a submissions round sends to the
        // contest would otherwise enter the next rounds of its results, each more than the one before.
        if (scenario.kind === "write") await forgetBenchSubmissions(database.url);
        say(
          `round ${round + 1}/${options.repeats} ${scenario.id}: ${result.requestsPerSecond.toFixed(0)} req/s, ` +
            `p99 ${result.latencyP99.toFixed(1)} ms${result.non2xx ? `, ${result.non2xx} non-2xx` : ""}`,
        );
      }
    }
    for (const outcome of outcomes) if (outcome.rounds.length) outcome.summary = summarize(outcome.rounds);

    const openLoop = await openLoopRun(options, load, outcomes, origins, context);

    // A failed write series must not cost the load figures measured before it.
    const writes = selected(options, "writes")
      ? await measureWrites(app.origin, context.tokens.teacher, database.url).catch((error: unknown) => {
          say(`writes failed: ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        })
      : undefined;
    for (const series of writes ?? []) say(`${series.title}: median ${series.medianMs.toFixed(1)} ms (${series.note})`);

    if (selected(options, "memory")) {
      memory.load = await memoryUnderLoad(options, load, app.origin, app.pid, available, context);
    }
    if (selected(options, "upload")) memory.upload = await uploadGrowth(load, app.origin, app.pid, context);
    const forgotten = await forgetBenchSubmissions(database.url);
    if (forgotten > 0) say(`deleted the ${forgotten} submissions the run sent, and their judging jobs`);
    // After the HTTP load, whose figures the judge's CPU use would otherwise disturb.
    const judge = selected(options, "judge") ? await measureJudge(options, logger) : { note: "BENCH_ONLY" };

    const seed = {
      seeded: database.seeded,
      seconds: database.seedSeconds,
      steps: database.steps,
      counts: database.counts,
    };
    report = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machine(),
      gitCommit: gitCommit(),
      options: { ...options },
      seed,
      checks,
      scenarios: outcomes,
      memory,
      writes,
      judge: judge.outcome,
      openLoop,
      targets: [...judgeTargets(outcomes, memory, seed, openLoop), judgeTarget(judge.outcome, judge.note)],
    };
  } finally {
    say("stopping");
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => say(`stop failed: ${String(error)}`));
  }
  await fs.mkdir(path.dirname(options.reportPath), { recursive: true });
  await fs.writeFile(options.reportPath, `${JSON.stringify(report, null, 2)}\n`);
  const judgeLines = report.judge ? `\n\n${renderJudgeBench(report.judge)}` : "";
  process.stdout.write(`${renderReport(report)}${judgeLines}\n\nJSON report: ${options.reportPath}\n`);
}

/**
 * Checks that the comparisons compare like with like: the floor writes the API's JSON byte for byte, the bare
 * Koa body is as long as /version's, and the deep cursor lands on a full page.
 */
function consistencyChecks(bodies: Map<string, Buffer>, versionBody: string): string[] {
  const checks: string[] = [];
  const floor = bodies.get("ref-floor");
  const json = bodies.get("notif-json");
  if (floor && json) {
    checks.push(
      floor.equals(json)
        ? `check: the floor writes the API's notifications JSON byte for byte (${json.length} bytes)`
        : `check FAILED: the floor's body (${floor.length} bytes) differs from the API's (${json.length} bytes)`,
    );
  }
  const version = bodies.get("version");
  if (version) {
    checks.push(
      version.length === Buffer.byteLength(versionBody)
        ? `check: bare Koa answers as many bytes as GET /version (${version.length})`
        : `check FAILED: GET /version wrote ${version.length} bytes, bare Koa ${Buffer.byteLength(versionBody)}`,
    );
  }
  const proto = bodies.get("notif-proto");
  if (proto && json)
    checks.push(`check: notifications page is ${json.length} bytes in JSON, ${proto.length} in protobuf`);
  const deep = bodies.get("notif-deep");
  if (deep) {
    const items = (JSON.parse(deep.toString("utf8")) as { items?: unknown[] }).items?.length ?? 0;
    checks.push(
      items === 20 ? "check: the deep cursor page has 20 items" : `check FAILED: the deep page has ${items} items`,
    );
  }
  return checks;
}

/** The server's RSS while every available read and write scenario is sent in turn on each connection. */
async function memoryUnderLoad(
  options: BenchOptions,
  load: LoadGenerator,
  origin: string,
  pid: number,
  available: Scenario[],
  context: ScenarioContext,
): Promise<MemoryOutcome["load"]> {
  const requests = available
    .filter((scenario) => scenario.server === "app" && (scenario.kind === "read" || scenario.kind === "write"))
    .flatMap((scenario) => requestsOf(scenario, context));
  if (!requests.length) return undefined;
  say(`memory: ${options.memorySeconds} s of mixed load (${requests.length} requests in turn)`);
  const sampler = sampleRss(pid, 250);
  await load.load({
    origin,
    requests,
    connections: options.connections,
    durationSeconds: options.memorySeconds,
  });
  const samples = await sampler.stop();
  const end = await memoryOf(pid);
  return {
    seconds: options.memorySeconds,
    connections: options.connections,
    peakMiB: Math.max(end.rssMiB, ...samples),
    endMiB: end.rssMiB,
    hwmMiB: end.hwmMiB,
    samples: samples.length,
  };
}

/**
 * The notifications page (JSON, heavy user) at a fixed arrival rate of half the floor's median req/s,
 * one run as long as all of a scenario's rounds, after a warm-up at the same rate.
 */
async function openLoopRun(
  options: BenchOptions,
  load: LoadGenerator,
  outcomes: ScenarioOutcome[],
  origins: Record<ServerName, string>,
  context: ScenarioContext,
): Promise<OpenLoopOutcome | undefined> {
  const floor = outcomes.find((outcome) => outcome.id === "ref-floor")?.summary;
  const scenario = SCENARIOS.find((candidate) => candidate.id === "notif-json");
  if (!floor || !scenario || !selected(options, scenario.id)) return undefined;
  const ratePerSecond = Math.max(1, Math.round(floor.requestsPerSecond.median / 2));
  const seconds = options.durationSeconds * options.repeats;
  // The floor at the same schedule tells what the machine itself (database, load generator, scheduler) adds.
  const run = async (origin: string) => {
    const job = {
      origin,
      requests: requestsOf(scenario, context),
      connections: options.connections,
      overallRate: ratePerSecond,
    };
    await load.load({ ...job, durationSeconds: options.warmupSeconds });
    return load.load({ ...job, durationSeconds: seconds });
  };
  const result = await run(origins.app);
  const onFloor = await run(origins.floor);
  say(
    `open loop ${scenario.id} at ${ratePerSecond}/s: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.latencyP99.toFixed(1)} ms, ` +
      `mean ${result.latencyMean.toFixed(1)} ms; the floor at the same rate: p99 ${onFloor.latencyP99.toFixed(1)} ms, mean ${onFloor.latencyMean.toFixed(1)} ms`,
  );
  return {
    scenario: scenario.id,
    ratePerSecond,
    seconds,
    requestsPerSecond: result.requestsPerSecond,
    latencyP99: result.latencyP99,
    latencyMean: result.latencyMean,
    floorLatencyP99: onFloor.latencyP99,
    floorLatencyMean: onFloor.latencyMean,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** RSS growth while 20 clients upload 10 MB proofs at once (uploads must stream to disk, not into memory). */
async function uploadGrowth(
  load: LoadGenerator,
  origin: string,
  pid: number,
  context: ScenarioContext,
): Promise<MemoryOutcome["upload"]> {
  const headers = { accept: "application/json", authorization: `Bearer ${context.tokens.heavy}` };
  const { status } = await probe(origin, { method: "POST", path: UPLOAD.path, headers });
  if (status === 404 || status === 405) {
    return { status: "not available", note: `${UPLOAD.pendingModule} module not merged (HTTP ${status})` };
  }
  // Let the memory load's garbage settle, so the baseline is the idle server.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const baseline = (await memoryOf(pid)).rssMiB;
  say(`uploads: ${UPLOAD.count} × ${UPLOAD.bytes / 1048576} MB at once, baseline RSS ${baseline.toFixed(0)} MB`);
  const sampler = sampleRss(pid, 50);
  const result = await load.upload({
    origin,
    path: UPLOAD.path,
    headers,
    count: UPLOAD.count,
    bytes: UPLOAD.bytes,
    jsonField: UPLOAD.jsonField,
    json: UPLOAD.json,
    fileField: UPLOAD.fileField,
  });
  const samples = await sampler.stop();
  const peak = Math.max(baseline, ...samples, (await memoryOf(pid)).rssMiB);
  await deleteUploads(origin, headers);
  const statuses: Record<string, number> = {};
  for (const code of result.statuses) statuses[code] = (statuses[code] ?? 0) + 1;
  if (!result.statuses.some((code) => code >= 200 && code < 300)) {
    return { status: "failed", note: `no upload succeeded: ${JSON.stringify(statuses)}` };
  }
  return { status: "measured", baselineMiB: baseline, peakMiB: peak, growthMiB: peak - baseline, statuses };
}

/**
 * Deletes the uploaded achievements (200 MB of proofs per run) through the API, which removes their files,
 * so runs do not fill the disk. The heavy user has no seeded achievements: all their pending ones are uploads.
 */
async function deleteUploads(origin: string, headers: Record<string, string>): Promise<void> {
  for (;;) {
    const { status, body } = await probe(origin, {
      method: "GET",
      path: `${UPLOAD.path}?status=ACHIEVEMENT_STATUS_PENDING&limit=100`,
      headers,
    });
    const items =
      status === 200 ? ((JSON.parse(body.toString("utf8")) as { items?: { id: string }[] }).items ?? []) : [];
    if (items.length === 0) return;
    for (const { id } of items) {
      const deleted = await probe(origin, { method: "DELETE", path: `${UPLOAD.path}/${id}`, headers });
      if (deleted.status !== 204) throw new Error(`deleting upload ${id} answered ${deleted.status}`);
    }
  }
}

await main();
