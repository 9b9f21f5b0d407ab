import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { QueryTypes, type Sequelize } from "sequelize";
import { toAppError } from "../errors/translate.js";
import { testDatabase } from "../testing/database.js";
import { testConfig } from "../testing/server.js";
import { createSequelize, type ConnectionSettings } from "./sequelize.js";

/**
 * The limits of createSequelize against the suite's real PostgreSQL: each one fires, the error it
 * gives is `unavailable` for the client, and a connection the client gave up on is never reused.
 */

const instances: Sequelize[] = [];

function sequelizeWith(overrides: Partial<ConnectionSettings>, url = testDatabase().database.url): Sequelize {
  const sequelize = createSequelize(url, { ...testConfig().database, poolMax: 1, ...overrides });
  instances.push(sequelize);
  return sequelize;
}

async function scalar<T>(sequelize: Sequelize, sql: string): Promise<T> {
  const [row] = await sequelize.query<{ value: T }>(`SELECT ${sql} AS value`, { type: QueryTypes.SELECT });
  return row!.value;
}

/** Runs `action`, expecting it to fail; returns the error and how long the failure took. */
async function failure(action: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await action();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  assert.fail("expected a failure");
}

/** The `tr` (timer) field of this machine's TCP socket on local port `port`: 2 is the keepalive timer. */
function tcpTimerOf(port: number): { timer: number; whenMs: number } | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of fs.readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (!fields[1]?.endsWith(`:${hexPort}`) || fields[3] !== "01") continue;
      const [timer, when] = (fields[5] ?? "").split(":");
      // tm->when is in jiffies (USER_HZ, 100 a second on Linux).
      return { timer: Number.parseInt(timer ?? "", 16), whenMs: Number.parseInt(when ?? "", 16) * 10 };
    }
  }
  return undefined;
}

describe("database connection limits (src/db/sequelize.ts)", function () {
  this.timeout(30_000);
  after(async () => {
    await Promise.all(instances.map((sequelize) => sequelize.close().catch(() => undefined)));
  });

  it("lets PostgreSQL cancel a statement past statementTimeoutMs as unavailable, keeping the connection", async () => {
    const sequelize = sequelizeWith({ statementTimeoutMs: 200, queryTimeoutMs: 5000 });
    const pid = await scalar<number>(sequelize, "pg_backend_pid()");
    const { error, ms } = await failure(() => sequelize.query("SELECT pg_sleep(3)"));
    assert.equal((error as { parent?: { code?: string } }).parent?.code, "57014", String(error));
    assert.equal(toAppError(error).code, "unavailable");
    assert.match(toAppError(error).message, /took too long/);
    assert.ok(ms < 2500, `cancelled after ${Math.round(ms)} ms`);
    assert.equal(await scalar<number>(sequelize, "pg_backend_pid()"), pid, "the connection is still the pool's");
  });

  it("gives up on a query after queryTimeoutMs and discards its connection, without a second wait for ROLLBACK", async () => {
    const sequelize = sequelizeWith({ statementTimeoutMs: 0, queryTimeoutMs: 1500 });
    const pid = await scalar<number>(sequelize, "pg_backend_pid()");
    const { error, ms } = await failure(() =>
      sequelize.transaction((transaction) => sequelize.query("SELECT pg_sleep(5)", { transaction })),
    );
    assert.match(String((error as { parent?: Error }).parent?.message), /Query read timeout/);
    assert.equal(toAppError(error).code, "unavailable");
    // Had the connection been kept, the transaction's ROLLBACK would have queued behind the sleep and
    // timed out in its turn: twice the limit.
    assert.ok(ms < 2500, `the transaction failed after ${Math.round(ms)} ms`);
    const next = await scalar<number>(sequelize, "pg_backend_pid()");
    assert.notEqual(next, pid, "the next query runs on a new connection");
  });

  it("gives up opening a connection to a server that never answers after connectTimeoutMs, as unavailable", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const sequelize = sequelizeWith({ connectTimeoutMs: 300 }, `postgres://nobody:nothing@127.0.0.1:${port}/none`);
      const { error, ms } = await failure(() => sequelize.query("SELECT 1"));
      assert.equal(toAppError(error).code, "unavailable", String(error));
      assert.ok(ms < 2500, `gave up after ${Math.round(ms)} ms`);
    } finally {
      silent.close();
      // A client the server never answered holds its socket until the test server goes.
      for (const sequelize of instances.splice(-1)) await sequelize.close().catch(() => undefined);
    }
  });

  it("fails a request that waits longer than acquireTimeoutMs for a pooled connection, as unavailable", async () => {
    const sequelize = sequelizeWith({ acquireTimeoutMs: 300 });
    let release = () => undefined as void;
    const held = sequelize.transaction(async (transaction) => {
      await sequelize.query("SELECT 1", { transaction });
      await new Promise<void>((resolve) => (release = resolve));
    });
    await sleep(100);
    const { error, ms } = await failure(() => sequelize.query("SELECT 1"));
    release();
    await held;
    assert.equal(toAppError(error).code, "unavailable", String(error));
    assert.ok(ms >= 250 && ms < 2500, `waited ${Math.round(ms)} ms`);
  });

  it("lets PostgreSQL end a session left idle in a transaction after idleInTransactionTimeoutMs", async () => {
    const sequelize = sequelizeWith({ idleInTransactionTimeoutMs: 300 });
    const { error } = await failure(() =>
      sequelize.transaction(async (transaction) => {
        await sequelize.query("SELECT 1", { transaction });
        await sleep(1000);
        await sequelize.query("SELECT 1", { transaction });
      }),
    );
    assert.equal(toAppError(error).code, "unavailable", String(error));
    assert.equal(await scalar<number>(sequelize, "1"), 1, "the pool opens a new connection afterwards");
  });

  it("turns TCP keepalive on for its connections, after keepAliveMs of idle time", async () => {
    const sequelize = sequelizeWith({ keepAliveMs: 45_000 });
    const port = await scalar<number>(sequelize, "inet_client_port()");
    const timer = tcpTimerOf(port);
    assert.equal(timer?.timer, 2, "the socket runs the keepalive timer");
    assert.ok(timer.whenMs > 30_000 && timer.whenMs <= 45_000, `first probe in ${timer.whenMs} ms`);

    const without = sequelizeWith({ keepAliveMs: 0 });
    const plainPort = await scalar<number>(without, "inet_client_port()");
    assert.equal(tcpTimerOf(plainPort)?.timer, 0, "no timer without keepalive");
  });
});
