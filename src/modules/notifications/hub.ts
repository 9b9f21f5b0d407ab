import pg from "pg";
import { ConnectionError, type Sequelize } from "sequelize";
import { sessionEndedError } from "../../auth/authenticate.js";
import { SESSIONS_CHANNEL } from "../../auth/session-cache.js";
import type { Db } from "../../db/db.js";
import { StreamEnded, type LiveEvent, type LiveEventSource } from "../../http/route.js";
import type { LeaseRegistry } from "../../limits/leases.js";
import { listenForEvictions } from "../../limits/queries.js";
import type { Logger } from "../../logging/logger.js";
import { liveSessions } from "../auth/queries.js";
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

/** How soon a stream whose session ended may reconnect: it will be refused until its user signs in again. */
const RECONNECT_AFTER_SESSION_END_MS = 5_000;
/**
 * Bounds on when a stream's session is read again: never later than a timer can wait, and never sooner
 * than a second, so clocks that disagree about the session's end cannot spin the check.
 */
const SESSION_RECHECK_MS = { min: 1_000, max: 2 ** 31 - 1 };

/** How long a heartbeat waits for its answer when neither a query nor a connect timeout is configured. */
const DEFAULT_HEARTBEAT_ANSWER_MS = 5_000;
/** How soon the sessions of streams are read again after a read of them failed. */
const SESSION_RETRY_MS = 5_000;

/** Who opened a stream: the user, and the session whose end ends the stream. */
export interface StreamCaller {
  id: string;
  sessionId: string;
}

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
  private endTimer: NodeJS.Timeout | undefined;
  closed = false;

  /**
   * @param caller - the user and the session the stream was opened with: it lasts no longer than that session
   * @param onClose - frees the stream's place, once
   */
  constructor(
    readonly caller: StreamCaller,
    private readonly onClose: (subscription: Subscription) => void,
  ) {}

  get userId(): string {
    return this.caller.id;
  }

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
    clearTimeout(this.endTimer);
    this.onClose(this);
    this.wake?.();
  }

  /** Runs `atEnd` after `ms` unless the stream closes first; a later call replaces an earlier one. */
  schedule(ms: number, atEnd: () => void): void {
    clearTimeout(this.endTimer);
    if (this.closed) return;
    this.endTimer = setTimeout(atEnd, ms);
    this.endTimer.unref();
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
 *
 * A stream lasts no longer than the session it was opened with. The connection also hears the session
 * announcements (a user's session revoked, their password or role changed, the user deleted): the
 * sessions of that user's streams here are read again and the streams of ended ones are closed. So are
 * all streams' sessions when the connection comes back (announcements made while it was down went
 * unheard), and each stream's session when it is due to expire.
 */
export class NotificationHub {
  private readonly subscribers = new Map<string, Set<Subscription>>();
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = false;
  private fetching: Promise<void> = Promise.resolve();
  /** Reads run outside any transaction, on the pool. */
  private readonly db: Db;
  private readonly sessionWatch: ChannelListener = {
    channel: SESSIONS_CHANNEL,
    announced: (userId) => this.recheckSessions(this.subscribers.get(userId) ?? []),
    listeningChanged: (up) => {
      if (up) this.recheckSessions([...this.subscribers.values()].flatMap((set) => [...set]));
    },
  };
  /** The listeners given, and the hub's own watch on sessions. */
  private readonly channelListeners: readonly ChannelListener[];

  /**
   * @param options.heartbeatMs - how often the idle LISTEN connection is asked a trivial query, so a
   *   database that went silent is noticed (the query times out as the pool's do) and reconnected to,
   *   rather than heard from never again; 0 for never
   */
  constructor(
    private readonly sequelize: Sequelize,
    private readonly logger: Logger,
    private readonly leases: LeaseRegistry,
    private readonly liveSources: readonly LiveEventSource[] = [],
    channelListeners: readonly ChannelListener[] = [],
    private readonly options: { heartbeatMs?: number } = {},
  ) {
    this.db = { sequelize };
    this.channelListeners = [this.sessionWatch, ...channelListeners];
  }

  /**
   * Opens a stream for a user. With `afterSeq` (the client's Last-Event-ID), rows written since are
   * sent first; the subscription is registered before that backlog is read, so nothing written in
   * between is lost, and duplicates are dropped. The user's oldest stream beyond their limit is closed,
   * on whichever process it is, with a reconnect hint.
   * @param caller - the signed-in user and their session
   * @param afterSeq - the last sequence number the client has, if it is resuming
   * @throws AppError rate_limited when this process holds its limit of streams
   * @throws AppError unauthenticated when the session ended since the request was authenticated
   */
  async subscribe(caller: StreamCaller, afterSeq: string | undefined): Promise<Subscription> {
    // Listening first: from the moment the lease is recorded, another process may close it, and from
    // the moment the stream is registered, a session announcement closes it.
    await this.listen();
    const userId = caller.id;
    const lease = await this.leases.acquire("stream", userId, "evict-oldest");
    const subscription = new Subscription(caller, (closed) => {
      this.unsubscribe(closed);
      void lease.release();
    });
    const set = this.subscribers.get(userId) ?? new Set<Subscription>();
    set.add(subscription);
    this.subscribers.set(userId, set);
    lease.onRevoked(() => subscription.close(evicted(this.leases.limitsOf("stream").perUser)));
    try {
      // A session revoked after the request's check and before the registration went unheard here.
      const ended = await this.checkSessions([subscription]);
      if (ended.includes(subscription)) throw sessionEndedError();
      if (afterSeq !== undefined) {
        subscription.push(await notificationsAfter(this.db, userId, afterSeq, MAX_BACKLOG));
      }
    } catch (error) {
      subscription.close();
      throw error;
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

  /**
   * Reads whether the sessions of `subscriptions` still hold: the streams of ended ones are closed,
   * saying why; each other is set to be read again when its session is due to expire.
   * @returns the streams closed because their session ended
   */
  private async checkSessions(subscriptions: Iterable<Subscription>): Promise<Subscription[]> {
    const open = [...subscriptions].filter((subscription) => !subscription.closed);
    if (open.length === 0) return [];
    const live = await liveSessions(this.db, [...new Set(open.map(({ caller }) => caller.sessionId))]);
    const ended: Subscription[] = [];
    for (const subscription of open) {
      const session = live.get(subscription.caller.sessionId);
      // A session moved to another user no longer speaks for this one, as the per-request check says.
      if (session?.userId !== subscription.userId) {
        subscription.close(sessionEnded);
        ended.push(subscription);
        continue;
      }
      const { min, max } = SESSION_RECHECK_MS;
      const due = Math.min(Math.max(session.msLeft, min), max);
      subscription.schedule(due, () => this.recheckSessions([subscription]));
    }
    return ended;
  }

  /** checkSessions for what the hub heard or a timer asked; a failed read is logged and tried again. */
  private recheckSessions(subscriptions: Iterable<Subscription>): void {
    const asked = [...subscriptions];
    this.checkSessions(asked).catch((error: unknown) => {
      if (this.stopped) return;
      this.logger.warn({ err: error }, "could not check the sessions of open notification streams; trying again");
      for (const subscription of asked)
        subscription.schedule(SESSION_RETRY_MS, () => this.recheckSessions([subscription]));
    });
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
    // The pool's limits (src/db/sequelize.ts): opening the connection, each query's answer, TCP keepalive.
    const { connectionTimeoutMillis, query_timeout, stream } = (options.dialectOptions ?? {}) as Pick<
      pg.ClientConfig,
      "connectionTimeoutMillis" | "query_timeout" | "stream"
    >;
    const client = new pg.Client({
      host: options.host,
      port: Number(options.port),
      user: options.username,
      password: options.password ?? undefined,
      database: options.database,
      connectionTimeoutMillis,
      query_timeout,
      stream,
    });
    let lost = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      clearTimeout(heartbeat);
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
    await client.connect().catch((error: unknown) => {
      // As the pool's failures to connect are: the database is unavailable for now (503), not a fault of ours.
      throw new ConnectionError(error instanceof Error ? error : new Error(String(error)));
    });
    try {
      await listenForInserts(client, (range) => this.announce(range));
      await listenForLiveEvents(client, this.liveSources, (userId, event) => {
        for (const subscription of this.subscribers.get(userId) ?? []) subscription.pushLive(event);
      });
      await listenForEvictions(client, this.leases.processId, (leaseId) => this.leases.revoke(leaseId));
      await listenOnChannels(client, this.channelListeners);
    } catch (error) {
      // Its handlers are attached: left open, it would deliver everything twice beside the next one.
      await client.end().catch(() => undefined);
      throw error;
    }
    if (lost || this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    const heartbeatMs = this.options.heartbeatMs ?? 0;
    // Its own deadline: with DATABASE_QUERY_TIMEOUT_MS=0 pg would wait for the answer forever.
    const answerWithinMs = query_timeout || connectionTimeoutMillis || DEFAULT_HEARTBEAT_ANSWER_MS;
    const beat = () => {
      heartbeat = setTimeout(() => {
        let deadline: NodeJS.Timeout | undefined;
        const silence = new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(new Error("the heartbeat got no answer")), answerWithinMs);
        });
        Promise.race([client.query("SELECT 1"), silence])
          .finally(() => clearTimeout(deadline))
          .then(() => !lost && beat(), onLost);
      }, heartbeatMs);
      heartbeat.unref();
    };
    if (heartbeatMs > 0) beat();
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

/** The end of a stream whose session ended (signed out, password changed, user deleted, expired). */
const sessionEnded = new StreamEnded("this session has ended; sign in again", RECONNECT_AFTER_SESSION_END_MS);

/** The end of a stream closed because its user opened more than `limit`. */
const evicted = (limit: number) =>
  new StreamEnded(
    `this account opened more than ${limit} notification streams, so its oldest one is closed; reconnect to resume`,
    RECONNECT_AFTER_EVICTION_MS.min + Math.floor(Math.random() * RECONNECT_AFTER_EVICTION_MS.spread),
  );
