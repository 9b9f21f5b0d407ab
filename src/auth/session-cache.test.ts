import assert from "node:assert/strict";
import { QueryTypes } from "sequelize";
import { countStatements } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { buildUser, sessionFor } from "../testing/factories.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { waitFor } from "../testing/wait.js";
import { authenticate } from "./authenticate.js";
import { SessionCache } from "./session-cache.js";

const session = (id: string, sessionId: string, expiresAt = new Date(Date.now() + 3_600_000)) => ({
  id,
  role: "student" as const,
  sessionId,
  expiresAt,
});

describe("the session cache (src/auth/session-cache.ts)", () => {
  describe("on its own, with a clock of the test's", () => {
    let clock = 0;
    const live = (options: { lifetimeMs?: number; maxEntries?: number } = {}) => {
      const cache = new SessionCache(() => Promise.resolve(), { ...options, now: () => clock });
      cache.listeningChanged(true);
      return cache;
    };
    afterEach(() => (clock = 0));

    it("trusts an entry 5 s at most, however long it is asked to", () => {
      const cache = live({ lifetimeMs: 60_000 });
      cache.remember(session("u1", "s1"), cache.mark());
      clock = 4999;
      assert.deepEqual(cache.lookup("u1", "s1"), { id: "u1", role: "student", sessionId: "s1" });
      clock = 5000;
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(cache.size, 0);
    });

    it("never trusts a session past its own end, nor for another user id", () => {
      const cache = live();
      cache.remember(session("u1", "s1", new Date(1000)), cache.mark());
      assert.equal(cache.lookup("u2", "s1"), undefined, "the token's user must be the session's");
      cache.remember(session("u1", "s1", new Date(1000)), cache.mark());
      clock = 1000;
      assert.equal(cache.lookup("u1", "s1"), undefined);
    });

    it("forgets all of a user's sessions by user id, or one by session id", () => {
      const cache = live();
      for (const [user, id] of [
        ["u1", "s1"],
        ["u1", "s2"],
        ["u2", "s3"],
      ] as const)
        cache.remember(session(user, id), cache.mark());
      cache.forget("u1");
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(cache.lookup("u1", "s2"), undefined);
      assert.ok(cache.lookup("u2", "s3"));
      cache.forget("s3");
      assert.equal(cache.size, 0);
    });

    it("does not keep what a check read while something was forgotten", () => {
      const cache = live();
      const mark = cache.mark();
      cache.announced("somebody");
      cache.remember(session("u1", "s1"), mark);
      assert.equal(cache.size, 0);
    });

    it("keeps nothing while not listening, drops everything when the connection goes or comes back", () => {
      let connects = 0;
      const cache = new SessionCache(
        () => {
          connects += 1;
          return Promise.resolve();
        },
        { now: () => clock },
      );
      cache.remember(session("u1", "s1"), cache.mark());
      assert.equal(cache.size, 0);
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(connects, 1, "a lookup while down asks for the connection");
      cache.listeningChanged(true);
      cache.remember(session("u1", "s1"), cache.mark());
      assert.equal(cache.size, 1);
      cache.listeningChanged(false);
      assert.equal(cache.size, 0);
      assert.equal(cache.enabled, false);
    });

    it("while down, asks for the connection at most once a second, and shrugs off an attempt that fails", async () => {
      let attempts = 0;
      const cache = new SessionCache(() => {
        attempts += 1;
        return Promise.reject(new Error("the database is restarting"));
      });
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(attempts, 1, "the second lookup, within the second, did not ask again");
      await new Promise((resolve) => setTimeout(resolve, 1050));
      assert.equal(cache.lookup("u1", "s1"), undefined);
      assert.equal(attempts, 2);
      assert.equal(cache.enabled, false);
    });

    it("holds at most maxEntries sessions, forgetting the oldest", () => {
      const cache = live({ maxEntries: 2 });
      for (const id of ["s1", "s2", "s3"]) cache.remember(session("u", id), cache.mark());
      assert.equal(cache.size, 2);
      assert.equal(cache.lookup("u", "s1"), undefined);
      assert.ok(cache.lookup("u", "s3"));
    });
  });

  describe("in a server, told by the database", () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
      await server.services.notificationHub.listen();
    });
    after(() => server.close());

    const sequelize = () => testDatabase().database.sequelize;
    const cache = () => server.services.sessionCache;
    const check = (token: string) =>
      authenticate(`Bearer ${token}`, server.config.auth, sequelize(), server.services.sessionCache);

    /** A signed-in user whose check is cached now: a second check issues no statement. */
    async function cachedSession(role: "student" | "teacher" = "student") {
      const user = await buildUser({ role });
      const tokens = await sessionFor(user, server.config);
      assert.equal((await countStatements(() => check(tokens.accessToken))).statements, 1);
      assert.equal((await countStatements(() => check(tokens.accessToken))).statements, 0, "the second is cached");
      return { user, tokens };
    }

    /**
     * Makes a change with SQL of its own, as another process would (nothing in this process is told),
     * and expects the cache to forget the session within 100 ms, from the database's announcement alone.
     */
    async function expectForgottenAfter(change: string, replacements: Record<string, unknown>) {
      const { user, tokens } = await cachedSession();
      await sequelize().query(change, {
        replacements: { userId: user.id, sessionId: tokens.sessionId, ...replacements },
      });
      const started = Date.now();
      await waitFor(() => cache().lookup(user.id, tokens.sessionId) === undefined, 100);
      assert.ok(Date.now() - started <= 100);
      return { user, tokens };
    }

    it("forgets a session revoked elsewhere (a logout, a reused refresh token), and refuses it", async () => {
      const { tokens } = await expectForgottenAfter("UPDATE sessions SET revoked_at = now() WHERE id = :sessionId", {});
      await assert.rejects(check(tokens.accessToken), /session has ended/);
    });

    it("forgets a user whose other sessions ended elsewhere (a password change)", async () => {
      await expectForgottenAfter("UPDATE sessions SET revoked_at = now() WHERE user_id = :userId", {});
    });

    it("forgets a user whose role changed elsewhere, and reads the new role", async () => {
      const { tokens } = await expectForgottenAfter("UPDATE users SET role = 'teacher' WHERE id = :userId", {});
      assert.equal((await check(tokens.accessToken))?.role, "teacher");
    });

    it("forgets a user deleted elsewhere, and refuses their token", async () => {
      const { tokens } = await expectForgottenAfter("DELETE FROM users WHERE id = :userId", {});
      await assert.rejects(check(tokens.accessToken), /session has ended/);
    });

    it("is not told of changes that do not touch the check (a new session, a profile edit)", async () => {
      const { user, tokens } = await cachedSession();
      await sequelize().query("UPDATE users SET first_name = 'Renamed' WHERE id = :id", {
        replacements: { id: user.id },
      });
      await sessionFor(user, server.config);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(cache().lookup(user.id, tokens.sessionId));
    });

    it("reads every time while the LISTEN connection is down, and caches again once it is back", async function () {
      this.timeout(10_000);
      const { tokens } = await cachedSession();
      const listeners = await sequelize().query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN "shtp_sessions"'`,
        { type: QueryTypes.SELECT },
      );
      assert.ok(listeners.length > 0, "the hub's connection listens on the sessions channel");
      await sequelize().query("SELECT pg_terminate_backend(pid) FROM unnest(CAST(ARRAY[:pids] AS int[])) AS pid", {
        replacements: { pids: listeners.map((row) => row.pid) },
      });
      await waitFor(() => !cache().enabled, 2000);
      // Until the connection is back (the first lookup asks for it), every check reads the database.
      const whileDown = await countStatements(() =>
        Promise.all([check(tokens.accessToken), check(tokens.accessToken)]),
      );
      assert.equal(whileDown.statements, 2);
      await waitFor(() => cache().enabled, 5000);
      assert.equal((await countStatements(() => check(tokens.accessToken))).statements, 1);
      assert.equal((await countStatements(() => check(tokens.accessToken))).statements, 0);
    });
  });
});
