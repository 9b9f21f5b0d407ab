import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { QueryTypes } from "sequelize";
import { MessageSeverity, Notification, NotificationType } from "../../../generated/shtp/v1/notifications.js";
import { inTransaction } from "../../db/db.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, sessionFor, tokenFor } from "../../testing/factories.js";
import {
  childEnv,
  cleanUpProcesses,
  listeningUrl,
  makeStorageDir,
  runTs,
  type Spawned,
} from "../../testing/processes.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { openStream, type OpenStream, type SseEvent } from "../../testing/sse.js";
import type { User } from "../users/user.model.js";
import { sendMessage } from "./service.js";
import { waitFor } from "../../testing/wait.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const decodeJson = (event: SseEvent) => Notification.fromJSON(JSON.parse(event.data));
const textOf = (notification: Notification) =>
  notification.payload?.$case === "message" ? notification.payload.value.text : undefined;

/** Sends a message to one user through the service, committed when it resolves. */
async function notify(userId: string, text: string): Promise<void> {
  const { sequelize } = testDatabase().database;
  await inTransaction({ sequelize }, (db) => sendMessage(db, { kind: "user", userId }, { text, severity: "warning" }));
}

/** The retry delay and the reason sent at the end of a stream the server closed, if it was closed so. */
const endHint = (stream: OpenStream) => /\nretry: (\d+)\n: ([^\n]*)\n\n$/.exec(stream.body());

/** Signs a session out as a client does, through `POST /auth/logout` on the server at `baseUrl`. */
async function logOut(baseUrl: string, refreshToken: string): Promise<void> {
  const response = await fetch(`${baseUrl}/api/v1/auth/logout`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refreshToken }),
  });
  assert.ok(response.ok, `logout answered ${response.status}`);
}

/** A flag that turns true once the stream has ended. */
function endedFlag(stream: OpenStream): () => boolean {
  let ended = false;
  void stream.ended.then(() => (ended = true));
  return () => ended;
}

/** How many of the user's streams the database counts, on every process. */
async function streamLeasesOf(userId: string): Promise<number> {
  const [row] = await testDatabase().database.sequelize.query<{ count: number }>(
    "SELECT count(*)::int AS count FROM user_leases WHERE user_id = :userId AND kind = 'stream'",
    { replacements: { userId }, type: QueryTypes.SELECT },
  );
  return row?.count ?? 0;
}

/** A process's resident set size in MiB, from /proc. */
async function rssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  assert.ok(Number.isFinite(kib), "VmRSS is readable");
  return kib / 1024;
}

async function databaseConnections(): Promise<number> {
  const [row] = await testDatabase().database.sequelize.query<{ count: string }>(
    "SELECT count(*) AS count FROM pg_stat_activity WHERE datname = current_database()",
    { type: QueryTypes.SELECT },
  );
  return Number(row?.count ?? 0);
}

describe("notification stream (SSE)", function () {
  this.timeout(60_000);
  let server: TestServer;
  const streams = new Set<OpenStream>();
  const open = async (...args: Parameters<typeof openStream>) => {
    const stream = await openStream(...args);
    streams.add(stream);
    return stream;
  };
  let alice: { user: User; token: string };
  let bob: { user: User; token: string };
  const signedIn = async () => {
    const user = await buildUser();
    return { user, token: await tokenFor(user, server.config) };
  };

  before(async () => {
    server = await startTestServer();
    alice = await signedIn();
    bob = await signedIn();
  });
  afterEach(async () => {
    for (const stream of streams) stream.close();
    streams.clear();
    await waitFor(() => server.services.notificationHub.streamCount === 0);
  });
  after(async () => server?.close());

  it("delivers a message to its recipient as ProtoJSON within 1 s, and not to another user", async () => {
    const mine = await open(server.url, { token: alice.token });
    const theirs = await open(server.url, { token: bob.token });
    assert.equal(mine.status, 200);
    assert.match(String(mine.headers["content-type"]), /^text\/event-stream/);
    await waitFor(() => server.services.notificationHub.streamCount === 2);

    await notify(alice.user.id, "hello alice");
    const event = await mine.next(1000);
    assert.match(event.id ?? "", /^\d+$/);
    const notification = decodeJson(event);
    assert.equal(notification.type, NotificationType.MESSAGE);
    assert.deepEqual(notification.payload, {
      $case: "message",
      value: { text: "hello alice", severity: MessageSeverity.WARNING },
    });
    await assert.rejects(theirs.next(500), /no event/, "another user's stream receives nothing");
  });

  it("sends base64 protobuf with encoding=protobuf", async () => {
    const stream = await open(server.url, { token: alice.token, query: { encoding: "protobuf" } });
    assert.equal(stream.status, 200);
    await waitFor(() => server.services.notificationHub.streamCount === 1);
    await notify(alice.user.id, "in protobuf");
    const event = await stream.next(1000);
    const notification = Notification.decode(Buffer.from(event.data, "base64"));
    assert.equal(textOf(notification), "in protobuf");
    assert.equal(notification.type, NotificationType.MESSAGE);
  });

  it("resumes with Last-Event-ID: exactly the missed events, in order, none repeated", async () => {
    const first = await open(server.url, { token: alice.token });
    await waitFor(() => server.services.notificationHub.streamCount === 1);
    await notify(alice.user.id, "before");
    const seen = await first.next(1000);
    assert.equal(textOf(decodeJson(seen)), "before");
    first.close();
    await waitFor(() => server.services.notificationHub.streamCount === 0);

    await notify(alice.user.id, "missed 1");
    await notify(alice.user.id, "missed 2");
    const resumed = await open(server.url, { token: alice.token, lastEventId: seen.id });
    assert.equal(resumed.status, 200);
    const one = await resumed.next(1000);
    const two = await resumed.next(1000);
    assert.deepEqual([textOf(decodeJson(one)), textOf(decodeJson(two))], ["missed 1", "missed 2"]);
    assert.ok(BigInt(one.id ?? "0") > BigInt(seen.id ?? "0") && BigInt(two.id ?? "0") > BigInt(one.id ?? "0"));
    await assert.rejects(resumed.next(500), /no event/, "nothing is repeated");

    await notify(alice.user.id, "live again");
    assert.equal(textOf(decodeJson(await resumed.next(1000))), "live again");
  });

  it("refuses a Last-Event-ID past any sequence number with 400, and frees the place it took", async () => {
    const leasesBefore = server.services.leases.count("stream");
    const stream = await open(server.url, { token: alice.token, lastEventId: "9999999999999999999" });
    await stream.ended;
    assert.equal(stream.status, 400);
    const error = JSON.parse(stream.body()) as { code: string; fieldViolations?: { field: string }[] };
    assert.equal(error.code, "invalid_argument");
    // Refused by the schema, naming the field, rather than by PostgreSQL's bigint range.
    assert.match(error.fieldViolations?.[0]?.field ?? "", /^last-?event-?id$/i);
    assert.equal(server.services.notificationHub.streamCount, 0, "no subscription is left behind");
    await waitFor(() => server.services.leases.count("stream") === leasesBefore);
    // The largest sequence number is an id the stream may have sent.
    const largest = await open(server.url, { token: alice.token, lastEventId: "9223372036854775807" });
    assert.equal(largest.status, 200);
    largest.close();
  });

  it("answers 401 with a JSON error without a token", async () => {
    const stream = await open(server.url);
    await stream.ended;
    assert.equal(stream.status, 401);
    assert.match(String(stream.headers["content-type"]), /^application\/json/);
    assert.equal((JSON.parse(stream.body()) as { code: string }).code, "unauthenticated");
  });

  it("ends a stream within 1 s when its session signs out, telling the client why; its token then opens none", async () => {
    const user = await buildUser();
    const session = await sessionFor(user, server.config);
    const stream = await open(server.url, { token: session.accessToken });
    const another = await open(server.url, { token: await tokenFor(user, server.config) });
    assert.equal(stream.status, 200);
    const ended = endedFlag(another);

    const signedOutAt = performance.now();
    await logOut(server.url, session.refreshToken);
    await stream.ended;
    assert.ok(performance.now() - signedOutAt < 1000, `ended ${Math.round(performance.now() - signedOutAt)} ms after`);
    assert.equal(endHint(stream)?.[2], "this session has ended; sign in again");
    assert.equal(ended(), false, "the user's stream on another session stays open");
    const again = await open(server.url, { token: session.accessToken });
    await again.ended;
    assert.equal(again.status, 401);
  });

  it("frees the subscription when the client closes", async () => {
    const before = server.services.notificationHub.streamCount;
    const stream = await open(server.url, { token: bob.token });
    await waitFor(() => server.services.notificationHub.streamCount === before + 1);
    stream.close();
    await waitFor(() => server.services.notificationHub.streamCount === before);
  });

  it("keeps database connections bounded with 200 open streams", async () => {
    // Forty streams per user: a server whose per-user limit allows them, on the same database.
    const roomy = await startTestServer({ env: { MAX_STREAMS_PER_USER: "40" } });
    try {
      const users = await Promise.all([1, 2, 3, 4, 5].map(() => signedIn()));
      // The listener connects with the first stream; open one so that "before" counts the pool as warm.
      const warm = await open(roomy.url, { token: users[0]!.token });
      await waitFor(() => roomy.services.notificationHub.streamCount === 1);
      warm.close();
      await waitFor(() => roomy.services.notificationHub.streamCount === 0);
      const before = await databaseConnections();

      const opened = await Promise.all(
        Array.from({ length: 200 }, (_, index) => open(roomy.url, { token: users[index % users.length]!.token })),
      );
      assert.ok(opened.every((stream) => stream.status === 200));
      await waitFor(() => roomy.services.notificationHub.streamCount === 200, 15_000);
      const during = await databaseConnections();
      console.log(`      pg_stat_activity for this database: ${before} before, ${during} with 200 streams open`);
      assert.ok(during - before <= 11, `connections grew from ${before} to ${during}`);

      await notify(users[2]!.user.id, "to forty streams");
      const receivers = opened.filter((_, index) => index % users.length === 2);
      const events = await Promise.all(receivers.map((stream) => stream.next(2000)));
      assert.equal(events.length, 40);
      assert.ok(events.every((event) => textOf(decodeJson(event)) === "to forty streams"));
    } finally {
      for (const stream of streams) stream.close();
      await waitFor(() => roomy.services.notificationHub.streamCount === 0);
      await roomy.close();
    }
  });

  describe("limits on what one user holds", () => {
    it("closes a user's first stream with a reconnect hint when they open a sixth; another user's is unaffected", async () => {
      const carol = await signedIn();
      const dave = await signedIn();
      const firstFive: OpenStream[] = [];
      for (let index = 0; index < 5; index++) {
        const stream = await open(server.url, { token: carol.token });
        assert.equal(stream.status, 200);
        firstFive.push(stream);
      }
      const theirs = await open(server.url, { token: dave.token });
      const ended = firstFive.map(endedFlag);
      const sixth = await open(server.url, { token: carol.token });
      assert.equal(sixth.status, 200);

      await firstFive[0]!.ended;
      const hint = endHint(firstFive[0]!);
      assert.ok(hint, `no reconnect hint at the end of: ${JSON.stringify(firstFive[0]!.body())}`);
      assert.ok(Number(hint[1]) >= 30_000, `reconnect after ${hint[1]} ms`);
      assert.match(hint[2] ?? "", /more than 5 notification streams.*oldest.*reconnect/);
      await sleep(200);
      assert.deepEqual(
        ended.map((isEnded) => isEnded()),
        [true, false, false, false, false],
      );
      await waitFor(() => server.services.notificationHub.streamCount === 6);
      assert.equal(await streamLeasesOf(carol.user.id), 5);

      await notify(carol.user.id, "to the five");
      for (const stream of [...firstFive.slice(1), sixth])
        assert.equal(textOf(decodeJson(await stream.next(1000))), "to the five");
      await notify(dave.user.id, "still here");
      assert.equal(textOf(decodeJson(await theirs.next(1000))), "still here");
    });

    it("leaves at most 5 of 300 streams one user opens at once, and another user's stream still gets a message within 1 s", async () => {
      const erin = await signedIn();
      const frank = await signedIn();
      const theirs = await open(server.url, { token: frank.token });
      const burst = await Promise.all(Array.from({ length: 300 }, () => open(server.url, { token: erin.token })));
      const refused = burst.filter((stream) => stream.status !== 200);
      assert.deepEqual(
        refused.map((stream) => stream.status),
        [],
        `refused: ${refused
          .slice(0, 3)
          .map((stream) => stream.body())
          .join(" | ")}`,
      );
      const ended = burst.map(endedFlag);
      await waitFor(() => ended.filter((isEnded) => !isEnded()).length <= 5, 15_000);
      await waitFor(() => server.services.notificationHub.streamCount === 6);
      const closed = burst.filter((_, index) => ended[index]!());
      assert.equal(closed.length, 295);
      assert.ok(
        closed.every((stream) => endHint(stream)),
        "every closed stream was told to reconnect",
      );

      const sentAt = performance.now();
      await notify(frank.user.id, "after the burst");
      assert.equal(textOf(decodeJson(await theirs.next(1000))), "after the burst");
      console.log(`      another user's message after the burst: ${Math.round(performance.now() - sentAt)} ms`);
    });

    it("refuses a stream with 429 and Retry-After once the process holds its limit", async () => {
      const small = await startTestServer({ env: { MAX_STREAMS_PER_PROCESS: "2" } });
      try {
        const first = await open(small.url, { token: alice.token });
        await open(small.url, { token: bob.token });
        const refused = await open(small.url, { token: (await signedIn()).token });
        await refused.ended;
        assert.equal(refused.status, 429);
        assert.match(String(refused.headers["retry-after"]), /^[1-9]\d*$/);
        assert.match(String(refused.headers["content-type"]), /^application\/json/);
        assert.equal((JSON.parse(refused.body()) as { code: string }).code, "rate_limited");
        first.close();
        await waitFor(() => small.services.notificationHub.streamCount === 1);
        assert.equal((await open(small.url, { token: alice.token })).status, 200);
      } finally {
        for (const stream of streams) stream.close();
        await waitFor(() => small.services.notificationHub.streamCount === 0);
        await small.close();
      }
    });
  });

  describe("limits across server processes", () => {
    let child: Spawned;
    let childUrl: string;
    before(async function () {
      this.timeout(90_000);
      child = runTs(
        "src/server.ts",
        [],
        childEnv({ DATABASE_URL: testDatabase().database.url, STORAGE_DIR: await makeStorageDir() }),
      );
      childUrl = await listeningUrl(child);
    });
    after(async function () {
      this.timeout(60_000);
      await cleanUpProcesses();
    });

    it("closes the user's oldest stream on the other process when they open a sixth on this one", async () => {
      const grace = await signedIn();
      const there: OpenStream[] = [];
      for (let index = 0; index < 3; index++) there.push(await open(childUrl, { token: grace.token }));
      const here = [await open(server.url, { token: grace.token }), await open(server.url, { token: grace.token })];
      assert.ok([...there, ...here].every((stream) => stream.status === 200));
      const stillOpen = [...there, ...here].map(endedFlag);
      const sixth = await open(server.url, { token: grace.token });
      assert.equal(sixth.status, 200);

      await there[0]!.ended;
      assert.match(endHint(there[0]!)?.[2] ?? "", /more than 5 notification streams/);
      await sleep(200);
      assert.deepEqual(
        stillOpen.map((isEnded) => isEnded()),
        [true, false, false, false, false],
      );
      assert.equal(await streamLeasesOf(grace.user.id), 5);
      await notify(grace.user.id, "on both processes");
      for (const stream of [there[1]!, there[2]!, ...here, sixth]) {
        assert.equal(textOf(decodeJson(await stream.next(1000))), "on both processes");
      }
    });

    it("ends a stream on the other process within 1 s when its session signs out through this one", async () => {
      const user = await buildUser();
      const session = await sessionFor(user, server.config);
      const there = await open(childUrl, { token: session.accessToken });
      assert.equal(there.status, 200);
      await waitFor(async () => (await streamLeasesOf(user.id)) === 1);

      const signedOutAt = performance.now();
      await logOut(server.url, session.refreshToken);
      await there.ended;
      assert.ok(
        performance.now() - signedOutAt < 1000,
        `ended ${Math.round(performance.now() - signedOutAt)} ms after`,
      );
      assert.equal(endHint(there)?.[2], "this session has ended; sign in again");
      await waitFor(async () => (await streamLeasesOf(user.id)) === 0);
    });

    it("300 streams one user opens at once on a server process leave at most 5; another user's still gets a message within 1 s", async () => {
      const pid = child.child.pid;
      assert.ok(pid);
      const henry = await signedIn();
      const ivy = await signedIn();
      // One stream first, so the listening connection and the pool are in "before".
      const warm = await open(childUrl, { token: ivy.token });
      warm.close();
      await sleep(1000);
      const before = await rssMiB(pid);

      const theirs = await open(childUrl, { token: ivy.token });
      const attempts = await Promise.allSettled(
        Array.from({ length: 300 }, () => open(childUrl, { token: henry.token })),
      );
      const answered = attempts.flatMap((attempt) => (attempt.status === "fulfilled" ? [attempt.value] : []));
      // Past MAX_CONNECTIONS_PER_ADDRESS (256) connections from this one address are refused as they arrive.
      const refusedAtConnect = attempts.length - answered.length;
      const streaming = answered.filter((stream) => stream.status === 200);
      const ended = streaming.map(endedFlag);
      const openCount = () => ended.filter((isEnded) => !isEnded()).length;
      await waitFor(() => openCount() <= 5, 20_000);
      await sleep(200);
      assert.ok(openCount() <= 5, `${openCount()} streams are open`);
      assert.ok((await streamLeasesOf(henry.user.id)) <= 5);

      const sentAt = performance.now();
      await notify(ivy.user.id, "after the burst");
      assert.equal(textOf(decodeJson(await theirs.next(1000))), "after the burst");
      const latency = Math.round(performance.now() - sentAt);

      await sleep(1000);
      const after = await rssMiB(pid);
      console.log(
        `      300-stream burst: ${streaming.length} streamed, ${answered.length - streaming.length} refused by status, ` +
          `${refusedAtConnect} refused at connect, ${openCount()} left open; another user's message in ${latency} ms; ` +
          `server RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after (${(after - before).toFixed(1)} MiB)`,
      );
      // The target is 20 MiB (about 7 measured); twice that here, as coverage and a shared machine add noise.
      assert.ok(after - before <= 40, `RSS grew by ${(after - before).toFixed(1)} MiB`);
    });
  });

  describe("across two server processes", () => {
    let child: ChildProcess | undefined;
    let storageDir: string | undefined;
    after(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (storageDir) await fs.rm(storageDir, { recursive: true, force: true });
    });

    it("delivers a message written by one process on the other's stream, and the other exits 0 on SIGTERM", async () => {
      storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-stream-test-"));
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.TEST_DATABASE_URL;
      delete env.TEST_USE_EXTERNAL_DATABASE;
      const spawned = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
        cwd: repoRoot,
        env: {
          ...env,
          DATABASE_URL: testDatabase().database.url,
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "info",
          STORAGE_DIR: storageDir,
          JUDGE_IN_PROCESS: "false",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = spawned;
      let stdout = "";
      let stderr = "";
      spawned.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      spawned.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        spawned.once("exit", (code, signal) => resolve({ code, signal })),
      );

      let url: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!url) {
        if (Date.now() > deadline || spawned.exitCode !== null) {
          throw new Error(`the second process did not listen:\n${stdout}\n${stderr}`);
        }
        for (const line of stdout.split("\n")) {
          if (!line.startsWith("{")) continue;
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === "listening" && typeof entry.url === "string") url = entry.url;
        }
        if (!url) await sleep(25);
      }

      const stream = await open(url, { token: alice.token });
      assert.equal(stream.status, 200);
      // The 200 comes after the subscription and the process's LISTEN are in place.
      const sentAt = performance.now();
      await notify(alice.user.id, "across processes");
      const event = await stream.next(1000);
      const latency = Math.round(performance.now() - sentAt);
      console.log(`      cross-process stream latency (commit → event on the other process): ${latency} ms`);
      assert.equal(textOf(decodeJson(event)), "across processes");

      spawned.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no exit after SIGTERM:\n${stderr}`)), 15_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.deepEqual(exit, { code: 0, signal: null }, stderr);
      await stream.ended;
    });
  });
});
