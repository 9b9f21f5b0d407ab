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
import { buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { openStream, waitFor, type OpenStream, type SseEvent } from "../../testing/sse.js";
import type { User } from "../users/user.model.js";
import { sendMessage } from "./service.js";

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

  it("answers 401 with a JSON error without a token", async () => {
    const stream = await open(server.url);
    await stream.ended;
    assert.equal(stream.status, 401);
    assert.match(String(stream.headers["content-type"]), /^application\/json/);
    assert.equal((JSON.parse(stream.body()) as { code: string }).code, "unauthenticated");
  });

  it("frees the subscription when the client closes", async () => {
    const before = server.services.notificationHub.streamCount;
    const stream = await open(server.url, { token: bob.token });
    await waitFor(() => server.services.notificationHub.streamCount === before + 1);
    stream.close();
    await waitFor(() => server.services.notificationHub.streamCount === before);
  });

  it("keeps database connections bounded with 200 open streams", async () => {
    const users = await Promise.all([1, 2, 3, 4, 5].map(() => signedIn()));
    // The listener connects with the first stream; open one so that "before" counts the pool as warm.
    const warm = await open(server.url, { token: users[0]!.token });
    await waitFor(() => server.services.notificationHub.streamCount === 1);
    warm.close();
    await waitFor(() => server.services.notificationHub.streamCount === 0);
    const before = await databaseConnections();

    const opened = await Promise.all(
      Array.from({ length: 200 }, (_, index) => open(server.url, { token: users[index % users.length]!.token })),
    );
    assert.ok(opened.every((stream) => stream.status === 200));
    await waitFor(() => server.services.notificationHub.streamCount === 200, 15_000);
    const during = await databaseConnections();
    console.log(`      pg_stat_activity for this database: ${before} before, ${during} with 200 streams open`);
    assert.ok(during - before <= 11, `connections grew from ${before} to ${during}`);

    await notify(users[2]!.user.id, "to forty streams");
    const receivers = opened.filter((_, index) => index % users.length === 2);
    const events = await Promise.all(receivers.map((stream) => stream.next(2000)));
    assert.equal(events.length, 40);
    assert.ok(events.every((event) => textOf(decodeJson(event)) === "to forty streams"));
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
