import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { QueryTypes } from "sequelize";
import { SubmissionProgress } from "../../../generated/shtp/v1/assignments.js";
import { inTransaction } from "../../db/db.js";
import { StreamEnded, type LiveEvent } from "../../http/route.js";
import { LeaseRegistry } from "../../limits/leases.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, sessionFor } from "../../testing/factories.js";
import { recordingLogger } from "../../testing/logs.js";
import { testConfig } from "../../testing/server.js";
import { SilenceableProxy } from "../../testing/tcp-proxy.js";
import { createSequelize } from "../../db/sequelize.js";
import { toAppError } from "../../errors/translate.js";
import { waitFor } from "../../testing/wait.js";
import { NotificationHub, Subscription, type ChannelListener, type StreamItem } from "./hub.js";
import type { NotificationRow } from "./queries.js";
import { sendMessage } from "./service.js";

/**
 * One stream's queue (src/modules/notifications/hub.ts), without a server: what it delivers, in which
 * order, what it drops, and how it ends. Then the hub on the suite's database, for what HTTP cannot
 * provoke; its streams over HTTP are tested in stream.test.ts.
 */

const userId = randomUUID();
const caller = { id: userId, sessionId: randomUUID() };

const row = (seq: number): NotificationRow => ({
  id: randomUUID(),
  seq: String(seq),
  userId,
  type: "message",
  payload: { text: `#${seq}`, severity: "info" },
  createdAt: new Date(),
  readAt: null,
});

const live = (test: number): LiveEvent => ({
  codec: SubmissionProgress,
  message: SubmissionProgress.fromPartial({ submissionId: randomUUID(), test, totalTests: 1000 }),
});

/** What `subscription` delivers once closed: every item still queued, then its end. */
async function drain(subscription: Subscription): Promise<{ items: StreamItem[]; ended: unknown }> {
  const items: StreamItem[] = [];
  const iterator = subscription[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next().catch((error: unknown) => ({ error }));
    if ("error" in next) return { items, ended: next.error };
    if (next.done) return { items, ended: undefined };
    items.push(next.value);
  }
}

/** The sequence numbers of the stored rows among `items`, in order. */
const seqsOf = (items: StreamItem[]) => items.flatMap((item) => (item.live ? [] : [item.row.seq]));

describe("Subscription (one notification stream's queue)", () => {
  it("delivers each row once, however many announcements cover it, in the order they came", async () => {
    const subscription = new Subscription(caller, () => undefined);
    subscription.push([row(1), row(2)]);
    subscription.push([row(2), row(3), row(1)]);
    const iterator = subscription[Symbol.asyncIterator]();
    const delivered: string[] = [];
    for (let index = 0; index < 3; index++) {
      const next = await iterator.next();
      assert.equal(next.done, false);
      if (!next.value.live) delivered.push(next.value.row.seq);
    }
    assert.deepEqual(delivered, ["1", "2", "3"]);
    subscription.close();
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  });

  it("wakes a reader waiting on an empty queue when a row arrives", async () => {
    const subscription = new Subscription(caller, () => undefined);
    const iterator = subscription[Symbol.asyncIterator]();
    const waiting = iterator.next();
    setTimeout(() => subscription.push([row(7)]), 20);
    const next = await waiting;
    assert.equal(next.done, false);
    assert.equal(next.value.live ? undefined : next.value.row.seq, "7");
    subscription.close();
  });

  it("forgets the oldest sequence numbers past 2000, so it remembers a bounded set", async () => {
    const subscription = new Subscription(caller, () => undefined);
    subscription.push(Array.from({ length: 2001 }, (_, index) => row(index + 1)));
    // Number 1 has been forgotten, so a late announcement of it is queued again; 3 is still known.
    subscription.push([row(1), row(3)]);
    const iterator = subscription[Symbol.asyncIterator]();
    const seqs: string[] = [];
    for (let index = 0; index < 2002; index++) {
      const next = await iterator.next();
      assert.equal(next.done, false);
      seqs.push(...seqsOf([next.value]));
    }
    assert.deepEqual(seqs.slice(-2), ["2001", "1"], "only the forgotten row is queued again");
    subscription.close();
    assert.deepEqual(await iterator.next(), { done: true, value: undefined }, "and nothing else was");
  });

  it("keeps at most 100 live events for a slow reader, dropping the oldest live ones and no row", async () => {
    const subscription = new Subscription(caller, () => undefined);
    subscription.push([row(1)]);
    for (let test = 1; test <= 105; test++) subscription.pushLive(live(test));
    subscription.push([row(2)]);
    const iterator = subscription[Symbol.asyncIterator]();
    const items: StreamItem[] = [];
    for (let index = 0; index < 102; index++) {
      const next = await iterator.next();
      assert.equal(next.done, false);
      items.push(next.value);
    }
    assert.deepEqual(seqsOf(items), ["1", "2"]);
    const tests = items.flatMap((item) =>
      item.live ? [(item.live.message as ReturnType<typeof SubmissionProgress.fromPartial>).test] : [],
    );
    assert.equal(tests.length, 100);
    assert.equal(tests[0], 6, "the five oldest live events were dropped");
    assert.equal(tests.at(-1), 105);
    subscription.close();
  });

  it("takes nothing once closed, frees its place once however often it is closed, and ends with the reason", async () => {
    let freed = 0;
    const subscription = new Subscription(caller, () => (freed += 1));
    const reason = new StreamEnded("closed for a newer stream", 30_000);
    subscription.close(reason);
    subscription.close();
    assert.equal(freed, 1);
    subscription.push([row(1)]);
    subscription.pushLive(live(1));
    const { items, ended } = await drain(subscription);
    assert.deepEqual(items, []);
    assert.equal(ended, reason, "the reader learns why the server ended the stream");
  });

  it("ends without an error when closed with no reason (the client left, or shutdown)", async () => {
    const subscription = new Subscription(caller, () => undefined);
    const iterator = subscription[Symbol.asyncIterator]();
    const waiting = iterator.next();
    subscription.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
  });
});

describe("NotificationHub on the suite's database", () => {
  const sequelize = () => testDatabase().database.sequelize;
  /** A channel of this test's own, so the connection listening on it can be found. */
  let channel: string;
  let upChanges: boolean[];
  let hub: NotificationHub;
  let registry: LeaseRegistry;
  let lines: ReturnType<typeof recordingLogger>["lines"];

  beforeEach(() => {
    channel = `hub_test_${randomBytes(6).toString("hex")}`;
    upChanges = [];
    const listener: ChannelListener = {
      channel,
      announced: () => undefined,
      listeningChanged: (up) => upChanges.push(up),
    };
    const recording = recordingLogger("warn");
    lines = recording.lines;
    // Heartbeats never fire during a test; stop() removes the registry's process row.
    registry = new LeaseRegistry(
      { sequelize: sequelize() },
      recording.logger,
      { stream: { perUser: 5, perProcess: 10 }, upload: { perUser: 1, perProcess: 1 } },
      { heartbeatMs: 3_600_000, staleMs: 60_000 },
    );
    hub = new NotificationHub(sequelize(), recording.logger, registry, [], [listener]);
  });
  afterEach(async () => {
    await hub.stop();
    await registry.stop();
  });

  /** How many database connections listen on this test's channel. */
  const listeningConnections = async () => {
    const [row] = await sequelize().query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_stat_activity WHERE query = :listen",
      { replacements: { listen: `LISTEN "${channel}"` }, type: QueryTypes.SELECT },
    );
    return row?.count ?? 0;
  };

  /** A user signed in for real, and the caller of a stream on that session. */
  const signedIn = async () => {
    const user = await buildUser();
    const { sessionId } = await sessionFor(user, testConfig());
    return { user, caller: { id: user.id, sessionId } };
  };

  /** Waits for a stream's end and checks that it was ended for its session. */
  const endedBySession = async (subscription: Subscription) => {
    const { ended } = await drain(subscription);
    assert.ok(ended instanceof StreamEnded, `ended with ${String(ended)}`);
    assert.equal(ended.reason, "this session has ended; sign in again");
  };

  const setSession = (sessionId: string, change: string) =>
    sequelize().query(`UPDATE sessions SET ${change} WHERE id = :sessionId`, { replacements: { sessionId } });

  /** The text of the next message `iterator` delivers. */
  async function nextText(iterator: AsyncIterator<StreamItem>): Promise<string | undefined> {
    const next = await iterator.next();
    assert.equal(next.done, false);
    if (next.value.live) return undefined;
    return (next.value.row.payload as { text?: string }).text;
  }

  it("logs an announced range it cannot read, and still delivers the rows announced next", async () => {
    const { user, caller } = await signedIn();
    const subscription = await hub.subscribe(caller, undefined);
    await sequelize().query("SELECT pg_notify('shtp_notifications', 'low:high')");
    await waitFor(() => lines.some((line) => line.msg === "could not fetch announced notifications"));
    assert.deepEqual(lines.find((line) => line.msg === "could not fetch announced notifications")?.range, {
      low: "low",
      high: "high",
    });
    await inTransaction({ sequelize: sequelize() }, (db) =>
      sendMessage(db, { kind: "user", userId: user.id }, { text: "after the bad range", severity: "info" }),
    );
    assert.equal(await nextText(subscription[Symbol.asyncIterator]()), "after the bad range");
  });

  it("closes a stream whose backlog cannot be read and passes the error on, freeing its place and lease", async () => {
    const { user, caller } = await signedIn();
    await assert.rejects(hub.subscribe(caller, "not-a-sequence-number"), /bigint/);
    assert.equal(hub.streamCount, 0);
    await waitFor(async () => {
      const [row] = await sequelize().query<{ count: number }>(
        "SELECT count(*)::int AS count FROM user_leases WHERE user_id = :userId",
        { replacements: { userId: user.id }, type: QueryTypes.SELECT },
      );
      return row?.count === 0;
    });
  });

  it("ends every open stream on stop, without an error, and its LISTEN connection with them", async () => {
    const { caller } = await signedIn();
    const iterator = (await hub.subscribe(caller, undefined))[Symbol.asyncIterator]();
    const waiting = iterator.next();
    assert.deepEqual(upChanges, [true]);
    assert.equal(await listeningConnections(), 1, "the stream's hub listens on one connection");
    await hub.stop();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.equal(hub.streamCount, 0);
    assert.deepEqual(upChanges, [true, false]);
    await waitFor(async () => (await listeningConnections()) === 0);
  });

  describe("a stream lasts no longer than its session", () => {
    it("closes a stream whose session is revoked, saying why; the user's stream on another session stays open", async () => {
      const { user, caller } = await signedIn();
      const { sessionId: otherSessionId } = await sessionFor(user, testConfig());
      const revoked = await hub.subscribe(caller, undefined);
      const other = await hub.subscribe({ id: user.id, sessionId: otherSessionId }, undefined);
      await setSession(caller.sessionId, "revoked_at = now()");
      await waitFor(() => revoked.closed, 2_000);
      await endedBySession(revoked);
      await inTransaction({ sequelize: sequelize() }, (db) =>
        sendMessage(db, { kind: "user", userId: user.id }, { text: "to the session left", severity: "info" }),
      );
      assert.equal(await nextText(other[Symbol.asyncIterator]()), "to the session left");
      assert.equal(other.closed, false);
    });

    it("closes a stream whose session is moved to another user, as the per-request check would refuse it", async () => {
      const { caller } = await signedIn();
      const other = await buildUser();
      const subscription = await hub.subscribe(caller, undefined);
      await setSession(caller.sessionId, `user_id = '${other.id}'`);
      await waitFor(() => subscription.closed, 2_000);
      await endedBySession(subscription);
    });

    it("refuses a stream whose session ended before it was registered, freeing its place", async () => {
      const { caller } = await signedIn();
      await setSession(caller.sessionId, "revoked_at = now()");
      await assert.rejects(hub.subscribe(caller, undefined), { code: "unauthenticated", status: 401 });
      assert.equal(hub.streamCount, 0);
    });

    it("closes a stream when its session expires", async () => {
      const { caller } = await signedIn();
      await setSession(caller.sessionId, "expires_at = now() + interval '1200 milliseconds'");
      const subscription = await hub.subscribe(caller, undefined);
      assert.equal(subscription.closed, false);
      await waitFor(() => subscription.closed, 4_000);
      await endedBySession(subscription);
    });

    it("closes, once its LISTEN connection is back, a stream whose session was revoked while it was down", async () => {
      const { caller } = await signedIn();
      const subscription = await hub.subscribe(caller, undefined);
      const [terminated] = await sequelize().query<{ done: boolean }>(
        "SELECT pg_terminate_backend(pid, 5000) AS done FROM pg_stat_activity WHERE query = :listen",
        { replacements: { listen: `LISTEN "${channel}"` }, type: QueryTypes.SELECT },
      );
      assert.equal(terminated?.done, true);
      // No process listens now: this announcement is lost.
      await setSession(caller.sessionId, "revoked_at = now()");
      await waitFor(() => upChanges.length === 3, 5_000);
      assert.deepEqual(upChanges, [true, false, true]);
      await waitFor(() => subscription.closed, 2_000);
      await endedBySession(subscription);
    });
  });

  describe("its LISTEN connection, through a database that goes silent", () => {
    let proxy: SilenceableProxy;
    let silenceable: NotificationHub;
    let proxiedSequelize: ReturnType<typeof createSequelize>;
    beforeEach(async () => {
      const direct = new URL(testDatabase().database.url);
      proxy = await SilenceableProxy.start({ host: direct.hostname, port: Number(direct.port) });
      const proxied = new URL(direct);
      proxied.port = String(proxy.port);
      const limits = { ...testConfig().database, connectTimeoutMs: 500, queryTimeoutMs: 500 };
      proxiedSequelize = createSequelize(proxied.href, limits);
      const listener: ChannelListener = {
        channel,
        announced: () => undefined,
        listeningChanged: (up) => upChanges.push(up),
      };
      silenceable = new NotificationHub(proxiedSequelize, recordingLogger("warn").logger, registry, [], [listener], {
        heartbeatMs: 200,
      });
    });
    afterEach(async () => {
      proxy.resume();
      await silenceable.stop();
      await proxiedSequelize.close();
      await proxy.close();
    });

    it("gives up opening it after the pool's connect timeout, and opens it once the database answers", async () => {
      proxy.silence();
      const startedAt = performance.now();
      await assert.rejects(silenceable.listen(), (error) => {
        assert.match(String(error), /timeout expired/);
        assert.equal(toAppError(error).status, 503, "a stream opened meanwhile is told to come back later");
        return true;
      });
      const waited = performance.now() - startedAt;
      assert.ok(waited >= 400 && waited < 2_000, `gave up after ${Math.round(waited)} ms`);
      proxy.resume();
      await silenceable.listen();
      assert.deepEqual(upChanges, [true]);
    });

    it("notices the silence by the heartbeat's own deadline when no query timeout is configured", async () => {
      const direct = new URL(testDatabase().database.url);
      const proxied = new URL(direct);
      proxied.port = String(proxy.port);
      const untimed = createSequelize(proxied.href, {
        ...testConfig().database,
        connectTimeoutMs: 500,
        queryTimeoutMs: 0,
      });
      const changes: boolean[] = [];
      const listener: ChannelListener = {
        channel,
        announced: () => undefined,
        listeningChanged: (up) => changes.push(up),
      };
      const patient = new NotificationHub(untimed, recordingLogger("warn").logger, registry, [], [listener], {
        heartbeatMs: 200,
      });
      try {
        await patient.listen();
        proxy.silence();
        await waitFor(() => changes.length === 2, 3_000);
        assert.deepEqual(changes, [true, false]);
      } finally {
        proxy.resume();
        await patient.stop();
        await untimed.close();
      }
    });

    it("reads a stream's session again when a read of it failed, and closes the stream then", async () => {
      // Without a heartbeat, so the silence is not noticed as a lost connection (whose return reads all).
      const quiet = new NotificationHub(proxiedSequelize, recordingLogger("warn").logger, registry);
      try {
        const { caller } = await signedIn();
        await setSession(caller.sessionId, "expires_at = now() + interval '1200 milliseconds'");
        const subscription = await quiet.subscribe(caller, undefined);
        proxy.silence();
        // The read at the session's end times out (500 ms) while the database is silent.
        await sleep(2_000);
        assert.equal(subscription.closed, false);
        proxy.resume();
        await waitFor(() => subscription.closed, 8_000);
        await endedBySession(subscription);
      } finally {
        await quiet.stop();
      }
    });

    it("notices within a heartbeat and a query timeout that it went silent, and listens again once it answers", async () => {
      await silenceable.listen();
      assert.deepEqual(upChanges, [true]);
      proxy.silence();
      const silencedAt = performance.now();
      await waitFor(() => upChanges.length === 2, 5_000);
      const noticed = performance.now() - silencedAt;
      assert.deepEqual(upChanges, [true, false]);
      assert.ok(noticed < 1_500, `noticed after ${Math.round(noticed)} ms`);
      proxy.resume();
      await waitFor(async () => {
        await silenceable.listen().catch(() => undefined);
        return upChanges.length === 3;
      }, 5_000);
      assert.deepEqual(upChanges, [true, false, true]);
    });
  });

  it("closes a LISTEN connection that failed after connecting, so no half-set-up one stays open", async () => {
    // PostgreSQL refuses an empty channel name, after the hub's first LISTEN succeeded on this connection.
    const refused: ChannelListener = { channel: "", announced: () => undefined, listeningChanged: () => undefined };
    const failing = new NotificationHub(sequelize(), recordingLogger("warn").logger, registry, [], [refused]);
    try {
      await assert.rejects(failing.listen(), /zero-length delimited identifier/);
      await waitFor(async () => {
        const [row] = await sequelize().query<{ count: number }>(
          `SELECT count(*)::int AS count FROM pg_stat_activity WHERE query = 'LISTEN ""'`,
          { type: QueryTypes.SELECT },
        );
        return row?.count === 0;
      }, 2_000);
    } finally {
      await failing.stop();
    }
  });

  it("stopped while its LISTEN connection is still being opened, closes that connection and never reports it up", async () => {
    const listening = hub.listen();
    await hub.stop();
    await listening;
    await waitFor(async () => (await listeningConnections()) === 0);
    assert.deepEqual(upChanges, []);
    await hub.listen();
    assert.equal(await listeningConnections(), 0, "a stopped hub opens no connection again");
  });
});
