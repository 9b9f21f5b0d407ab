import type { Db } from "../../db/db.js";
import {
  deleteWorker,
  queueState,
  recentWorkers,
  upsertWorker,
  type QueueRow,
  type RuntimeRow,
  type WorkerRow,
} from "./queries.js";

export type { QueueRow, RuntimeRow, WorkerRow } from "./queries.js";

/** Workers silent for longer than this are left out of the status: they stopped or lost the database. */
export const WORKER_SILENCE_SECONDS = 600;

/** The judge as an admin sees it: the queue and the workers. */
export interface JudgeStatusView {
  queue: QueueRow;
  workers: WorkerRow[];
}

/** The queue's depth by status, the oldest queued submission, the jobs, and the live workers. */
export async function judgeStatus(db: Db): Promise<JudgeStatusView> {
  const [queue, workers] = await Promise.all([queueState(db), recentWorkers(db, WORKER_SILENCE_SECONDS)]);
  return { queue, workers };
}

/** What a worker reports about itself with each heartbeat. */
export interface WorkerHeartbeat {
  /** Stable for the life of the worker process (host name and process id, say). */
  workerId: string;
  host: string;
  /** How many submissions it judges at once. */
  slots: number;
  runtimes: RuntimeRow[];
}

/**
 * Records a worker's heartbeat (for the judge's worker process, every few seconds).
 */
export async function recordWorkerHeartbeat(db: Db, heartbeat: WorkerHeartbeat): Promise<void> {
  await upsertWorker(db, {
    id: heartbeat.workerId,
    host: heartbeat.host,
    slots: heartbeat.slots,
    runtimes: heartbeat.runtimes,
  });
}

/** Removes a worker that stops cleanly, so the status does not list it for ten minutes more. */
export const removeWorker = (db: Db, workerId: string): Promise<void> => deleteWorker(db, workerId);
