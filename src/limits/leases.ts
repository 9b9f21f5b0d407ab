import { randomUUID } from "node:crypto";
import type { Config } from "../config/index.js";
import { inTransaction, type Db } from "../db/db.js";
import { AppError } from "../errors/index.js";
import { startPeriodicJob, type BackgroundJob } from "../lifecycle/periodic.js";
import type { Logger } from "../logging/logger.js";
import {
  beat,
  countLeases,
  deleteLeases,
  evictOldest,
  insertLeases,
  leaseIdsOf,
  lockUserLeases,
  removeProcess,
  removeStaleLeasesOf,
  removeStaleProcesses,
  type LeaseKind,
} from "./queries.js";

export type { LeaseKind };

/** How many leases of one kind a user (across every process) and one process may hold. */
export interface LeaseLimits {
  perUser: number;
  perProcess: number;
}

/** How often a process beats, and after how long without a beat others take it for gone. */
export interface LeaseTiming {
  heartbeatMs: number;
  staleMs: number;
}

/** Three missed beats and a margin: a busy or briefly disconnected process is not taken for a crashed one. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = { heartbeatMs: 10_000, staleMs: 35_000 };

/** What a client that hits a limit is told to wait: long enough for an upload or a stream to end. */
const RETRY_AFTER_SECONDS = 5;

/** What a full user does to a new lease: refuse it (uploads), or make room by closing their oldest (streams). */
export type WhenFull = "refuse" | "evict-oldest";

/** The limits of each kind, from the configuration. */
export const leaseLimitsOf = (limits: Config["limits"]): Record<LeaseKind, LeaseLimits> => ({
  stream: { perUser: limits.streamsPerUser, perProcess: limits.streamsPerProcess },
  upload: { perUser: limits.uploadsPerUser, perProcess: limits.uploadsPerProcess },
});

/** A lease waiting to be admitted, and its caller. */
interface Admission {
  lease: Lease;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One stream or upload held open, until released or revoked. */
export class Lease {
  /** Whether the database holds its row (a user's lease once its transaction has committed). */
  recorded = false;
  revoked = false;
  private readonly revokedListeners: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly kind: LeaseKind,
    readonly userId: string | undefined,
    private readonly registry: LeaseRegistry,
  ) {}

  /**
   * Calls `listener` once the lease is revoked: another request of its user closed it, or the process lost
   * its registration. At once if that has happened already.
   */
  onRevoked(listener: () => void): void {
    if (this.revoked) listener();
    else this.revokedListeners.push(listener);
  }

  /** Gives the lease back (its stream or upload has ended); again is harmless. */
  release(): Promise<void> {
    return this.registry.release(this);
  }

  /** Marks the lease revoked and tells its listeners; for the registry. */
  revoke(): void {
    if (this.revoked) return;
    this.revoked = true;
    for (const listener of this.revokedListeners.splice(0)) listener();
  }
}

/**
 * What each user holds open (notification streams, uploads in flight), limited per user across every
 * server process and per process. One process holds each lease: its row in `user_leases` names the
 * process, whose row in `server_processes` it refreshes every `heartbeatMs`.
 *
 * - A user's leases of one kind change under a transaction-scoped advisory lock on (user, kind), so two
 *   processes admitting at once cannot both see room.
 * - `evict-oldest` deletes the rows beyond the limit and tells each owning process with a NOTIFY at
 *   commit; the notification hub's LISTEN connection hears it and calls `revoke`.
 * - A process that stops beating for `staleMs` (a crash, a long network loss) is removed by the next
 *   heartbeat of any other, its leases by cascade; a user's leases of stale processes never count.
 * - Each heartbeat reconciles: a recorded lease whose row is gone (evicted while its NOTIFY was lost, or
 *   the process was taken for gone) is revoked, so its client reconnects and is counted again; a row
 *   whose lease has ended (its delete failed) is deleted.
 */
export class LeaseRegistry {
  /** This process, as the database knows it. */
  readonly processId = randomUUID();
  private readonly held: Record<LeaseKind, Map<string, Lease>> = { stream: new Map(), upload: new Map() };
  /** Leases waiting for their user's next admission round, by user, kind and policy. */
  private readonly waiting = new Map<string, Admission[]>();
  private registration: Promise<void> | undefined;
  private heartbeatJob: BackgroundJob | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly limits: Record<LeaseKind, LeaseLimits>,
    private readonly timing: LeaseTiming = DEFAULT_LEASE_TIMING,
  ) {}

  /** @returns how many leases of the kind this process holds */
  count(kind: LeaseKind): number {
    return this.held[kind].size;
  }

  /** @returns the configured limits of the kind */
  limitsOf(kind: LeaseKind): LeaseLimits {
    return this.limits[kind];
  }

  /**
   * Takes a lease for a user's new stream or upload.
   * @param kind - what the lease holds
   * @param userId - the user, or undefined for an anonymous caller (then only the process's limit applies)
   * @param whenFull - refuse, or close the user's oldest lease of the kind to make room
   * @throws AppError rate_limited (429 with Retry-After) when the process, or with `refuse` the user, is full
   */
  async acquire(kind: LeaseKind, userId: string | undefined, whenFull: WhenFull): Promise<Lease> {
    const limits = this.limits[kind];
    if (this.held[kind].size >= limits.perProcess) throw processFull(kind, limits.perProcess);
    const lease = new Lease(randomUUID(), kind, userId, this);
    // Counted here before any await, so requests arriving together cannot overshoot the process's limit.
    this.held[kind].set(lease.id, lease);
    if (userId === undefined || this.stopped) return lease;
    try {
      await this.admit(lease, userId, whenFull);
      return lease;
    } catch (error) {
      this.held[kind].delete(lease.id);
      throw error;
    }
  }

  /**
   * Admits a user's lease in the user's next round. The leases of one user, kind and policy that arrive
   * while a round runs wait for the next and are admitted together, in one transaction: a burst of one
   * user's requests holds one pooled connection, instead of one each queued on the user's advisory lock,
   * so it cannot starve everyone else's requests of the pool.
   */
  private admit(lease: Lease, userId: string, whenFull: WhenFull): Promise<void> {
    const key = `${userId}:${lease.kind}:${whenFull}`;
    return new Promise((resolve, reject) => {
      const admission: Admission = { lease, resolve, reject };
      const waiting = this.waiting.get(key);
      if (waiting) {
        waiting.push(admission);
        return;
      }
      this.waiting.set(key, [admission]);
      void this.admitRounds(key, userId, lease.kind, whenFull);
    });
  }

  /** Runs a user's rounds while leases wait; the key's entry exists exactly while this runs. */
  private async admitRounds(key: string, userId: string, kind: LeaseKind, whenFull: WhenFull): Promise<void> {
    for (;;) {
      const round = this.waiting.get(key) ?? [];
      if (round.length === 0) {
        this.waiting.delete(key);
        return;
      }
      this.waiting.set(key, []);
      try {
        await this.admitRound(userId, kind, whenFull, round);
      } catch (error) {
        for (const admission of round) admission.reject(error);
      }
    }
  }

  /**
   * One round: under the user's advisory lock, `refuse` records as many leases as the user has room for
   * and refuses the rest; `evict-oldest` records the newest `perUser` of the round and closes the user's
   * oldest beyond the limit. The round's older leases are closed without ever being recorded: the same
   * transaction would evict them.
   */
  private async admitRound(userId: string, kind: LeaseKind, whenFull: WhenFull, round: Admission[]): Promise<void> {
    const { perUser } = this.limits[kind];
    await this.register();
    const { admitted, evicted } = await inTransaction(this.db, async (tx) => {
      await lockUserLeases(tx, userId, kind);
      await removeStaleLeasesOf(tx, userId, kind, this.timing.staleMs);
      const room = whenFull === "refuse" ? Math.max(0, perUser - (await countLeases(tx, userId, kind))) : perUser;
      const admitted = whenFull === "refuse" ? round.slice(0, room) : round.slice(Math.max(0, round.length - room));
      const ids = admitted.map(({ lease }) => lease.id);
      await insertLeases(tx, { ids, kind, userId, processId: this.processId });
      const evicted = whenFull === "evict-oldest" ? await evictOldest(tx, userId, kind, perUser, this.processId) : [];
      return { admitted: new Set(admitted), evicted };
    });
    for (const admission of admitted) admission.lease.recorded = true;
    // Other processes hear of theirs by NOTIFY; this process's own are revoked here.
    for (const { id, processId } of evicted) if (processId === this.processId) this.revoke(id);
    for (const admission of round) {
      if (admitted.has(admission)) admission.resolve();
      else if (whenFull === "refuse") admission.reject(userFull(kind, perUser));
      else {
        this.revoke(admission.lease.id);
        admission.resolve();
      }
    }
  }

  /**
   * Revokes a lease this process holds (another process evicted it); an unknown id is ignored.
   * @param leaseId - the lease's id
   */
  revoke(leaseId: string): void {
    for (const held of Object.values(this.held)) {
      const lease = held.get(leaseId);
      if (!lease) continue;
      held.delete(leaseId);
      lease.revoke();
    }
  }

  /** Gives a lease back; its row goes, or the next heartbeat removes it if the database is away. */
  async release(lease: Lease): Promise<void> {
    if (!this.held[lease.kind].delete(lease.id)) return;
    if (!lease.recorded || this.stopped) return;
    await deleteLeases(this.db, [lease.id]).catch((error: unknown) =>
      this.logger.warn({ err: error, leaseId: lease.id }, "could not release a lease; the heartbeat will"),
    );
  }

  /**
   * One heartbeat: refreshes this process's row (inserting it again if it was taken for gone), removes
   * processes that stopped beating with their leases, and reconciles this process's rows with its leases.
   * The periodic job calls it; tests call it directly.
   */
  async heartbeat(): Promise<void> {
    // Taken before the statements: a lease recorded after this point may be missing from what they read.
    const recorded = this.allHeld().filter((lease) => lease.recorded);
    const reinserted = await beat(this.db, this.processId);
    await removeStaleProcesses(this.db, this.timing.staleMs);
    const inDatabase = new Set(await leaseIdsOf(this.db, this.processId));
    const lost = recorded.filter((lease) => !inDatabase.has(lease.id));
    if (lost.length > 0) {
      this.logger.warn(
        { leases: lost.length, reregistered: reinserted },
        "leases no longer recorded (evicted unheard, or this process was taken for gone); closing them",
      );
    }
    for (const lease of lost) this.revoke(lease.id);
    const heldIds = new Set(this.allHeld().map((lease) => lease.id));
    await deleteLeases(
      this.db,
      [...inDatabase].filter((id) => !heldIds.has(id)),
    );
  }

  /**
   * Stops beating and removes this process's row, and with it every lease it recorded: other processes
   * stop counting them at once. Leases released afterwards touch no database. Synchronous up to its first
   * await, so what is released right after the call is already local only.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const wasRegistered = this.registration !== undefined;
    await this.heartbeatJob?.stop();
    if (wasRegistered) {
      await removeProcess(this.db, this.processId).catch((error: unknown) =>
        this.logger.warn({ err: error }, "could not remove this process's leases; others will once it is stale"),
      );
    }
  }

  private allHeld(): Lease[] {
    return [...this.held.stream.values(), ...this.held.upload.values()];
  }

  /** The first lease of a user records this process and starts its heartbeat; a failed attempt is retried by the next. */
  private register(): Promise<void> {
    this.registration ??= beat(this.db, this.processId).then(
      () => {
        if (this.stopped) return;
        const { heartbeatMs } = this.timing;
        this.heartbeatJob = startPeriodicJob(
          "lease heartbeat",
          () => this.heartbeat(),
          { firstAfterMs: heartbeatMs, everyMs: heartbeatMs },
          this.logger,
        );
      },
      (error: unknown) => {
        this.registration = undefined;
        throw error;
      },
    );
    return this.registration;
  }
}

const what: Record<LeaseKind, { plural: string }> = {
  stream: { plural: "notification streams" },
  upload: { plural: "uploads in progress" },
};

function tooMany(detail: string): AppError {
  return new AppError("rate_limited", detail, { headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } });
}

const processFull = (kind: LeaseKind, limit: number) =>
  tooMany(`This server holds its limit of ${limit} ${what[kind].plural}; try again in a few seconds.`);

const userFull = (kind: LeaseKind, limit: number) =>
  tooMany(`You have ${limit} ${what[kind].plural} already (the limit); try again once one has finished.`);
