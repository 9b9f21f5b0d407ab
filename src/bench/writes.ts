import pg from "pg";
import { JUDGING_QUEUE, QUEUE_SCHEMA } from "../modules/submissions/queries.js";
import { percentile } from "./report.js";
import { BENCH_SUBMISSION_SOURCE } from "./scenarios.js";
import { benchUuid, GROUP_COUNT, withClient } from "./seed.js";

/**
 * The latency of single writes that do a lot in one transaction, measured one request at a time (no
 * concurrency, so the figure is the work itself): accepting an achievement (rating, notification,
 * medals) and creating an event announced to about 500 students. Afterwards the rows they wrote are put
 * back as they were, so the seeded data stay reusable between runs.
 */

const ACCEPTS = 30;
const EVENTS = 10;
/** Ten groups of the seed, about 49 students each: an audience of about 490. */
const AUDIENCE_GROUPS = 10;

/** A series of one kind of request. */
export interface WriteSeries {
  title: string;
  count: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  /** What each request did beyond itself (recipients, medals). */
  note: string;
}

async function timed(
  origin: string,
  method: string,
  path: string,
  token: string,
  body: unknown,
): Promise<{ ms: number; status: number; json: { id?: string; detail?: string } }> {
  const started = performance.now();
  const response = await fetch(new URL(path, origin), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { id?: string; detail?: string };
  return { ms: performance.now() - started, status: response.status, json };
}

function seriesOf(title: string, samples: number[], note: string): WriteSeries {
  return {
    title,
    count: samples.length,
    medianMs: percentile(samples, 0.5),
    p90Ms: percentile(samples, 0.9),
    maxMs: Math.max(...samples),
    note,
  };
}

/**
 * @param origin - the server under test
 * @param teacherToken - a teacher's access token (moderates, creates events)
 * @param databaseUrl - the bench database, to find pending achievements and to clean up
 */
export async function measureWrites(origin: string, teacherToken: string, databaseUrl: string): Promise<WriteSeries[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const since = (await client.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  const accepted: string[] = [];
  const events: string[] = [];
  try {
    const pending = await client.query<{ id: string }>(
      "SELECT id FROM achievements WHERE status = 'pending' ORDER BY seq LIMIT $1",
      [ACCEPTS],
    );
    const acceptTimes: number[] = [];
    for (const { id } of pending.rows) {
      const result = await timed(origin, "POST", `/api/v1/achievements/${id}/moderate`, teacherToken, {
        decision: "MODERATION_DECISION_ACCEPT",
        points: 10,
      });
      if (result.status !== 200) throw new Error(`accepting ${id} answered ${result.status}: ${result.json.detail}`);
      accepted.push(id);
      acceptTimes.push(result.ms);
    }
    const medals = await client.query<{ count: string }>(
      "SELECT count(*) AS count FROM user_medals WHERE awarded_at >= $1",
      [since],
    );

    const groups = await client.query<{ id: string }>(
      `SELECT ${benchUuid("'bench-group-' || g")}::text AS id FROM generate_series(1, $1::int) AS g`,
      [Math.min(AUDIENCE_GROUPS, GROUP_COUNT)],
    );
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    const createTimes: number[] = [];
    for (let index = 0; index < EVENTS; index++) {
      const result = await timed(origin, "POST", "/api/v1/events", teacherToken, {
        title: `Benchmark assembly ${index + 1}`,
        location: "Main hall",
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
        audience: { groupIds: groups.rows.map((row) => row.id) },
      });
      if (result.status !== 201 || !result.json.id) {
        throw new Error(`creating an event answered ${result.status}: ${result.json.detail}`);
      }
      events.push(result.json.id);
      createTimes.push(result.ms);
    }
    const recipients = await client.query<{ count: string }>(
      "SELECT count(*) AS count FROM notifications WHERE type = 'event_created' AND payload->>'eventId' = $1",
      [events[0]],
    );
    return [
      seriesOf(
        "POST /achievements/{id}/moderate (accept)",
        acceptTimes,
        `rating, notification and medal check each; ${medals.rows[0]?.count ?? 0} medals awarded in all`,
      ),
      seriesOf(
        "POST /events (audience of 10 groups)",
        createTimes,
        `${recipients.rows[0]?.count ?? 0} EVENT_CREATED notifications each`,
      ),
    ];
  } finally {
    await restore(client, accepted, events, since);
    await client.end();
  }
}

/** Puts the seeded data back: the accepted achievements pending again, ratings and medals as before. */
async function restore(client: pg.Client, accepted: string[], events: string[], since: Date): Promise<void> {
  await client.query("BEGIN");
  await client.query(
    `UPDATE users u SET rating = GREATEST(u.rating - taken.points, 0),
            accepted_achievements = GREATEST(u.accepted_achievements - taken.n, 0)
       FROM (SELECT user_id, sum(points)::int AS points, count(*)::int AS n FROM achievements
              WHERE id = ANY($1::uuid[]) AND status = 'accepted' GROUP BY user_id) AS taken
      WHERE u.id = taken.user_id`,
    [accepted],
  );
  await client.query(
    `UPDATE achievements SET status = 'pending', points = NULL, moderated_by = NULL, moderated_at = NULL
      WHERE id = ANY($1::uuid[])`,
    [accepted],
  );
  await client.query("DELETE FROM user_medals WHERE awarded_at >= $1", [since]);
  await client.query(
    `DELETE FROM notifications WHERE created_at >= $1
        AND type IN ('achievement_accepted', 'medal_awarded', 'event_created')`,
    [since],
  );
  await client.query("DELETE FROM events WHERE id = ANY($1::uuid[])", [events]);
  await client.query("COMMIT");
}

/**
 * Deletes what the submission scenario sent (found by its source text) and the judging jobs queued for it:
 * left behind, they would grow the contest's results, which a later run measures, and the judge's queue.
 * @param url - the bench database
 */
export function forgetBenchSubmissions(url: string): Promise<number> {
  return withClient(url, async (client) => {
    await client.query("BEGIN");
    const deleted = await client.query<{ id: string }>("DELETE FROM submissions WHERE source = $1 RETURNING id", [
      BENCH_SUBMISSION_SOURCE,
    ]);
    await client.query(`DELETE FROM ${QUEUE_SCHEMA}.job WHERE name = $1 AND data->>'submissionId' = ANY($2::text[])`, [
      JUDGING_QUEUE,
      deleted.rows.map((row) => row.id),
    ]);
    await client.query("COMMIT");
    return deleted.rowCount ?? 0;
  });
}
