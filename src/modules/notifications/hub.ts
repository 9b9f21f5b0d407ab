import pg from "pg";
import type { Sequelize } from "sequelize";
import type { Db } from "../../db/db.js";
import { StreamEnded, type LiveEvent, type LiveEventSource } from "../../http/route.js";
import type { LeaseRegistry } from "../../limits/leases.js";
import { listenForEvictions } from "../../limits/queries.js";
import type { Logger } from "../../logging/logger.js";
import {
  listenForInserts,
  listenForLiveEvents,
  listenOnChannels,
  notificationsAfter,
  notificationsInRange,
  type InsertedRange,
  type NotificationRow,
} from "./queries.js";

/** Backlog sent on reconnect; a client further behind pages the list instead. */
const MAX_BACKLOG = 500;
/** Sequence numbers each subscriber remembers, to drop a row that two announcements both covered. */
const SEEN_LIMIT = 2000;

/**
 * How long a stream closed for a newer one of its user waits before it reconnects: long, so a user with
 * more tabs than the limit churns slowly, and nothing is lost meanwhile (Last-Event-ID replays it).
 */
const RECONNECT_AFTER_EVICTION_MS = { min: 30_000, spread: 30_000 };

/** What a stream delivers: a stored notification, or a live event that is not stored. */
export type StreamItem = { row: NotificationRow; live?: undefined } | { live: LiveEvent };

/**
 * Something else that listens on the hub's connection (the session cache): its channel's payloads, and
 * whether the connection is up, since while it is down announcements go unheard.
 */
export interface ChannelListener {
  readonly channel: string;
  announced(payload: string): void;
  listeningChanged(up: boolean): void;
}

/** At most this many live events wait for a slow stream; older ones are dropped (they are not stored). */
const LIVE_QUEUE_LIMIT = 100;

/** One open stream: rows and live events for one user, in order, until closed. */
export class Subscription implements AsyncIterable<StreamItem> {
  private readonly queue: StreamItem[] = [];
  private readonly seen = new Set<string>();
  private wake: (() => void) | undefined;
  private endedBy: StreamEnded | undefined;
  closed = false;

  constructor(
    readonly userId: string,
    private readonly onClose: (subscription: Subscription) => void,
  ) {}

  /** Queues rows not delivered before. */
  push(rows: NotificationRow[]): void {
    for (const row of rows) {
      if (this.closed || this.seen.has(row.seq)) continue;
      this.seen.add(row.seq);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
      this.queue.push({ row });
    }
    this.wake?.();
  }

  /** Queues a live event; a stream that cannot keep up loses its oldest waiting ones first. */
  pushLive(event: LiveEvent): void {
    if (this.closed) return;
    this.queue.push({ live: event });
    if (this.queue.filter((item) => item.live).length > LIVE_QUEUE_LIMIT) {
      this.queue.splice(
        this.queue.findIndex((item) => item.live),
        1,
      );
    }
    this.wake?.();
  }

  /**
   * Ends the stream and frees its place in the hub.
   * @param reason - why the server ends it, told to the client: its iteration then throws it
   */
  close(reason?: StreamEnded): void {
    if (this.closed) return;
    this.closed = true;
    this.endedBy = reason;
    this.onClose(this);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamItem> {
    while (!this.closed) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    if (this.endedBy) throw this.endedBy;
  }
}

/**
 * Live notifications for the streams of one server process. One dedicated LISTEN connection per
 * process (not per client) hears the NOTIFY that the notifications table's statement trigger sends
 * at commit, with the range of sequence numbers written; one query over the pool then fetches that
 * range for the users streaming here, whichever process wrote the rows.
 *
 * The same connection listens on the modules' live event channels (judging progress, say) and hands
 * each event to the streams of its user here; those events are not stored, so a stream that is not
 * open when one is sent never sees it.
 *
 * Every stream holds a lease (src/limits/leases.ts): a user's streams are limited across processes, a
 * new one beyond the limit closes the user's oldest wherever it is (the owning process hears of it on
 * this same connection), and a process refuses streams past its own limit.
 */
export class NotificationHub {
  private readonly subscribers = new Map<string, Set<Subscription>>();
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = false;
  private fetching: Promise<void> = Promise.resolve();
  /** Reads run outside any transaction, on the pool. */
  private readonly db: Db;

  constructor(
    private readonly sequelize: Sequelize,
    private readonly logger: Logger,
    private readonly leases: LeaseRegistry,
    private readonly liveSources: readonly LiveEventSource[] = [],
    private readonly channelListeners: readonly ChannelListener[] = [],
  ) {
    this.db = { sequelize };
  }

  /**
   * Opens a stream for a user. With `afterSeq` (the client's Last-Event-ID), rows written since are
   * sent first; the subscription is registered before that backlog is read, so nothing written in
   * between is lost, and duplicates are dropped. The user's oldest stream beyond their limit is closed,
   * on whichever process it is, with a reconnect hint.
   * @param userId - the signed-in user
   * @param afterSeq - the last sequence number the client has, if it is resuming
   * @throws AppError rate_limited when this process holds its limit of streams
   */
  async subscribe(userId: string, afterSeq: string | undefined): Promise<Subscription> {
    // Listening first: from the moment the lease is recorded, another process may close it.
    await this.listen();
    const lease = await this.leases.acquire("stream", userId, "evict-oldest");
    const subscription = new Subscription(userId, (closed) => {
      this.unsubscribe(closed);
      void lease.release();
    });
    const set = this.subscribers.get(userId) ?? new Set<Subscription>();
    set.add(subscription);
    this.subscribers.set(userId, set);
    lease.onRevoked(() => subscription.close(evicted(this.leases.limitsOf("stream").perUser)));
    if (afterSeq !== undefined) {
      try {
        subscription.push(await notificationsAfter(this.db, userId, afterSeq, MAX_BACKLOG));
      } catch (error) {
        subscription.close();
        throw error;
      }
    }
    return subscription;
  }

  /** How many streams are open in this process. */
  get streamCount(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  /** Closes every stream and the listening connection (at shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const set of this.subscribers.values()) for (const subscription of set) subscription.close();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) this.listenerLost();
    await listener?.end().catch(() => undefined);
  }

  private unsubscribe(subscription: Subscription): void {
    const set = this.subscribers.get(subscription.userId);
    set?.delete(subscription);
    if (set?.size === 0) this.subscribers.delete(subscription.userId);
  }

  /**
   * Opens the LISTEN connection unless it is open: on the first stream or the first signed-in request
   * (the session cache asks), so processes and tests that do neither hold no extra connection.
   */
  listen(): Promise<void> {
    if (this.listener || this.stopped) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private listenerLost(): void {
    for (const listener of this.channelListeners) listener.listeningChanged(false);
  }

  private async connect(): Promise<void> {
    const options = this.sequelize.config;
    const client = new pg.Client({
      host: options.host,
      port: Number(options.port),
      user: options.username,
      password: options.password ?? undefined,
      database: options.database,
    });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      // A connection that never got as far as listening is its caller's failure (connect rejects).
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listenerLost();
      if (this.stopped) return;
      this.logger.warn({ err: error }, "notification listener lost; reconnecting");
      void client.end().catch(() => undefined);
      setTimeout(() => void this.listen().catch(() => undefined), 1000).unref();
    };
    client.on("error", onLost);
    // A connection closed without an error (the server ended it cleanly) is lost all the same.
    client.on("end", () => onLost());
    await client.connect();
    await listenForInserts(client, (range) => this.announce(range));
    await listenForLiveEvents(client, this.liveSources, (userId, event) => {
      for (const subscription of this.subscribers.get(userId) ?? []) subscription.pushLive(event);
    });
    await listenForEvictions(client, this.leases.processId, (leaseId) => this.leases.revoke(leaseId));
    await listenOnChannels(client, this.channelListeners);
    if (lost || this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    for (const listener of this.channelListeners) listener.listeningChanged(true);
  }

  /** Fetches an announced range for the users streaming here; fetches run one after another, in order. */
  private announce(range: InsertedRange): void {
    if (this.subscribers.size === 0) return;
    this.fetching = this.fetching.then(async () => {
      const userIds = [...this.subscribers.keys()];
      if (userIds.length === 0) return;
      try {
        const rows = await notificationsInRange(this.db, range, userIds);
        const byUser = new Map<string, NotificationRow[]>();
        for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row]);
        for (const [userId, userRows] of byUser)
          for (const subscription of this.subscribers.get(userId) ?? []) subscription.push(userRows);
      } catch (error) {
        this.logger.error({ err: error, range }, "could not fetch announced notifications");
      }
    });
  }
}

/** The end of a stream closed because its user opened more than `limit`. */
const evicted = (limit: number) =>
  new StreamEnded(
    `this account opened more than ${limit} notification streams, so its oldest one is closed; reconnect to resume`,
    RECONNECT_AFTER_EVICTION_MS.min + Math.floor(Math.random() * RECONNECT_AFTER_EVICTION_MS.spread),
  );
