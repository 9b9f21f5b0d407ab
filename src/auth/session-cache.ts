import type { Db } from "../db/db.js";
import type { Actor, RoleName } from "./roles.js";

/**
 * The channel on which the database announces, at commit, a user whose sessions or account changed
 * (a session revoked or deleted, a role changed, the user deleted): the payload is the user's id. The
 * triggers that send it are in the migration `session-announcements`.
 */
export const SESSIONS_CHANNEL = "shtp_sessions";

/** The longest a checked session is trusted without reading it again, whatever was heard. */
const DEFAULT_LIFETIME_MS = 5000;
/** Sessions remembered at most; past it the oldest is forgotten (each entry is a few hundred bytes). */
const DEFAULT_MAX_ENTRIES = 20_000;
/** While the LISTEN connection is down, a new attempt at most this often (requests read the database meanwhile). */
const RECONNECT_INTERVAL_MS = 1000;

interface Entry {
  userId: string;
  role: RoleName;
  /** The session's own end (`expires_at`): never trusted past it. */
  expiresAtMs: number;
  /** When the entry must be read again at the latest. */
  freshUntilMs: number;
}

/** The caches of this process that are live (their LISTEN connection is up), told at once of changes made here. */
const liveCaches = new Set<SessionCache>();

/**
 * Forgets, in every session cache of this process, the sessions of a user or one session: at once, and
 * again when the transaction commits (a request that read the old state meanwhile then cannot keep it).
 * Other processes hear of the change through the database's announcement at the same commit.
 * @param db - the database, with the transaction that makes the change if there is one
 * @param id - a user id (all their sessions) or a session id
 */
export function forgetSessions(db: Db, id: string): void {
  const forget = () => {
    for (const cache of liveCaches) cache.forget(id);
  };
  forget();
  db.transaction?.afterCommit(forget);
}

/**
 * A per-process cache of the session check. Every process hears, on its one LISTEN connection, of each
 * user whose sessions or account changed, and forgets them; an entry lives at most `lifetimeMs` anyway.
 * While the connection is down nothing is cached (every request reads the database), since changes
 * announced meanwhile would go unheard; whatever was cached is dropped when it goes down and when it
 * comes back.
 */
export class SessionCache {
  readonly channel = SESSIONS_CHANNEL;
  private readonly entries = new Map<string, Entry>();
  private listening = false;
  /** Bumped by every forget: a check that began before one may not store what it read. */
  private generation = 0;
  private lastConnectAttemptMs = -Infinity;

  /**
   * @param connect - opens the process's LISTEN connection (it calls `listening` when it is up or down)
   * @param options.lifetimeMs - the backstop lifetime of an entry, 5 s at most
   * @param options.maxEntries - the most sessions remembered
   * @param options.now - the clock, for tests
   */
  constructor(
    private readonly connect: () => Promise<void>,
    private readonly options: { lifetimeMs?: number; maxEntries?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Whether entries are kept: only while the LISTEN connection is up. */
  get enabled(): boolean {
    return this.listening;
  }

  /** How many sessions are remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Called by the LISTEN connection when it is up (after its LISTEN) or lost. */
  listeningChanged(up: boolean): void {
    this.listening = up;
    this.entries.clear();
    this.generation++;
    if (up) liveCaches.add(this);
    else liveCaches.delete(this);
  }

  /** Called with each announcement on the channel: a user id. */
  announced(payload: string): void {
    this.forget(payload);
  }

  /** Forgets the sessions of a user, or one session, by id. */
  forget(id: string): void {
    this.generation++;
    if (this.entries.delete(id)) return;
    for (const [sessionId, entry] of this.entries) if (entry.userId === id) this.entries.delete(sessionId);
  }

  /**
   * The cached caller of a session, if it was checked recently and nothing changed since.
   * @returns the caller, or undefined: read the database (then `remember` what it said)
   */
  lookup(userId: string, sessionId: string): Actor | undefined {
    if (!this.listening) {
      this.reconnect();
      return undefined;
    }
    const entry = this.entries.get(sessionId);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.userId !== userId || now >= entry.freshUntilMs || now >= entry.expiresAtMs) {
      this.entries.delete(sessionId);
      return undefined;
    }
    return { id: entry.userId, role: entry.role, sessionId };
  }

  /** A mark to hand back to `remember`: whatever is forgotten after it makes that read stale. */
  mark(): number {
    return this.generation;
  }

  /**
   * Keeps what a session check read, unless something was forgotten since it began (`mark`) or the
   * LISTEN connection is down.
   * @param session - the caller and the session's end
   * @param mark - `mark()` taken before the read
   */
  remember(session: Actor & { expiresAt: Date }, mark: number): void {
    if (!this.listening || mark !== this.generation) return;
    const maxEntries = this.options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (this.entries.size >= maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const lifetime = Math.min(this.options.lifetimeMs ?? DEFAULT_LIFETIME_MS, DEFAULT_LIFETIME_MS);
    this.entries.delete(session.sessionId);
    this.entries.set(session.sessionId, {
      userId: session.id,
      role: session.role,
      expiresAtMs: session.expiresAt.getTime(),
      freshUntilMs: this.now() + lifetime,
    });
  }

  private reconnect(): void {
    const now = Date.now();
    if (now - this.lastConnectAttemptMs < RECONNECT_INTERVAL_MS) return;
    this.lastConnectAttemptMs = now;
    this.connect().catch(() => undefined);
  }
}
