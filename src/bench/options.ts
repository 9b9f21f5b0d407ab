import path from "node:path";
import { z } from "zod";

/** Where the bench keeps everything it makes: its database, the server's files, profiles and reports. */
export const BENCH_DIR = path.resolve("storage", "bench");

const seconds = z.coerce.number().positive().max(3600);
const flag = z
  .enum(["0", "1", "true", "false"])
  .default("0")
  .transform((text) => text === "1" || text === "true");

/**
 * The bench's knobs, all environment variables (README "Benchmark"). Durations are in seconds. The
 * server under test reads its own configuration; these only shape the load.
 */
const benchEnvironmentSchema = z.object({
  /** A smoke run of about a minute: short rounds, short memory load. Explicit values below still win. */
  BENCH_QUICK: flag,
  /** Measured seconds of each round of each scenario. */
  BENCH_DURATION: seconds.optional(),
  /** Unmeasured seconds before each round, on the same request, so JIT and pools are warm. */
  BENCH_WARMUP: seconds.optional(),
  /** Rounds per scenario (scenarios alternate round-robin); at least 3, so a median and a spread exist. */
  BENCH_REPEATS: z.coerce.number().int().min(3).max(50).optional(),
  /** Concurrent connections of every read and write scenario (login has its own, smaller, number). */
  BENCH_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(50),
  /** Seconds of the mixed load after which the server's RSS is read. */
  BENCH_MEMORY_DURATION: seconds.optional(),
  /**
   * Run only the scenarios whose id contains one of these comma-separated words, plus the two reference servers;
   * `memory` and `upload` name the memory section's parts. Targets without data then read "not available".
   */
  BENCH_ONLY: z.string().optional(),
  /** Drop and seed the bench database again even when its fingerprint matches. */
  BENCH_RESEED: flag,
  /** How the server under test runs: `dist` as production runs it (built first), `tsx` as `npm start` runs it. */
  BENCH_RUNTIME: z.enum(["dist", "tsx"]).default("dist"),
  /** Start the server under test with --cpu-prof, writing a .cpuprofile into storage/bench/profiles/. */
  BENCH_CPU_PROF: flag,
  /** Where to write the JSON report; default storage/bench/report-<timestamp>.json. */
  BENCH_REPORT: z.string().min(1).optional(),
});

/** The parsed options of one bench run. */
export interface BenchOptions {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  repeats: number;
  connections: number;
  memorySeconds: number;
  only: string[] | undefined;
  reseed: boolean;
  runtime: "dist" | "tsx";
  cpuProfile: boolean;
  reportPath: string;
}

/**
 * Reads the bench's environment variables once.
 * @param source - the variables, `process.env` by default
 * @throws Error naming each bad variable
 */
export function loadBenchOptions(source: Record<string, string | undefined> = process.env): BenchOptions {
  const parsed = benchEnvironmentSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Invalid bench options:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  const quick = env.BENCH_QUICK;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    quick,
    durationSeconds: env.BENCH_DURATION ?? (quick ? 1 : 6),
    warmupSeconds: env.BENCH_WARMUP ?? (quick ? 0.5 : 2),
    repeats: env.BENCH_REPEATS ?? 3,
    connections: env.BENCH_CONNECTIONS,
    memorySeconds: env.BENCH_MEMORY_DURATION ?? (quick ? 5 : 60),
    only: env.BENCH_ONLY?.split(",")
      .map((word) => word.trim())
      .filter(Boolean),
    reseed: env.BENCH_RESEED,
    runtime: env.BENCH_RUNTIME,
    cpuProfile: env.BENCH_CPU_PROF,
    reportPath: path.resolve(env.BENCH_REPORT ?? path.join(BENCH_DIR, `report-${stamp}.json`)),
  };
}
