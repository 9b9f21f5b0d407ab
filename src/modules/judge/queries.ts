import { execute, select, type Db } from "../../db/db.js";
import type { LanguageName } from "../tasks/service.js";
import { JUDGING_QUEUE, type StatusName } from "../submissions/service.js";

/** A worker's runtime, as its heartbeat reports it. */
export interface RuntimeRow {
  language: LanguageName;
  version: string;
}

/** A judge worker process, as its heartbeats describe it. */
export interface WorkerRow {
  id: string;
  host: string;
  slots: number;
  runtimes: RuntimeRow[];
  startedAt: Date;
  lastHeartbeatAt: Date;
}

/** The queue's state in one statement. */
export interface QueueRow {
  /** Submissions not finished, by status (statuses without any are absent). */
  byStatus: { status: Exclude<StatusName, "finished">; count: number }[];
  oldestQueuedAt: Date | null;
  oldestQueuedAgeSeconds: number | null;
  jobsWaiting: number;
  jobsActive: number;
}

/**
 * What waits, what is held and what failed (the partial index of unfinished submissions, never the
 * finished bulk), the oldest queued one, and the judging queue's jobs by state.
 */
export async function queueState(db: Db): Promise<QueueRow> {
  const [row] = await select<QueueRow>(
    db,
    `SELECT (SELECT coalesce(json_agg(json_build_object('status', status, 'count', n) ORDER BY status), '[]'::json)
               FROM (SELECT status, count(*)::int AS n FROM submissions WHERE status <> 'finished' GROUP BY status) AS s)
              AS "byStatus",
            oldest.created_at AS "oldestQueuedAt",
            floor(extract(epoch FROM now() - oldest.created_at))::int AS "oldestQueuedAgeSeconds",
            (SELECT count(*)::int FROM pgboss.job WHERE name = :queue AND state IN ('created', 'retry')) AS "jobsWaiting",
            (SELECT count(*)::int FROM pgboss.job WHERE name = :queue AND state = 'active') AS "jobsActive"
       FROM (SELECT min(created_at) AS created_at FROM submissions WHERE status = 'queued') AS oldest`,
    { queue: JUDGING_QUEUE },
  );
  if (!row) throw new Error("An aggregate gave no row.");
  return row;
}

/** @returns the workers heard from within `withinSeconds`, most recent first */
export function recentWorkers(db: Db, withinSeconds: number): Promise<WorkerRow[]> {
  return select<WorkerRow>(
    db,
    `SELECT id, host, slots, runtimes, started_at AS "startedAt", last_heartbeat_at AS "lastHeartbeatAt"
       FROM judge_workers
      WHERE last_heartbeat_at > now() - make_interval(secs => :withinSeconds)
      ORDER BY last_heartbeat_at DESC`,
    { withinSeconds },
  );
}

/** Records a worker's heartbeat: its row is created on the first one and refreshed on every other. */
export async function upsertWorker(
  db: Db,
  worker: { id: string; host: string; slots: number; runtimes: readonly RuntimeRow[] },
): Promise<void> {
  await execute(
    db,
    `INSERT INTO judge_workers (id, host, slots, runtimes) VALUES (:id, :host, :slots, CAST(:runtimes AS jsonb))
     ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, slots = EXCLUDED.slots, runtimes = EXCLUDED.runtimes,
                                    last_heartbeat_at = now()`,
    { ...worker, runtimes: JSON.stringify(worker.runtimes) },
  );
}

/** Removes a worker's row (it stopped cleanly). */
export async function deleteWorker(db: Db, id: string): Promise<void> {
  await execute(db, "DELETE FROM judge_workers WHERE id = :id", { id });
}
