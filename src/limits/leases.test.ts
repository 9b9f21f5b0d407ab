import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { QueryTypes } from "sequelize";
import { AppError } from "../errors/index.js";
import { loadConfig } from "../config/index.js";
import { createSequelize, maintenanceSettings } from "../db/sequelize.js";
import { createLogger } from "../logging/logger.js";
import { testDatabase } from "../testing/database.js";
import { buildUser } from "../testing/factories.js";
import { LeaseRegistry, type Lease, type LeaseLimits } from "./leases.js";
import { listenForEvictions, type LeaseKind } from "./queries.js";
import { recordingLogger } from "../testing/logs.js";
import { waitFor } from "../testing/wait.js";

/**
 * The lease registry on the suite's PostgreSQL. Each registry stands for one server process (its own
 * process id and heartbeat), so several in one test are several processes on one database.
 */

const sequelize = () => testDatabase().database.sequelize;
const quiet = createLogger("silent");
/** Long enough never to fire during a test: the tests call heartbeat() themselves. */
const timing = { heartbeatMs: 3_600_000, staleMs: 60_000 };

const registries: LeaseRegistry[] = [];
function registry(limits: Partial<Record<LeaseKind, Partial<LeaseLimits>>> = {}): LeaseRegistry {
  const made = new LeaseRegistry(
    { sequelize: sequelize() },
    quiet,
    {
      stream: { perUser: 5, perProcess: 100, ...limits.stream },
      upload: { perUser: 3, perProcess: 100, ...limits.upload },
    },
    timing,
  );
  registries.push(made);
  return made;
}

async function rowsOf(userId: string, kind: LeaseKind): Promise<{ id: string; processId: string }[]> {
  return sequelize().query<{ id: string; processId: string }>(
    `SELECT id, process_id AS "processId" FROM user_leases WHERE user_id = :userId AND kind = :kind ORDER BY opened_at`,
    { replacements: { userId, kind }, type: QueryTypes.SELECT },
  );
}

async function processRow(processId: string): Promise<boolean> {
  const rows = await sequelize().query("SELECT 1 FROM server_processes WHERE id = :processId", {
    replacements: { processId },
    type: QueryTypes.SELECT,
  });
  return rows.length === 1;
}

/** Asserts that `promise` rejects with 429 rate_limited and a Retry-After of whole seconds. */
async function assertRateLimited(promise: Promise<unknown>, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.status, 429);
    assert.match(error.headers["Retry-After"] ?? "", /^[1-9]\d*$/);
    assert.match(error.message, detail);
    return true;
  });
}

/** Whether `lease` has been revoked, by a listener registered now. */
function watchRevocation(lease: Lease): { revoked: () => boolean } {
  let revoked = false;
  lease.onRevoked(() => (revoked = true));
  return { revoked: () => revoked };
}

describe("LeaseRegistry (src/limits/leases.ts)", () => {
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((made) => made.stop()));
  });

  it("refuses a user's upload past the limit across two processes, and admits again once one is released", async () => {
    const user = await buildUser();
    const first = registry();
    const second = registry();
    const held = [
      await first.acquire("upload", user.id, "refuse"),
      await second.acquire("upload", user.id, "refuse"),
      await first.acquire("upload", user.id, "refuse"),
    ];
    assert.equal((await rowsOf(user.id, "upload")).length, 3);
    await assertRateLimited(second.acquire("upload", user.id, "refuse"), /3 uploads in progress/);
    assert.equal(second.count("upload"), 1, "the refused upload is not counted");
    assert.equal((await rowsOf(user.id, "upload")).length, 3);

    const other = await buildUser();
    await second.acquire("upload", other.id, "refuse");

    await held[0]!.release();
    await held[0]!.release();
    assert.equal(first.count("upload"), 1);
    await second.acquire("upload", user.id, "refuse");
    assert.equal((await rowsOf(user.id, "upload")).length, 3);
  });

  it("admits at most the user's limit when many acquire at once on two processes", async () => {
    const user = await buildUser();
    const first = registry();
    const second = registry();
    const attempts = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => (index % 2 ? first : second).acquire("upload", user.id, "refuse")),
    );
    assert.equal(attempts.filter((attempt) => attempt.status === "fulfilled").length, 3);
    assert.equal((await rowsOf(user.id, "upload")).length, 3);
    assert.equal(first.count("upload") + second.count("upload"), 3);
  });

  it("admits a burst of one user's streams in rounds that hold one pooled connection, not one per request", async () => {
    // A pool of two with a short wait for a connection: 300 transactions queued on the user's advisory
    // lock would each hold or wait for a connection and run past the wait; rounds need one at a time.
    const narrow = createSequelize(
      testDatabase().database.url,
      maintenanceSettings(2, { ...loadConfig({}).database, acquireTimeoutMs: 300 }),
    );
    let transactions = 0;
    const begin = narrow.transaction.bind(narrow);
    narrow.transaction = ((...args: Parameters<typeof begin>) => {
      transactions += 1;
      return begin(...args);
    }) as typeof narrow.transaction;
    const burstRegistry = new LeaseRegistry(
      { sequelize: narrow },
      quiet,
      { stream: { perUser: 5, perProcess: 1000 }, upload: { perUser: 3, perProcess: 100 } },
      timing,
    );
    try {
      const user = await buildUser();
      const leases = await Promise.all(
        Array.from({ length: 300 }, () => burstRegistry.acquire("stream", user.id, "evict-oldest")),
      );
      const open = leases.filter((lease) => !lease.revoked);
      assert.equal(open.length, 5);
      assert.deepEqual(
        open.map((lease) => lease.id),
        leases.slice(-5).map((lease) => lease.id),
        "the newest five stay open",
      );
      assert.deepEqual(
        (await rowsOf(user.id, "stream")).map((row) => row.id).sort(),
        open.map((lease) => lease.id).sort(),
      );
      assert.equal(burstRegistry.count("stream"), 5);
      // The first request's round, then one for everything that arrived while it ran.
      assert.ok(transactions <= 3, `${transactions} transactions for one user's burst`);
    } finally {
      await burstRegistry.stop();
      await narrow.close();
    }
  });

  it("refuses past the process's limit whoever asks, signed in or not", async () => {
    const local = registry({ upload: { perProcess: 2 } });
    await local.acquire("upload", (await buildUser()).id, "refuse");
    await local.acquire("upload", undefined, "refuse");
    await assertRateLimited(local.acquire("upload", (await buildUser()).id, "refuse"), /limit of 2 uploads/);
    await local.acquire("stream", undefined, "evict-oldest");
    assert.equal(local.count("stream"), 1, "streams are counted apart from uploads");
  });

  it("closes the user's oldest stream for a new one past the limit, on this process at once", async () => {
    const user = await buildUser();
    const local = registry({ stream: { perUser: 2 } });
    const oldest = await local.acquire("stream", user.id, "evict-oldest");
    const middle = await local.acquire("stream", user.id, "evict-oldest");
    const watchOldest = watchRevocation(oldest);
    const watchMiddle = watchRevocation(middle);
    const newest = await local.acquire("stream", user.id, "evict-oldest");
    assert.equal(watchOldest.revoked(), true);
    assert.equal(watchMiddle.revoked(), false);
    assert.deepEqual(
      (await rowsOf(user.id, "stream")).map((row) => row.id),
      [middle.id, newest.id],
    );
    assert.equal(local.count("stream"), 2);
    let lateListener = false;
    oldest.onRevoked(() => (lateListener = true));
    assert.equal(lateListener, true, "a listener added after the revocation is called at once");
    // A lease may be closed twice (an eviction heard by NOTIFY, then missed by the heartbeat): its
    // listeners, which close a client's stream, are told once.
    let told = 0;
    middle.onRevoked(() => (told += 1));
    middle.revoke();
    middle.revoke();
    assert.equal(told, 1);
  });

  it("tells the owning process by NOTIFY when another process closes its stream", async () => {
    const user = await buildUser();
    const owner = registry({ stream: { perUser: 2 } });
    const other = registry({ stream: { perUser: 2 } });
    const listener = new pg.Client({ connectionString: testDatabase().database.url });
    await listener.connect();
    try {
      await listenForEvictions(listener, owner.processId, (leaseId) => owner.revoke(leaseId));
      const theirs = await owner.acquire("stream", user.id, "evict-oldest");
      const watch = watchRevocation(theirs);
      await other.acquire("stream", user.id, "evict-oldest");
      assert.equal(watch.revoked(), false);
      await other.acquire("stream", user.id, "evict-oldest");
      await waitFor(watch.revoked, 2000);
      assert.equal(owner.count("stream"), 0);
      assert.deepEqual(
        (await rowsOf(user.id, "stream")).map((row) => row.processId),
        [other.processId, other.processId],
      );
    } finally {
      await listener.end();
    }
  });

  it("hears on a shared LISTEN connection only its own evictions, passing over other channels and malformed ones", async () => {
    const owner = randomUUID();
    const listener = new pg.Client({ connectionString: testDatabase().database.url });
    await listener.connect();
    try {
      const heard: string[] = [];
      await listenForEvictions(listener, owner, (leaseId) => heard.push(leaseId));
      // The notification hub's connection listens to its own channels too.
      await listener.query("LISTEN shtp_other_channel");
      const notify = (channel: string, payload: string) =>
        sequelize().query("SELECT pg_notify(:channel, :payload)", { replacements: { channel, payload } });
      await notify("shtp_other_channel", `${owner}:not-a-lease`);
      await notify("shtp_lease_evictions", "");
      await notify("shtp_lease_evictions", `${randomUUID()}:someone-elses-lease`);
      await notify("shtp_lease_evictions", `${owner}:`);
      await notify("shtp_lease_evictions", `${owner}:my-lease`);
      await waitFor(() => heard.length > 0, 2000);
      assert.deepEqual(heard, ["my-lease"]);
    } finally {
      await listener.end();
    }
  });

  it("does not count the leases of a process that stopped beating, and removes that process", async () => {
    const user = await buildUser();
    const crashed = randomUUID();
    await sequelize().query(
      `INSERT INTO server_processes (id, started_at, heartbeat_at) VALUES (:crashed, now() - interval '2 hours', now() - interval '1 hour');
       INSERT INTO user_leases (id, kind, user_id, process_id)
       SELECT gen_random_uuid(), 'upload', :userId, :crashed FROM generate_series(1, 3)`,
      { replacements: { crashed, userId: user.id } },
    );
    const alive = registry();
    const lease = await alive.acquire("upload", user.id, "refuse");
    assert.deepEqual(
      (await rowsOf(user.id, "upload")).map((row) => row.id),
      [lease.id],
      "the crashed process's leases of this user are gone",
    );
    await alive.heartbeat();
    assert.equal(await processRow(crashed), false, "the heartbeat removed the stale process");
    assert.equal(await processRow(alive.processId), true);
  });

  it("revokes at the heartbeat a lease whose row is gone (an eviction it did not hear), and deletes rows it no longer holds", async () => {
    const user = await buildUser();
    const local = registry();
    const kept = await local.acquire("stream", user.id, "evict-oldest");
    const lost = await local.acquire("stream", user.id, "evict-oldest");
    const watchKept = watchRevocation(kept);
    const watchLost = watchRevocation(lost);
    await sequelize().query("DELETE FROM user_leases WHERE id = :id", { replacements: { id: lost.id } });
    const stray = randomUUID();
    await sequelize().query(
      "INSERT INTO user_leases (id, kind, user_id, process_id) VALUES (:stray, 'upload', :userId, :processId)",
      { replacements: { stray, userId: user.id, processId: local.processId } },
    );

    await local.heartbeat();
    assert.equal(watchLost.revoked(), true);
    assert.equal(watchKept.revoked(), false);
    assert.deepEqual((await rowsOf(user.id, "upload")).length, 0, "the row of no lease was deleted");
    assert.deepEqual(
      (await rowsOf(user.id, "stream")).map((row) => row.id),
      [kept.id],
    );
  });

  it("registers again after being taken for gone, and closes what it held so its clients reconnect", async () => {
    const user = await buildUser();
    const local = registry();
    const lease = await local.acquire("stream", user.id, "evict-oldest");
    const watch = watchRevocation(lease);
    await sequelize().query("DELETE FROM server_processes WHERE id = :id", { replacements: { id: local.processId } });
    await local.heartbeat();
    assert.equal(watch.revoked(), true);
    assert.equal(await processRow(local.processId), true);
    assert.equal(local.count("stream"), 0);
  });

  it("removes its process row and every lease at stop; releases after stop touch no database", async () => {
    const user = await buildUser();
    const local = registry();
    const lease = await local.acquire("upload", user.id, "refuse");
    await local.stop();
    assert.equal(await processRow(local.processId), false);
    assert.equal((await rowsOf(user.id, "upload")).length, 0);
    await lease.release();
    assert.equal(local.count("upload"), 0);
  });
});

describe("LeaseRegistry when the database is away (src/limits/leases.ts)", () => {
  const limits: LeaseLimits = { perUser: 3, perProcess: 10 };

  /** A Db whose database can be swapped for one that refuses every connection, and back. */
  function switchableDb() {
    const away = createSequelize(`postgres://nobody:nothing@127.0.0.1:1/none`, {
      ...maintenanceSettings(1, loadConfig({}).database),
      connectTimeoutMs: 500,
    });
    let current = sequelize();
    return {
      db: {
        get sequelize() {
          return current;
        },
      },
      goAway: () => (current = away),
      comeBack: () => (current = sequelize()),
      close: () => away.close(),
    };
  }

  it("fails an admission with the database's error, counts nothing, and registers on the next attempt", async () => {
    const user = await buildUser();
    const switchable = switchableDb();
    const local = new LeaseRegistry(switchable.db, quiet, { stream: limits, upload: limits }, timing);
    try {
      switchable.goAway();
      await assert.rejects(local.acquire("upload", user.id, "refuse"), /ECONNREFUSED|connect/i);
      assert.equal(local.count("upload"), 0, "a lease that was never admitted is not held");
      assert.equal(await processRow(local.processId), false);

      switchable.comeBack();
      const lease = await local.acquire("upload", user.id, "refuse");
      assert.equal(lease.recorded, true);
      assert.equal(await processRow(local.processId), true, "the failed registration was tried again");
      assert.deepEqual(
        (await rowsOf(user.id, "upload")).map((row) => row.id),
        [lease.id],
      );
    } finally {
      await local.stop();
      await switchable.close();
    }
  });

  it("forgets a released lease whose row it cannot delete, says so, and the next heartbeat deletes the row", async () => {
    const user = await buildUser();
    const switchable = switchableDb();
    const { logger, lines } = recordingLogger("warn");
    const local = new LeaseRegistry(switchable.db, logger, { stream: limits, upload: limits }, timing);
    try {
      const lease = await local.acquire("upload", user.id, "refuse");
      switchable.goAway();
      await lease.release();
      assert.equal(local.count("upload"), 0);
      assert.deepEqual(
        lines.map((line) => [line.msg, line.leaseId]),
        [["could not release a lease; the heartbeat will", lease.id]],
      );
      assert.equal((await rowsOf(user.id, "upload")).length, 1, "the row outlived the release");

      switchable.comeBack();
      await local.heartbeat();
      assert.equal((await rowsOf(user.id, "upload")).length, 0);
    } finally {
      await local.stop();
      await switchable.close();
    }
  });

  it("after stop, leases are held locally without touching the database, and a second stop does nothing", async () => {
    const user = await buildUser();
    const switchable = switchableDb();
    const local = new LeaseRegistry(switchable.db, quiet, { stream: limits, upload: limits }, timing);
    try {
      await local.stop();
      switchable.goAway();
      await local.stop();
      const lease = await local.acquire("stream", user.id, "evict-oldest");
      assert.equal(lease.recorded, false);
      assert.equal(local.count("stream"), 1, "still counted against the process's own limit");
      assert.equal((await rowsOf(user.id, "stream")).length, 0);
      await lease.release();
      assert.equal(local.count("stream"), 0);
    } finally {
      await switchable.close();
    }
  });
});
