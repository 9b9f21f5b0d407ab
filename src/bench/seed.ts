import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { hashPassword } from "../auth/passwords.js";
import { ensureDatabaseExists } from "../db/database.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { migrateToLatest, migrationsDir } from "../db/migrator.js";
import { createSequelize, maintenanceSettings } from "../db/sequelize.js";
import type { Logger } from "../logging/logger.js";

/** The database the bench seeds on its own embedded PostgreSQL; the app's own `shtp` database is never touched. */
const BENCH_DATABASE = "shtp_bench";
/** Every seeded user has this password; one scrypt hash of it is computed per seeding and written to all rows. */
export const BENCH_PASSWORD = "bench-password-0123";
/** Bump when the seeding code changes in a way the SQL text below does not show. */
const SEED_VERSION = 1;

export const USER_COUNT = 2000;
export const GROUP_COUNT = 40;
export const NOTIFICATION_COUNT = 1_000_000;
export const ACHIEVEMENT_COUNT = 50_000;
export const EVENT_COUNT = 500;
/** The contest of the results scenario: its tasks, and the students of its audience who sent solutions. */
export const CONTEST_TASKS = 10;
export const CONTEST_STUDENTS = 40;
/** Seeded submissions per student and task: a wrong answer, then the final attempt. */
const ATTEMPTS_PER_TASK = 2;
/** The heavy user gets every 5th notification: 200,000 rows, interleaved with everyone else's as in real life. */
export const HEAVY_USER_ROWS = NOTIFICATION_COUNT / 5;
/** The light user gets every 800th of the other rows: 1,000. */
export const LIGHT_USER_ROWS = 1000;
/** Rows inserted per statement: bounds the statement trigger's transition table and each transaction's WAL. */
const NOTIFICATION_CHUNK = 200_000;

/**
 * Users are numbered 1..USER_COUNT and their ids derived from the number (md5 → uuid), so every step
 * can address a user without a join. Fixed numbers: 1 the heavy student, 2 the light student, 3 a teacher,
 * 4 the admin; every n with n % 50 = 3 is a teacher, everyone else a student.
 */
export const userNumbers = { heavy: 1, light: 2, teacher: 3, admin: 4 } as const;
/** The contest's students, the heavy one first: every GROUP_COUNT-th user from the heavy one shares its group. */
export const contestStudentNumbers = Array.from(
  { length: CONTEST_STUDENTS },
  (_, k) => userNumbers.heavy + GROUP_COUNT * k,
);
/** The contest's audience: the group of the heavy student (user n is in group 1 + n % GROUP_COUNT). */
const CONTEST_GROUP = 1 + (userNumbers.heavy % GROUP_COUNT);
/**
 * A deterministic id with the version-4 and variant bits set, so it passes the API's uuid validation like
 * the random ids the app makes: the md5 of a label, nibble 13 forced to 4 and nibble 17 to 8.
 * @param label - SQL text of the label
 */
export const benchUuid = (label: string) =>
  `(overlay(overlay(md5(${label}) placing '4' from 13) placing '8' from 17))::uuid`;
const userId = (n: string) => benchUuid(`'bench-user-' || ${n}`);
/** @returns the email of seeded user `n` */
export const benchEmail = (n: number) => `bench-user-${String(n).padStart(4, "0")}@bench.shtp.local`;

/** One part of the seeding: a table, the statements that fill it, what they produce. */
interface SeedStep {
  name: string;
  /** The step runs only when this table exists (modules still on other branches have none yet). */
  table: string;
  /** What the issue asks for, for the report. */
  target: string;
  /**
   * The statements, run in order in one session. `$1` is the password hash where a statement needs it;
   * `chunks` repeats a statement over [from, to] ranges bound as `$1`/`$2`. Undefined: not written yet.
   */
  statements?: { sql: string; password?: true; chunks?: { total: number; size: number } }[];
}

/**
 * The seed, step by step. Adding a module means adding a step here (and a scenario in scenarios.ts).
 * Deterministic: no random(); spreads come from the row number and hashtext(), so every seeding is the same.
 */
export const SEED_STEPS: readonly SeedStep[] = [
  {
    name: "groups",
    table: "groups",
    target: `${GROUP_COUNT} groups`,
    statements: [
      {
        sql: `INSERT INTO groups (id, name)
              SELECT ${benchUuid(`'bench-group-' || g`)}, 'Bench group ' || lpad(g::text, 2, '0')
                FROM generate_series(1, ${GROUP_COUNT}) AS g`,
      },
    ],
  },
  {
    name: "users",
    table: "users",
    target: `${USER_COUNT} users (students, every 50th a teacher, one admin) in ${GROUP_COUNT} groups`,
    statements: [
      {
        password: true,
        sql: `INSERT INTO users (id, email, nick_name, first_name, last_name, role, group_id, learning_class,
                                 password_hash, rating, about_text)
              SELECT ${userId("n")},
                     'bench-user-' || lpad(n::text, 4, '0') || '@bench.shtp.local',
                     'bench_user_' || n,
                     (ARRAY['Alex', 'Maria', 'Ivan', 'Olga', 'Timur', 'Anna', 'Pavel', 'Daria'])[1 + n % 8],
                     'Benchmark' || n,
                     role,
                     ${benchUuid(`'bench-group-' || (1 + n % ${GROUP_COUNT})`)},
                     CASE WHEN role = 'student' THEN (9 + n % 3) || chr(65 + n % 4) ELSE '' END,
                     $1,
                     CASE WHEN role = 'student' THEN abs(hashtext('rating-' || n)) % 5000 ELSE 0 END,
                     'Seeded for the benchmark.'
                FROM generate_series(1, ${USER_COUNT}) AS n,
                     LATERAL (SELECT CASE WHEN n = ${userNumbers.admin} THEN 'admin'
                                          WHEN n % 50 = 3 THEN 'teacher'
                                          ELSE 'student' END AS role) AS r`,
      },
    ],
  },
  {
    name: "notifications",
    table: "notifications",
    target: `${NOTIFICATION_COUNT} notifications, user 1 with ${HEAVY_USER_ROWS}, user 2 with ${LIGHT_USER_ROWS}`,
    statements: [
      {
        // Row g: every 5th belongs to the heavy user; of the rest (k-th), every 800th to the light user and the
        // others to users 5..2000 in turn. Ten seconds apart, so all are younger than the retention window; the
        // newest 2% and a hashed 1% are unread. 'message' payloads satisfy notification_payload_is_valid.
        chunks: { total: NOTIFICATION_COUNT, size: NOTIFICATION_CHUNK },
        sql: `INSERT INTO notifications (user_id, type, payload, created_at, read_at)
              SELECT ${userId("owner")}, 'message',
                     jsonb_build_object('text', 'Benchmark message number ' || g || ' for you.',
                                        'severity', CASE WHEN g % 10 = 0 THEN 'warning' ELSE 'info' END),
                     created,
                     CASE WHEN g > ${NOTIFICATION_COUNT * 0.98} OR abs(hashtext('read-' || g)) % 100 = 0 THEN NULL
                          ELSE created + interval '1 hour' END
                FROM generate_series($1::int, $2::int) AS g,
                     LATERAL (SELECT g - g / 5 AS k) AS other,
                     LATERAL (SELECT CASE WHEN g % 5 = 0 THEN ${userNumbers.heavy}
                                          WHEN k % 800 = 0 THEN ${userNumbers.light}
                                          ELSE 5 + k % ${USER_COUNT - 4} END AS owner,
                                     now() - (${NOTIFICATION_COUNT} - g) * interval '10 seconds' AS created) AS row
               ORDER BY g`,
      },
    ],
  },
  {
    // Planned schema (achievements branch): achievements(id, user_id, kind, title, description, status, points,
    // comment, proof_file, proof_media_type, proof_size, moderated_by, moderated_at, created_at, updated_at).
    name: "achievements",
    table: "achievements",
    target: `${ACHIEVEMENT_COUNT} achievements of students (10% pending, 70% accepted, 20% rejected)`,
    statements: [
      {
        sql: `INSERT INTO achievements (user_id, kind, title, description, status, points, comment, proof_file,
                                        proof_media_type, proof_size, moderated_by, moderated_at, created_at, updated_at)
              SELECT ${userId("owner")},
                     (ARRAY['olympiad', 'event', 'other'])[1 + g % 3],
                     'Benchmark achievement ' || g,
                     'Seeded for the benchmark.',
                     status,
                     CASE WHEN status = 'accepted' THEN 10 + g % 90 END,
                     CASE WHEN status = 'rejected' THEN 'Not enough proof.' ELSE '' END,
                     md5('bench-proof-' || g) || '.png', 'image/png', 1024 + g % 100000,
                     CASE WHEN status <> 'pending' THEN ${userId(String(userNumbers.teacher))} END,
                     CASE WHEN status <> 'pending' THEN created + interval '1 day' END,
                     created,
                     created
                FROM generate_series(1, ${ACHIEVEMENT_COUNT}) AS g,
                     -- Students only: skip the teachers (n % 50 = 3) by taking the next number.
                     LATERAL (SELECT 5 + g % ${USER_COUNT - 4} AS candidate) AS c,
                     LATERAL (SELECT CASE WHEN candidate % 50 = 3 THEN candidate + 1 ELSE candidate END AS owner,
                                     CASE WHEN g % 10 = 0 THEN 'pending'
                                          WHEN g % 10 < 8 THEN 'accepted'
                                          ELSE 'rejected' END AS status,
                                     now() - (${ACHIEVEMENT_COUNT} - g) * interval '5 minutes' AS created) AS row`,
      },
    ],
  },
  {
    // Spread over a year around now, 17 hours apart; a third for everyone, a third for one group, a third
    // for one class; every 4th limited to 30 places. Registrations stay under every capacity: 20 students
    // on each everyone-event, and the heavy student on every 10th event (their `mine` list).
    name: "events",
    table: "events",
    target: `${EVENT_COUNT} events with registrations`,
    statements: [
      {
        sql: `INSERT INTO events (id, title, description, location, starts_at, ends_at, capacity,
                                  registration_deadline, audience_group_ids, audience_classes, author_id)
              SELECT ${benchUuid("'bench-event-' || e")}, 'Benchmark event ' || e, 'Seeded for the benchmark.',
                     'Hall ' || (1 + e % 5), starts, starts + interval '2 hours',
                     CASE WHEN e % 4 = 0 THEN 30 ELSE 0 END, starts - interval '1 day',
                     CASE WHEN e % 3 = 1 THEN ARRAY[${benchUuid(`'bench-group-' || (1 + e % ${GROUP_COUNT})`)}]
                          ELSE '{}'::uuid[] END,
                     CASE WHEN e % 3 = 2 THEN ARRAY[(9 + e % 3) || chr(65 + e % 4)] ELSE '{}'::text[] END,
                     ${userId(String(userNumbers.teacher))}
                FROM generate_series(1, ${EVENT_COUNT}) AS e,
                     LATERAL (SELECT now() + (e - ${EVENT_COUNT / 2}) * interval '17 hours' AS starts) AS t`,
      },
      {
        sql: `INSERT INTO event_registrations (event_id, user_id)
              SELECT ${benchUuid("'bench-event-' || e")}, ${userId(`5 + (e * 20 + k) % ${USER_COUNT - 4}`)}
                FROM generate_series(3, ${EVENT_COUNT}, 3) AS e, generate_series(0, 19) AS k
              UNION ALL
              SELECT ${benchUuid("'bench-event-' || e")}, ${userId(String(userNumbers.heavy))}
                FROM generate_series(10, ${EVENT_COUNT}, 10) AS e`,
      },
    ],
  },
  {
    // A contest of CONTEST_TASKS two-test tasks for the heavy student's group (50 students), open for ten years
    // from the seeding, so the submission scenario can send to it; CONTEST_STUDENTS of them (the heavy one
    // first) judged twice on every task: a wrong answer on test 2, then an accepted or (one task in four) a
    // second wrong answer.
    name: "assignments",
    table: "submissions",
    target: `a contest of ${CONTEST_TASKS} tasks, ${CONTEST_STUDENTS} students × ${CONTEST_TASKS} tasks × ${ATTEMPTS_PER_TASK} judged submissions`,
    statements: [
      {
        sql: `INSERT INTO tasks (id, title, statement, languages, author_id)
              SELECT ${benchUuid("'bench-task-' || t")}, 'Benchmark task ' || t, 'Print the sum of two integers.',
                     ARRAY['python', 'cpp'], ${userId(String(userNumbers.teacher))}
                FROM generate_series(1, ${CONTEST_TASKS}) AS t`,
      },
      {
        sql: `INSERT INTO task_tests (task_id, ordinal, input, output, demo)
              SELECT ${benchUuid("'bench-task-' || t")}, o, o || ' ' || t || E'\n', (o + t) || E'\n', o = 1
                FROM generate_series(1, ${CONTEST_TASKS}) AS t, generate_series(1, 2) AS o`,
      },
      {
        // One statement: the marks are checked against the contest's tasks when it commits.
        sql: `WITH contest AS (
                INSERT INTO contests (id, title, description, starts_at, deadline, audience_group_ids, mark5, mark4,
                                      mark3, author_id)
                VALUES (${benchUuid("'bench-contest'")}, 'Benchmark contest', 'Seeded for the benchmark.',
                        now() - interval '1 day', now() + interval '10 years',
                        ARRAY[${benchUuid(`'bench-group-' || ${CONTEST_GROUP}`)}], 9, 7, 5,
                        ${userId(String(userNumbers.teacher))})
                RETURNING id)
              INSERT INTO contest_tasks (contest_id, task_id, position)
              SELECT contest.id, ${benchUuid("'bench-task-' || t")}, t
                FROM contest, generate_series(1, ${CONTEST_TASKS}) AS t`,
      },
      {
        sql: `INSERT INTO submissions (user_id, task_id, contest_id, language, source, status, verdict, failed_test,
                                       passed_tests, total_tests, max_time_ms, max_memory_kb, tests_version,
                                       created_at, finished_at)
              SELECT ${userId(`(ARRAY[${contestStudentNumbers.join(", ")}])[k + 1]`)}, ${benchUuid("'bench-task-' || t")}, ${benchUuid("'bench-contest'")},
                     'python', '# seeded' || E'\n' || 'print(sum(map(int, input().split())))', 'finished', verdict,
                     CASE WHEN verdict = 'accepted' THEN NULL ELSE 2 END,
                     CASE WHEN verdict = 'accepted' THEN 2 ELSE 1 END, 2, 20 + (k + t) % 30, 9000 + k * 10, 1,
                     sent, sent + interval '2 seconds'
                FROM generate_series(0, ${CONTEST_STUDENTS - 1}) AS k, generate_series(1, ${CONTEST_TASKS}) AS t,
                     generate_series(1, ${ATTEMPTS_PER_TASK}) AS a,
                     LATERAL (SELECT CASE WHEN a = ${ATTEMPTS_PER_TASK} AND (k + t) % 4 <> 0 THEN 'accepted'
                                          ELSE 'wrong_answer' END AS verdict,
                                     now() - interval '1 hour' + (k * 100 + t * 10 + a) * interval '1 second' AS sent) AS s`,
      },
    ],
  },
];

/** What happened to one seed step. */
export interface SeedStepOutcome {
  name: string;
  target: string;
  status: "seeded" | "reused" | "table missing" | "seed SQL not written";
  seconds?: number;
}

/** The seeded database as the rest of the bench needs it. */
export interface BenchDatabase {
  /** URL of the bench database (for the server under test and the floor server). */
  url: string;
  /** Whether this run seeded (false: reused the previous seeding). */
  seeded: boolean;
  seedSeconds: number | undefined;
  steps: SeedStepOutcome[];
  /** Row counts as found after seeding. */
  counts: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * A fingerprint of what the seeded data depends on: the migrations' text and the seed steps. When the one
 * stored in the database matches, the data are reused (seeding is the slowest part of a run).
 */
async function fingerprint(): Promise<string> {
  const hash = createHash("sha256").update(`seed v${SEED_VERSION}\n`);
  const files = (await fs.readdir(migrationsDir)).filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"));
  for (const file of files.sort()) {
    hash.update(`${file}\n`).update(await fs.readFile(path.join(migrationsDir, file)));
  }
  hash.update(JSON.stringify(SEED_STEPS));
  return hash.digest("hex");
}

/** Runs `work` on a client of its own, ended afterwards. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const tableExists = async (client: pg.Client, table: string) =>
  (await client.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [`public.${table}`])).rows[0]
    ?.found === true;

async function storedFingerprint(url: string): Promise<string | undefined> {
  return withClient(url, async (client) => {
    if (!(await tableExists(client, "bench_seed"))) return undefined;
    return (await client.query<{ fingerprint: string }>("SELECT fingerprint FROM bench_seed")).rows[0]?.fingerprint;
  });
}

/** Applies the app's migrations the way the server does (umzug under the advisory lock). */
async function migrate(url: string, logger: Logger): Promise<void> {
  const sequelize = createSequelize(url, maintenanceSettings(2));
  try {
    await migrateToLatest(url, sequelize, logger);
  } finally {
    await sequelize.close();
  }
}

async function runSteps(url: string, logger: Logger): Promise<SeedStepOutcome[]> {
  // One hash for everyone: scrypt is ~200 ms per call, and seeding stays one SQL statement per table.
  const passwordHash = await hashPassword(BENCH_PASSWORD);
  return withClient(url, async (client) => {
    // Bench data only: losing it on a crash just means seeding again.
    await client.query("SET synchronous_commit = off");
    await client.query("SET maintenance_work_mem = '256MB'");
    const outcomes: SeedStepOutcome[] = [];
    for (const step of SEED_STEPS) {
      if (!(await tableExists(client, step.table))) {
        outcomes.push({ name: step.name, target: step.target, status: "table missing" });
        continue;
      }
      if (!step.statements) {
        outcomes.push({ name: step.name, target: step.target, status: "seed SQL not written" });
        continue;
      }
      const started = performance.now();
      try {
        for (const statement of step.statements) {
          if (statement.chunks) {
            for (let from = 1; from <= statement.chunks.total; from += statement.chunks.size) {
              const to = Math.min(statement.chunks.total, from + statement.chunks.size - 1);
              await client.query(statement.sql, [from, to]);
              logger.info({ step: step.name, rows: to }, "seeding");
            }
          } else {
            await client.query(statement.sql, statement.password ? [passwordHash] : []);
          }
        }
      } catch (error) {
        throw new Error(
          `Seed step "${step.name}" failed; its SQL in src/bench/seed.ts no longer fits the schema of table ${step.table}`,
          { cause: error },
        );
      }
      const seconds = (performance.now() - started) / 1000;
      logger.info({ step: step.name, seconds: Number(seconds.toFixed(1)) }, "seeded");
      outcomes.push({ name: step.name, target: step.target, status: "seeded", seconds });
    }
    // Fresh statistics and a visibility map, as a long-running database would have (autovacuum would get there).
    await client.query("VACUUM (ANALYZE)");
    return outcomes;
  });
}

async function countRows(url: string): Promise<Record<string, number>> {
  return withClient(url, async (client) => {
    const counts: Record<string, number> = {};
    for (const step of SEED_STEPS) {
      if (!(await tableExists(client, step.table))) continue;
      const result = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${step.table}`);
      counts[step.table] = Number(result.rows[0]?.count ?? 0);
    }
    for (const [label, n] of [
      ["notifications of the heavy user", userNumbers.heavy],
      ["notifications of the light user", userNumbers.light],
    ] as const) {
      const result = await client.query<{ count: string }>(
        `SELECT count(*) AS count FROM notifications WHERE user_id = ${userId("$1::int")}`,
        [n],
      );
      counts[label] = Number(result.rows[0]?.count ?? 0);
    }
    return counts;
  });
}

/**
 * Starts the bench's embedded PostgreSQL (storage/bench/postgres) and makes sure its database holds the
 * seeded data for the current migrations and seed steps: reused when the stored fingerprint matches,
 * otherwise dropped, migrated and seeded from scratch.
 * @param options.dataDir - the cluster's data directory
 * @param options.reseed - seed again even when the fingerprint matches
 */
export async function prepareBenchDatabase(options: {
  dataDir: string;
  reseed: boolean;
  logger: Logger;
}): Promise<BenchDatabase> {
  const { logger } = options;
  const embedded: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir: options.dataDir, logger });
  try {
    const expected = await fingerprint();
    let url = await ensureDatabaseExists(embedded.url, BENCH_DATABASE);
    const reuse = !options.reseed && (await storedFingerprint(url)) === expected;
    let seedSeconds: number | undefined;
    let steps: SeedStepOutcome[];
    if (reuse) {
      steps = await withClient(url, async (client) => {
        const outcomes: SeedStepOutcome[] = [];
        for (const step of SEED_STEPS) {
          const status = !(await tableExists(client, step.table))
            ? "table missing"
            : step.statements
              ? "reused"
              : "seed SQL not written";
          outcomes.push({ name: step.name, target: step.target, status });
        }
        return outcomes;
      });
    } else {
      logger.info("seeding the bench database (migrations or seed steps changed)");
      const started = performance.now();
      await withClient(embedded.url, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(BENCH_DATABASE)} WITH (FORCE)`),
      );
      url = await ensureDatabaseExists(embedded.url, BENCH_DATABASE);
      await migrate(url, logger);
      steps = await runSteps(url, logger);
      await withClient(url, async (client) => {
        await client.query("CREATE TABLE bench_seed (fingerprint text NOT NULL, seeded_at timestamptz NOT NULL)");
        await client.query("INSERT INTO bench_seed VALUES ($1, now())", [expected]);
      });
      seedSeconds = (performance.now() - started) / 1000;
    }
    // Sessions and throttle rows pile up from earlier runs' logins; start every run from the same state.
    await withClient(url, async (client) => {
      await client.query("DELETE FROM sessions");
      await client.query("DELETE FROM login_throttle");
    });
    const counts = await countRows(url);
    return { url, seeded: !reuse, seedSeconds, steps, counts, stop: () => embedded.stop() };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

/** The rows the scenarios address, read from the seeded database. */
export interface BenchFixtures {
  heavyUserId: string;
  lightUserId: string;
  /** A keyset cursor three quarters of the way into the heavy user's list (encodeCursor of that seq). */
  deepSeq: string;
  /** Ids of the heavy user's newest notifications: what a client marks read after showing the first page. */
  markReadIds: string[];
  /** The seeded contest (the heavy student is in its audience) and its first task. */
  contestId: string;
  contestTaskId: string;
}

/**
 * Reads the fixture rows the scenarios need.
 * @param url - the bench database
 */
export async function readFixtures(url: string): Promise<BenchFixtures> {
  return withClient(url, async (client) => {
    const idOf = async (n: number) =>
      (await client.query<{ id: string }>(`SELECT ${userId("$1::int")}::text AS id`, [n])).rows[0]!.id;
    const heavyUserId = await idOf(userNumbers.heavy);
    const lightUserId = await idOf(userNumbers.light);
    const deep = await client.query<{ seq: string }>(
      "SELECT seq::text AS seq FROM notifications WHERE user_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1",
      [heavyUserId, Math.floor(HEAVY_USER_ROWS * 0.75)],
    );
    const newest = await client.query<{ id: string }>(
      "SELECT id FROM notifications WHERE user_id = $1 ORDER BY seq DESC LIMIT 20",
      [heavyUserId],
    );
    const deepSeq = deep.rows[0]?.seq;
    if (!deepSeq) throw new Error("The heavy user has too few notifications; reseed with BENCH_RESEED=1");
    const contest = await client.query<{ contestId: string; taskId: string }>(
      `SELECT ${benchUuid("'bench-contest'")}::text AS "contestId", ${benchUuid("'bench-task-1'")}::text AS "taskId"`,
    );
    const { contestId, taskId: contestTaskId } = contest.rows[0]!;
    return {
      heavyUserId,
      lightUserId,
      deepSeq,
      markReadIds: newest.rows.map((row) => row.id),
      contestId,
      contestTaskId,
    };
  });
}
