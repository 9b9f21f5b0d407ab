import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { QueryTypes } from "sequelize";
import { LogoutRequest } from "../../../generated/shtp/v1/auth.js";
import { Notification, StreamTicket } from "../../../generated/shtp/v1/notifications.js";
import { inTransaction } from "../../db/db.js";
import { createLogger } from "../../logging/logger.js";
import {
  apiFor,
  countRows,
  encodingClients,
  expectError,
  expectMessage,
  expectNoContent,
  message,
  type Encoding,
} from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, sessionFor } from "../../testing/factories.js";
import { rawRequest } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { openStream, type OpenStream, type SseEvent } from "../../testing/sse.js";
import { waitFor } from "../../testing/wait.js";
import { revokeSessions } from "../auth/service.js";
import { sendMessage } from "./service.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const textOf = (event: SseEvent) => {
  const notification = Notification.fromJSON(JSON.parse(event.data));
  return notification.payload?.$case === "message" ? notification.payload.value.text : undefined;
};

/** Sends a message to one user through the service, committed when it resolves. */
async function notify(userId: string, text: string): Promise<void> {
  const { sequelize } = testDatabase().database;
  await inTransaction({ sequelize }, (db) => sendMessage(db, { kind: "user", userId }, { text, severity: "info" }));
}

/** Asserts a stream was refused with 401 unauthenticated, as JSON, before any event. */
async function expectRefused(stream: OpenStream, status = 401, code = "unauthenticated"): Promise<void> {
  await stream.ended;
  assert.equal(stream.status, status, stream.body());
  assert.match(String(stream.headers["content-type"]), /^application\/json/);
  assert.equal((JSON.parse(stream.body()) as { code: string }).code, code);
}

describe("stream tickets: POST /notifications/stream-tickets and GET /notifications/stream?ticket=", function () {
  this.timeout(30_000);
  let server: TestServer;
  const { apiFor: clientFor, bothEncodings } = encodingClients(() => server);
  const streams = new Set<OpenStream>();
  const open = async (...args: Parameters<typeof openStream>) => {
    const stream = await openStream(...args);
    streams.add(stream);
    return stream;
  };
  /** A user with a real session, as a sign-in leaves them. */
  const signedIn = async (target: TestServer = server) => {
    const user = await buildUser();
    return { user, ...(await sessionFor(user, target.config)) };
  };
  const mintAt = async (target: TestServer, accessToken: string, encoding: Encoding = "json") => {
    const api = apiFor(() => target.url, encoding);
    return expectMessage(
      api,
      await api.call("POST", "/notifications/stream-tickets", { token: accessToken }),
      StreamTicket,
      201,
    );
  };
  const mint = (accessToken: string, encoding: Encoding = "json") => mintAt(server, accessToken, encoding);
  const streamCount = () => server.services.notificationHub.streamCount;

  before(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    for (const stream of streams) stream.close();
    streams.clear();
    await waitFor(() => streamCount() === 0);
  });
  after(() => server.close());

  describe("minting", () => {
    bothEncodings("answers 201 with a 43-character ticket and its 60 s lifetime, never cached", async (api) => {
      const { accessToken } = await signedIn();
      const response = await api.call("POST", "/notifications/stream-tickets", { token: accessToken });
      const ticket = expectMessage(api, response, StreamTicket, 201);
      assert.match(ticket.ticket, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(ticket.expiresIn, 60);
      assert.equal(response.headers["cache-control"], "no-store");
    });

    bothEncodings("answers 401 to an anonymous caller", async (api) => {
      expectError(api, await api.call("POST", "/notifications/stream-tickets"), 401, "unauthenticated");
    });

    it("stores only the ticket's SHA-256 digest, bound to the caller's session, expiring by the database's clock", async () => {
      const { accessToken, sessionId } = await signedIn();
      const { ticket } = await mint(accessToken);
      const rows = await testDatabase().database.sequelize.query<{
        hash: string;
        session_id: string;
        lifetime: number;
      }>(
        `SELECT encode(ticket_hash, 'hex') AS hash, session_id,
                extract(epoch FROM expires_at - created_at)::int AS lifetime
           FROM stream_tickets WHERE session_id = :sessionId`,
        { replacements: { sessionId }, type: QueryTypes.SELECT },
      );
      assert.deepEqual(rows, [
        { hash: createHash("sha256").update(ticket).digest("hex"), session_id: sessionId, lifetime: 60 },
      ]);
      const holding = await countRows("SELECT count(*) FROM stream_tickets t WHERE strpos(t::text, :ticket) > 0", {
        ticket,
      });
      assert.equal(holding, 0, "no column holds the ticket itself");
    });
  });

  describe("opening the stream with a ticket", () => {
    it("opens the minting user's stream without an Authorization header, and delivers their notifications", async () => {
      const alice = await signedIn();
      const bob = await signedIn();
      const stream = await open(server.url, { query: { ticket: (await mint(alice.accessToken)).ticket } });
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers["content-type"]), /^text\/event-stream/);
      await waitFor(() => streamCount() === 1);
      await notify(bob.user.id, "for bob");
      await notify(alice.user.id, "for alice");
      assert.equal(textOf(await stream.next(2000)), "for alice", "the ticket's user's stream, not another's");
    });

    it("sends base64 protobuf with encoding=protobuf beside the ticket", async () => {
      const alice = await signedIn();
      const { ticket } = await mint(alice.accessToken, "protobuf");
      const stream = await open(server.url, { query: { ticket, encoding: "protobuf" } });
      assert.equal(stream.status, 200);
      await waitFor(() => streamCount() === 1);
      await notify(alice.user.id, "in protobuf");
      const notification = Notification.decode(Buffer.from((await stream.next(2000)).data, "base64"));
      assert.equal(notification.payload?.$case === "message" && notification.payload.value.text, "in protobuf");
    });

    it("takes a ticket once: the second use is 401, even after the first stream closed", async () => {
      const { accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      const first = await open(server.url, { query: { ticket } });
      assert.equal(first.status, 200);
      first.close();
      await waitFor(() => streamCount() === 0);
      await expectRefused(await open(server.url, { query: { ticket } }));
    });

    it("lets exactly one of ten requests racing with one ticket in", async () => {
      const { accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      const raced = await Promise.all(Array.from({ length: 10 }, () => open(server.url, { query: { ticket } })));
      assert.deepEqual(raced.map((stream) => stream.status).sort(), [200, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
    });

    it("refuses an unknown ticket, a malformed one and an empty one with 401", async () => {
      for (const ticket of [randomBytes(32).toString("base64url"), "not a ticket", "x".repeat(500), ""]) {
        await expectRefused(await open(server.url, { query: { ticket } }));
      }
    });

    it("refuses a ticket given twice in the query with 400", async () => {
      const { accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      const response = await rawRequest(`${server.url}/api/v1/notifications/stream?ticket=${ticket}&ticket=${ticket}`, {
        headers: { accept: "text/event-stream" },
      });
      assert.equal(response.status, 400);
      assert.equal((JSON.parse(response.body.toString("utf8")) as { code: string }).code, "invalid_argument");
    });

    it("refuses a ticket whose session ended (logout), unused as it is", async () => {
      const { accessToken, refreshToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      const api = clientFor("json");
      expectNoContent(await api.call("POST", "/auth/logout", { body: message(LogoutRequest, { refreshToken }) }));
      await expectRefused(await open(server.url, { query: { ticket } }));
    });

    it("refuses a ticket of a session ended by a password change or reset (revokeSessions)", async () => {
      const { user, accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      await revokeSessions({ sequelize: testDatabase().database.sequelize }, user.id);
      await expectRefused(await open(server.url, { query: { ticket } }));
    });

    it("refuses a ticket sent together with an Authorization header (400), and the ticket stays usable", async () => {
      const { accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      await expectRefused(await open(server.url, { token: accessToken, query: { ticket } }), 400, "invalid_argument");
      assert.equal((await open(server.url, { query: { ticket } })).status, 200);
    });

    it("is taken by the stream only: another route ignores it (401) and leaves it unused", async () => {
      const { accessToken } = await signedIn();
      const { ticket } = await mint(accessToken);
      const api = clientFor("json");
      expectError(api, await api.call("GET", `/notifications?ticket=${ticket}`), 401, "unauthenticated");
      expectError(
        api,
        await api.call("POST", `/notifications/stream-tickets?ticket=${ticket}`),
        401,
        "unauthenticated",
      );
      assert.equal((await open(server.url, { query: { ticket } })).status, 200);
    });

    it("works on another server process over the same database than the one that minted it", async () => {
      const other = await startTestServer();
      try {
        const alice = await signedIn(other);
        const { ticket } = await mintAt(other, alice.accessToken);
        const stream = await open(server.url, { query: { ticket } });
        assert.equal(stream.status, 200);
        await waitFor(() => streamCount() === 1);
        await notify(alice.user.id, "minted elsewhere");
        assert.equal(textOf(await stream.next(2000)), "minted elsewhere");
      } finally {
        await other.close();
      }
    });
  });

  describe("expiry", () => {
    let shortLived: TestServer;
    before(async () => {
      shortLived = await startTestServer({ env: { STREAM_TICKET_TTL_SECONDS: "1" } });
    });
    after(() => shortLived.close());

    it("refuses a ticket presented after its lifetime, and takes one presented within it", async () => {
      const { accessToken } = await signedIn(shortLived);
      const stale = await mintAt(shortLived, accessToken);
      assert.equal(stale.expiresIn, 1);
      const fresh = await mintAt(shortLived, accessToken);
      const opened = await open(shortLived.url, { query: { ticket: fresh.ticket } });
      assert.equal(opened.status, 200);
      opened.close();
      await sleep(1200);
      await expectRefused(await open(shortLived.url, { query: { ticket: stale.ticket } }));
    });

    it("purges expired tickets when a new one is minted", async () => {
      const { accessToken, sessionId } = await signedIn(shortLived);
      await mintAt(shortLived, accessToken);
      await sleep(1200);
      await mintAt(shortLived, accessToken);
      const left = await countRows("SELECT count(*) FROM stream_tickets WHERE session_id = :sessionId", { sessionId });
      assert.equal(left, 1, "only the new ticket is left");
    });
  });

  describe("resuming after a drop, as a browser does: a new EventSource, a fresh ticket and lastEventId", () => {
    it("loses nothing: the missed notifications come first, in order, then live ones, none repeated", async () => {
      const alice = await signedIn();
      const firstTicket = (await mint(alice.accessToken)).ticket;
      const first = await open(server.url, { query: { ticket: firstTicket } });
      await waitFor(() => streamCount() === 1);
      await notify(alice.user.id, "before the drop");
      const seen = await first.next(2000);
      assert.equal(textOf(seen), "before the drop");
      first.close();
      await waitFor(() => streamCount() === 0);

      await notify(alice.user.id, "missed 1");
      await notify(alice.user.id, "missed 2");
      // EventSource's own reconnect sends the same URL, with its used ticket, and Last-Event-ID: refused,
      // so the client closes that EventSource and opens a new one as below.
      await expectRefused(await open(server.url, { lastEventId: seen.id, query: { ticket: firstTicket } }));

      const { ticket } = await mint(alice.accessToken);
      const resumed = await open(server.url, { query: { ticket, lastEventId: seen.id ?? "" } });
      assert.equal(resumed.status, 200);
      const one = await resumed.next(2000);
      const two = await resumed.next(2000);
      assert.deepEqual([textOf(one), textOf(two)], ["missed 1", "missed 2"]);
      assert.ok(BigInt(one.id ?? "0") > BigInt(seen.id ?? "0") && BigInt(two.id ?? "0") > BigInt(one.id ?? "0"));
      await notify(alice.user.id, "live again");
      assert.equal(textOf(await resumed.next(2000)), "live again", "nothing was repeated before it");
    });

    it("lets the Last-Event-ID header win over lastEventId in the query", async () => {
      const alice = await signedIn();
      const ids: string[] = [];
      const first = await open(server.url, { token: alice.accessToken });
      await waitFor(() => streamCount() === 1);
      for (const text of ["one", "two", "three"]) {
        await notify(alice.user.id, text);
        ids.push((await first.next(2000)).id ?? "");
      }
      first.close();
      await waitFor(() => streamCount() === 0);
      const { ticket } = await mint(alice.accessToken);
      const resumed = await open(server.url, { lastEventId: ids[1], query: { ticket, lastEventId: ids[0] ?? "" } });
      assert.equal(textOf(await resumed.next(2000)), "three");
      await assert.rejects(resumed.next(300), /no event/);
    });

    it("answers 400 to a lastEventId the stream never sent", async () => {
      const { accessToken } = await signedIn();
      await expectRefused(
        await open(server.url, { token: accessToken, query: { lastEventId: "not-an-id" } }),
        400,
        "invalid_argument",
      );
    });
  });

  describe("what reaches the log", () => {
    it("never holds a ticket: not from minting, opening, a refused reuse or a bad request", async () => {
      const lines: string[] = [];
      const logged = await startTestServer({
        logger: createLogger("trace", { write: (line: string) => void lines.push(line) }),
      });
      try {
        const { accessToken } = await signedIn(logged);
        const { ticket } = await mintAt(logged, accessToken);
        const stream = await openStream(logged.url, { query: { ticket } });
        assert.equal(stream.status, 200);
        stream.close();
        await expectRefused(await openStream(logged.url, { query: { ticket } }));
        const other = await mintAt(logged, accessToken, "protobuf");
        await expectRefused(
          await openStream(logged.url, { query: { ticket: other.ticket, encoding: "xml" } }),
          400,
          "invalid_argument",
        );
        await waitFor(() => logged.services.notificationHub.streamCount === 0);
        // Every request above was logged (the stream's when it closed), so the log's silence means something.
        await waitFor(() => lines.filter((line) => line.includes('"path":"/api/v1/notifications/stream"')).length >= 3);
        const text = lines.join("");
        assert.match(text, /"path":"\/api\/v1\/notifications\/stream-tickets"/);
        for (const secret of [ticket, other.ticket]) assert.ok(!text.includes(secret), "the log holds a ticket");
        assert.ok(!text.includes("ticket="), "the log holds a query string with a ticket");
      } finally {
        await logged.close();
      }
    });
  });
});
