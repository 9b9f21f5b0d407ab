import type { JudgeBenchOutcome } from "./judge-floor.js";
import type { LoadResult } from "./protocol.js";
import type { Scenario } from "./scenarios.js";
import type { SeedStepOutcome } from "./seed.js";
import type { WriteSeries } from "./writes.js";

/** Median and spread (min–max) of one figure over a scenario's rounds. */
export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** A scenario's outcome: measured rounds, or why there are none. */
export interface ScenarioOutcome {
  id: string;
  title: string;
  kind: Scenario["kind"];
  server: Scenario["server"];
  status: "measured" | "not available" | "failed" | "skipped";
  note?: string;
  connections: number;
  rounds: LoadResult[];
  summary?: { requestsPerSecond: Stat; latencyP99: Stat; latencyMean: Stat; non2xx: number; errors: number };
}

/** The memory section. MiB throughout. */
export interface MemoryOutcome {
  /** RSS of the server just after it became ready, before any load: the baseline of the figures below. */
  idleMiB?: number;
  load?: { seconds: number; connections: number; peakMiB: number; endMiB: number; hwmMiB: number; samples: number };
  upload?:
    | { status: "measured"; baselineMiB: number; peakMiB: number; growthMiB: number; statuses: Record<string, number> }
    | { status: "not available" | "failed"; note: string };
}

/** An open-loop run: requests sent at a fixed rate, whatever the answers take. */
export interface OpenLoopOutcome {
  scenario: string;
  ratePerSecond: number;
  seconds: number;
  requestsPerSecond: number;
  latencyP99: number;
  latencyMean: number;
  /** The floor server on the same schedule: what the machine adds whatever the server. */
  floorLatencyP99: number;
  floorLatencyMean: number;
  non2xx: number;
  errors: number;
}

/** One target of the issue, judged. */
export interface TargetOutcome {
  target: string;
  value: string;
  verdict: "met" | "not met" | "not available";
}

/** Everything one run found; the JSON report is this object. */
export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadAverage: number[] };
  gitCommit: string;
  options: Record<string, unknown>;
  seed: { seeded: boolean; seconds?: number; steps: SeedStepOutcome[]; counts: Record<string, number> };
  checks: string[];
  scenarios: ScenarioOutcome[];
  memory: MemoryOutcome;
  /** Single heavy writes, one request at a time. */
  writes?: WriteSeries[];
  /** The judge against its floor. */
  judge?: JudgeBenchOutcome;
  /** The notifications page at a fixed arrival rate of half the floor's median req/s. */
  openLoop?: OpenLoopOutcome;
  targets: TargetOutcome[];
}

/** The value at `fraction` (0.5: median, 0.9: p90) of a series: the nearest rank, no interpolation. */
export const percentile = (values: number[], fraction: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const stat = (values: number[]): Stat => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
});

/**
 * Median and spread of a scenario's rounds.
 * @param rounds - at least one measured round
 */
export function summarize(rounds: LoadResult[]): NonNullable<ScenarioOutcome["summary"]> {
  return {
    requestsPerSecond: stat(rounds.map((round) => round.requestsPerSecond)),
    latencyP99: stat(rounds.map((round) => round.latencyP99)),
    latencyMean: stat(rounds.map((round) => round.latencyMean)),
    non2xx: rounds.reduce((sum, round) => sum + round.non2xx, 0),
    errors: rounds.reduce((sum, round) => sum + round.errors + round.timeouts, 0),
  };
}

/** The issue's thresholds, in one place. */
export const THRESHOLDS = {
  /** The notifications page (JSON and protobuf, heavy user) against the floor plus the session check. */
  notificationsVsFloorAuth: 0.9,
  /** The same against the bare floor. */
  notificationsVsFloor: 0.75,
  /** `/auth/me`, the moderation queue, events and the leaderboard against the floor plus the session check. */
  readsVsFloorAuth: 0.7,
  versionVsKoa: 0.6,
  /** Every read route's p99 against the floor's p99 in the same run (issue 17 replaced the fixed 25 ms). */
  readP99VsFloor: 1.5,
  scalingRatio: 1.2,
  rssUnderLoadMiB: 160,
  uploadGrowthMiB: 50,
  seedSeconds: 120,
  /** The notifications page's p99 at a fixed arrival rate of half the floor's req/s. */
  openLoopP99Ms: 20,
} as const;

const fixed = (value: number, digits = 2) => value.toFixed(digits);

/**
 * Judges every target from the measured figures. A figure that could not be measured (a module not merged
 * yet, a filtered run) is "not available", never silently dropped.
 */
export function judgeTargets(
  scenarios: ScenarioOutcome[],
  memory: MemoryOutcome,
  seed: BenchReport["seed"],
  openLoop?: OpenLoopOutcome,
): TargetOutcome[] {
  const byId = new Map(scenarios.map((scenario) => [scenario.id, scenario]));
  const measured = (id: string) => {
    const outcome = byId.get(id);
    return outcome?.status === "measured" && outcome.summary && outcome.summary.non2xx + outcome.summary.errors === 0
      ? outcome.summary
      : undefined;
  };
  const why = (...ids: string[]) =>
    ids
      .map((id) => byId.get(id))
      .filter((outcome) => outcome && outcome.status !== "measured")
      .map((outcome) => `${outcome!.id}: ${outcome!.status}${outcome!.note ? ` (${outcome!.note})` : ""}`)
      .join("; ") || "no clean rounds (non-2xx or errors)";
  const targets: TargetOutcome[] = [];
  const ratio = (
    target: string,
    numerator: string,
    denominator: string,
    key: "rps" | "latency" | "p99",
    max: number,
  ) => {
    const top = measured(numerator);
    const bottom = measured(denominator);
    if (!top || !bottom) return targets.push({ target, value: why(numerator, denominator), verdict: "not available" });
    const value =
      key === "rps"
        ? top.requestsPerSecond.median / bottom.requestsPerSecond.median
        : key === "p99"
          ? top.latencyP99.median / bottom.latencyP99.median
          : top.latencyMean.median / bottom.latencyMean.median;
    const met = key === "rps" ? value >= max : value <= max;
    targets.push({ target, value: fixed(value), verdict: met ? "met" : "not met" });
  };
  for (const [id, label] of [
    ["notif-json", "JSON"],
    ["notif-proto", "protobuf"],
  ] as const) {
    const floorAuth = THRESHOLDS.notificationsVsFloorAuth;
    ratio(
      `notifications ${label} (200k user) ≥ ${floorAuth} × floor+auth req/s`,
      id,
      "ref-floor-session",
      "rps",
      floorAuth,
    );
    const floor = THRESHOLDS.notificationsVsFloor;
    ratio(`notifications ${label} (200k user) ≥ ${floor} × floor req/s`, id, "ref-floor", "rps", floor);
  }
  for (const id of ["me", "queue", "events", "leaderboard"]) {
    const title = byId.get(id)?.title ?? id;
    ratio(
      `${title} ≥ ${THRESHOLDS.readsVsFloorAuth} × floor+auth req/s`,
      id,
      "ref-floor-session",
      "rps",
      THRESHOLDS.readsVsFloorAuth,
    );
  }
  ratio(
    `GET /version ≥ ${THRESHOLDS.versionVsKoa} × bare Koa req/s`,
    "version",
    "ref-koa",
    "rps",
    THRESHOLDS.versionVsKoa,
  );
  for (const outcome of scenarios.filter((scenario) => scenario.kind === "read")) {
    ratio(
      `p99 ≤ ${THRESHOLDS.readP99VsFloor} × floor's p99 at ${outcome.connections} conn: ${outcome.title}`,
      outcome.id,
      "ref-floor",
      "p99",
      THRESHOLDS.readP99VsFloor,
    );
  }
  const openLoopTarget = `open loop at half the floor's req/s: notifications p99 < ${THRESHOLDS.openLoopP99Ms} ms`;
  targets.push(
    openLoop && openLoop.non2xx + openLoop.errors === 0
      ? {
          target: `${openLoopTarget} (${openLoop.ratePerSecond}/s)`,
          value: `${fixed(openLoop.latencyP99, 1)} ms (the floor's: ${fixed(openLoop.floorLatencyP99, 1)} ms)`,
          verdict: openLoop.latencyP99 < THRESHOLDS.openLoopP99Ms ? "met" : "not met",
        }
      : { target: openLoopTarget, value: openLoop ? "non-2xx or errors" : "not run", verdict: "not available" },
  );
  ratio(
    `deep cursor / first page latency ≤ ${THRESHOLDS.scalingRatio}`,
    "notif-deep",
    "notif-json",
    "latency",
    THRESHOLDS.scalingRatio,
  );
  ratio(
    `200k user / 1k user latency ≤ ${THRESHOLDS.scalingRatio}`,
    "notif-json",
    "notif-light",
    "latency",
    THRESHOLDS.scalingRatio,
  );
  const load = memory.load;
  targets.push(
    load
      ? {
          target: `RSS under load ≤ ${THRESHOLDS.rssUnderLoadMiB} MB (peak over ${load.seconds} s at ${load.connections} conn)`,
          value: `${fixed(load.peakMiB, 0)} MB`,
          verdict: load.peakMiB <= THRESHOLDS.rssUnderLoadMiB ? "met" : "not met",
        }
      : { target: `RSS under load ≤ ${THRESHOLDS.rssUnderLoadMiB} MB`, value: "not run", verdict: "not available" },
  );
  const upload = memory.upload;
  targets.push(
    upload?.status === "measured"
      ? {
          target: `RSS growth, 20 × 10 MB uploads at once ≤ ${THRESHOLDS.uploadGrowthMiB} MB`,
          value: `${fixed(upload.growthMiB, 0)} MB`,
          verdict: upload.growthMiB <= THRESHOLDS.uploadGrowthMiB ? "met" : "not met",
        }
      : {
          target: `RSS growth, 20 × 10 MB uploads at once ≤ ${THRESHOLDS.uploadGrowthMiB} MB`,
          value: upload?.note ?? "not run",
          verdict: "not available",
        },
  );
  targets.push(
    seed.seeded && seed.seconds !== undefined
      ? {
          target: `seeding < ${THRESHOLDS.seedSeconds} s`,
          value: `${fixed(seed.seconds, 0)} s`,
          verdict: seed.seconds < THRESHOLDS.seedSeconds ? "met" : "not met",
        }
      : {
          target: `seeding < ${THRESHOLDS.seedSeconds} s`,
          value: "reused (BENCH_RESEED=1 to time it)",
          verdict: "not available",
        },
  );
  return targets;
}

/** Renders rows as a plain-text table with a header rule. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n");
}

const spread = (value: Stat, digits: number) =>
  `${fixed(value.median, digits)} (${fixed(value.min, digits)}–${fixed(value.max, digits)})`;

/**
 * The notifications pages against the floor that also runs the API's session check: the floor has no
 * authentication at all, while every signed-in API request makes that one extra round trip by design.
 */
function likeForLike(byId: Map<string, ScenarioOutcome>): string[] {
  const withSession = byId.get("ref-floor-session")?.summary?.requestsPerSecond.median;
  if (!withSession) return [];
  const ratio = (id: string) => {
    const rps = byId.get(id)?.summary?.requestsPerSecond.median;
    return rps === undefined ? "n/a" : fixed(rps / withSession);
  };
  return [
    `like for like, ÷ floor+auth req/s: notifications protobuf ${ratio("notif-proto")}, JSON ${ratio("notif-json")}`,
  ];
}

/**
 * The report as text for stdout: scenarios with median and spread, ratios to the reference servers, memory,
 * seeding and the targets with met / not met.
 */
export function renderReport(report: BenchReport): string {
  const byId = new Map(report.scenarios.map((scenario) => [scenario.id, scenario]));
  const koa = byId.get("ref-koa")?.summary?.requestsPerSecond.median;
  const floor = byId.get("ref-floor")?.summary?.requestsPerSecond.median;
  const rows = report.scenarios.map((outcome) => {
    const summary = outcome.summary;
    if (!summary) return [outcome.title, outcome.status, outcome.note ?? "", "", "", "", ""];
    const rps = summary.requestsPerSecond.median;
    const problems = [
      summary.non2xx ? `${summary.non2xx} non-2xx` : "",
      summary.errors ? `${summary.errors} errors` : "",
      outcome.kind === "login" ? "reported apart" : "",
    ].filter(Boolean);
    return [
      outcome.title,
      spread(summary.requestsPerSecond, 0),
      spread(summary.latencyP99, 1),
      fixed(summary.latencyMean.median, 2),
      koa ? fixed(rps / koa) : "n/a",
      floor ? fixed(rps / floor) : "n/a",
      `${outcome.connections}${problems.length ? `; ${problems.join(", ")}` : ""}`,
    ];
  });
  const rounds = Math.max(0, ...report.scenarios.map((outcome) => outcome.rounds.length));
  const memory = report.memory;
  const memoryLines = [
    `RSS of the server once ready, before any load: ${memory.idleMiB === undefined ? "n/a" : `${fixed(memory.idleMiB, 0)} MB`}`,
    memory.load
      ? `RSS during ${memory.load.seconds} s mixed load at ${memory.load.connections} conn: peak ${fixed(memory.load.peakMiB, 0)} MB, ` +
        `at end ${fixed(memory.load.endMiB, 0)} MB (process high-water mark ${fixed(memory.load.hwmMiB, 0)} MB)`
      : "RSS under load: not run",
    memory.upload?.status === "measured"
      ? `Uploads: baseline ${fixed(memory.upload.baselineMiB, 0)} MB, peak ${fixed(memory.upload.peakMiB, 0)} MB, ` +
        `growth ${fixed(memory.upload.growthMiB, 0)} MB; statuses ${JSON.stringify(memory.upload.statuses)}`
      : `Uploads: ${memory.upload?.status ?? "not run"}${memory.upload && "note" in memory.upload ? ` (${memory.upload.note})` : ""}`,
  ];
  const seed = report.seed;
  const seedLines = [
    seed.seeded
      ? `Seeded in ${fixed(seed.seconds ?? 0, 1)} s`
      : "Seed reused (fingerprint of migrations/ and seed steps matched)",
    ...seed.steps.map(
      (step) =>
        `  ${step.name}: ${step.status}${step.seconds ? ` in ${fixed(step.seconds, 1)} s` : ""} (${step.target})`,
    ),
    `  rows: ${Object.entries(seed.counts)
      .map(([name, count]) => `${name} ${count}`)
      .join(", ")}`,
  ];
  return [
    `ShTP API benchmark — ${report.startedAt}, ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, commit ${report.gitCommit}`,
    `${rounds} rounds per scenario, round-robin; median (min–max); ratios are of median req/s`,
    "",
    table(["scenario", "req/s", "p99 ms", "mean ms", "×koa", "×floor", "conn / notes"], rows),
    ...likeForLike(byId),
    "",
    ...memoryLines,
    ...(report.writes?.length
      ? [
          "",
          table(
            ["write, one at a time", "n", "median ms", "p90 ms", "max ms", "what it did"],
            report.writes.map((series) => [
              series.title,
              String(series.count),
              fixed(series.medianMs, 1),
              fixed(series.p90Ms, 1),
              fixed(series.maxMs, 1),
              series.note,
            ]),
          ),
        ]
      : []),
    "",
    ...seedLines,
    ...(report.checks.length ? ["", ...report.checks] : []),
    "",
    renderTargets(report.targets),
  ].join("\n");
}

/** The targets as a table: met, not met, not available. */
export const renderTargets = (targets: TargetOutcome[]): string =>
  table(
    ["target", "value", "verdict"],
    targets.map((target) => [target.target, target.value, target.verdict]),
  );
