import type pg from "pg";
import { execute, select, type Db, type TransactionDb } from "../db/db.js";

/** What a lease holds: a notification stream or an upload in flight. */
export type LeaseKind = "stream" | "upload";

/** A lease closed by another process's request, and the process that holds it. */
export interface EvictedLease {
  id: string;
  processId: string;
}

/** Names the transaction-scoped advisory locks of one user's leases (the second key is a hash of user and kind). */
const LEASE_LOCK_NAMESPACE = 746_102_320;

/** The channel a process is told on that one of its leases was closed by another process. */
const EVICTIONS_CHANNEL = "shtp_lease_evictions";

/**
 * Serialises the lease changes of one user and kind across processes until the transaction ends, so two
 * streams opened at once on two processes cannot both see room for themselves.
 */
export async function lockUserLeases(db: TransactionDb, userId: string, kind: LeaseKind): Promise<void> {
  await select(db, "SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))", {
    namespace: LEASE_LOCK_NAMESPACE,
    key: `${userId}:${kind}`,
  });
}

/**
 * Records that the process is alive (inserting its row if it has none, or had it removed as stale).
 * @returns whether the row had to be inserted
 */
export async function beat(db: Db, processId: string): Promise<boolean> {
  const { rows } = await execute<{ inserted: boolean }>(
    db,
    `INSERT INTO server_processes (id) VALUES (:processId)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
     RETURNING (xmax = 0) AS inserted`,
    { processId },
  );
  return rows[0]?.inserted ?? false;
}

/**
 * Removes the processes that have not beaten for `staleMs`, and by cascade every lease they held.
 * @returns how many processes were removed
 */
export async function removeStaleProcesses(db: Db, staleMs: number): Promise<number> {
  const { count } = await execute(
    db,
    "DELETE FROM server_processes WHERE heartbeat_at < now() - :staleMs * interval '1 millisecond'",
    { staleMs },
  );
  return count;
}

/** Removes a process and, by cascade, its leases (at its shutdown). */
export async function removeProcess(db: Db, processId: string): Promise<void> {
  await execute(db, "DELETE FROM server_processes WHERE id = :processId", { processId });
}

/** @returns the ids of the leases the database holds for the process */
export async function leaseIdsOf(db: Db, processId: string): Promise<string[]> {
  const rows = await select<{ id: string }>(db, "SELECT id FROM user_leases WHERE process_id = :processId", {
    processId,
  });
  return rows.map((row) => row.id);
}

/**
 * Removes a user's leases of one kind held by processes that have not beaten within `staleMs`: a crashed
 * process's streams and uploads never count against anyone, and are never the "oldest" that is closed.
 */
export async function removeStaleLeasesOf(
  db: TransactionDb,
  userId: string,
  kind: LeaseKind,
  staleMs: number,
): Promise<void> {
  await execute(
    db,
    `DELETE FROM user_leases l USING server_processes p
      WHERE l.user_id = :userId AND l.kind = :kind AND p.id = l.process_id
        AND p.heartbeat_at < now() - :staleMs * interval '1 millisecond'`,
    { userId, kind, staleMs },
  );
}

/** @returns how many leases of one kind the user holds, on every process */
export async function countLeases(db: Db, userId: string, kind: LeaseKind): Promise<number> {
  const [row] = await select<{ count: number }>(
    db,
    "SELECT count(*)::int AS count FROM user_leases WHERE user_id = :userId AND kind = :kind",
    { userId, kind },
  );
  return row?.count ?? 0;
}

/**
 * Records leases of one user and kind, held by one process; `opened_at` follows the order of `ids`
 * (clock_timestamp() per row), so the first is the oldest.
 */
export async function insertLeases(
  db: Db,
  leases: { ids: readonly string[]; kind: LeaseKind; userId: string; processId: string },
): Promise<void> {
  if (leases.ids.length === 0) return;
  await execute(
    db,
    `INSERT INTO user_leases (id, kind, user_id, process_id)
     SELECT id, :kind, :userId, :processId FROM unnest(ARRAY[:ids]::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n`,
    { ...leases, ids: [...leases.ids] },
  );
}

/**
 * Deletes a user's leases of one kind beyond the newest `keep`, and tells each owning process other than
 * `processId` on the evictions channel, at commit (a NOTIFY in a transaction is sent when it commits).
 * @returns the evicted leases, the caller's own among them
 */
export async function evictOldest(
  db: TransactionDb,
  userId: string,
  kind: LeaseKind,
  keep: number,
  processId: string,
): Promise<EvictedLease[]> {
  const rows = await select<EvictedLease>(
    db,
    `WITH evicted AS (
       DELETE FROM user_leases WHERE id IN (
         SELECT id FROM user_leases WHERE user_id = :userId AND kind = :kind
          ORDER BY opened_at DESC, id DESC OFFSET :keep)
       RETURNING id, process_id)
     SELECT id, process_id AS "processId",
            CASE WHEN process_id <> :processId
                 THEN pg_notify(:channel, process_id::text || ':' || id::text) END AS notified
       FROM evicted`,
    { userId, kind, keep, processId, channel: EVICTIONS_CHANNEL },
  );
  return rows.map(({ id, processId: owner }) => ({ id, processId: owner }));
}

/** Deletes leases by id (released ones, and those a process no longer holds). */
export async function deleteLeases(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await execute(db, "DELETE FROM user_leases WHERE id = ANY(ARRAY[:ids]::uuid[])", { ids: [...ids] });
}

/**
 * Makes a listening connection hear the evictions of `processId`'s leases.
 * @param client - a connected client of its own (the notification hub's LISTEN connection)
 * @param processId - the listening process
 * @param onEvicted - called with the id of each of its leases another process closed
 */
export async function listenForEvictions(
  client: pg.Client,
  processId: string,
  onEvicted: (leaseId: string) => void,
): Promise<void> {
  client.on("notification", (message) => {
    if (message.channel !== EVICTIONS_CHANNEL || !message.payload) return;
    const [owner, leaseId] = message.payload.split(":");
    if (owner === processId && leaseId) onEvicted(leaseId);
  });
  await client.query(`LISTEN ${EVICTIONS_CHANNEL}`);
}
