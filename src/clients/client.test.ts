import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import {
  ApiError,
  createApi,
  OAuth2TokenError,
  type ClientOptions,
  type Encoding,
  type Session,
  type EventSourceClass,
  type EventSourceLike,
  type EventSubscription,
  type ShtpApi,
  type StreamNotificationsEvent,
} from "../../generated/client/api.js";
import { AchievementKind, AchievementStatus } from "../../generated/shtp/v1/achievements.js";
import { JudgingStage, SubmissionProgress } from "../../generated/shtp/v1/assignments.js";
import { MessageSeverity, Notification, NotificationType } from "../../generated/shtp/v1/notifications.js";
import { issueAccessToken } from "../auth/tokens.js";
import { routes } from "../modules/index.js";
import { publishProgress } from "../modules/submissions/service.js";
import { encodings } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { onePixelPng } from "../testing/files.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { waitFor } from "../testing/wait.js";
import { accountWithPassword, streamOpened, type Account } from "./fixtures.js";

/** Every request the client sent, as it went out, and the answer's Content-Type. */
interface Sent {
  method: string;
  url: URL;
  headers: Headers;
  answeredType: string | null;
  status: number;
}

/** A fetch that records what the client sends, for assertions about the wire. */
function recordingFetch(log: Sent[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    log.push({
      method: init?.method ?? "GET",
      url: new URL(input instanceof Request ? input.url : String(input)),
      headers: new Headers(init?.headers),
      answeredType: response.headers.get("content-type"),
      status: response.status,
    });
    return response;
  };
}

/** The text of a message notification on a stream; anything else fails the test. */
function textOf(event: StreamNotificationsEvent): string {
  assert.ok(event.type === Notification.$type, `expected a notification, got ${event.type}`);
  assert.ok(event.message.payload?.$case === "message", "expected a message");
  return event.message.payload.value.text;
}

const mediaOf = (encoding: Encoding) => (encoding === "json" ? "application/json" : "application/protobuf");

/**
 * Asserts that `work` fails with an ApiError and returns it.
 * @param work - the call
 */
async function apiError(work: () => Promise<unknown>): Promise<ApiError> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

/** An access token of the session that expired an hour ago. */
async function expiredTokenOf(session: Session, server: TestServer): Promise<string> {
  const claims = decodeJwt(session.accessToken);
  return issueAccessToken(
    { userId: String(claims.sub), sessionId: String(claims.sid) },
    server.config.auth,
    new Date(Date.now() - 2 * server.config.auth.accessTokenTtlSeconds * 1000),
  );
}

/**
 * An EventSource over fetch, as much of one as the client uses (open, error, typed events, close), so
 * the client's EventSource transport runs in Node. The first one made can drop its connection after
 * one event, as a network would.
 * @param opened - receives the URL of each one made
 */
function fetchEventSource(opened: URL[], { dropFirstAfterOneEvent = false } = {}): EventSourceClass {
  return class implements EventSourceLike {
    private readonly listeners = new Map<string, ((event: { data?: unknown; lastEventId?: string }) => void)[]>();
    private readonly controller = new AbortController();

    constructor(url: string) {
      opened.push(new URL(url));
      void this.read(url, dropFirstAfterOneEvent && opened.length === 1);
    }

    addEventListener(type: string, listener: (event: { data?: unknown; lastEventId?: string }) => void): void {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }

    close(): void {
      this.controller.abort();
    }

    /** A closed EventSource dispatches nothing more. */
    private dispatch(type: string, event: { data?: string; lastEventId?: string } = {}): void {
      if (this.controller.signal.aborted) return;
      for (const listener of this.listeners.get(type) ?? []) listener(event);
    }

    private async read(url: string, drop: boolean): Promise<void> {
      try {
        const response = await fetch(url, {
          headers: { accept: "text/event-stream" },
          signal: this.controller.signal,
        });
        if (!response.ok || !response.body) return this.dispatch("error");
        this.dispatch("open");
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const decoder = new TextDecoder();
        let [buffer, lastEventId] = ["", ""];
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
            const fields = buffer
              .slice(0, end)
              .split("\n")
              .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)] as const);
            buffer = buffer.slice(end + 2);
            lastEventId = fields.find(([field]) => field === "id")?.[1] ?? lastEventId;
            const data = fields.filter(([field]) => field === "data").map(([, text]) => text);
            if (data.length === 0) continue;
            const type = fields.find(([field]) => field === "event")?.[1] ?? "message";
            this.dispatch(type, { data: data.join("\n"), lastEventId });
            if (drop) {
              await reader.cancel();
              return this.dispatch("error");
            }
          }
        }
        this.dispatch("error");
      } catch {
        this.dispatch("error");
      }
    }
  };
}

/**
 * Reads a message, lets the stream drop, sends one while it is disconnected and one after: the missed
 * one must come after the reconnect, once, before the later one.
 * @returns the id of the event before the drop
 */
async function missNothingAcrossDrop(
  server: TestServer,
  stream: EventSubscription<StreamNotificationsEvent>,
  send: (text: string) => Promise<unknown>,
  streamsBefore: number,
): Promise<string | undefined> {
  const iterator = stream[Symbol.asyncIterator]();
  try {
    const first = iterator.next();
    await streamOpened(server, streamsBefore);
    await send("before the drop");
    const before = await first;
    assert.ok(!before.done);
    assert.equal(textOf(before.value), "before the drop");
    // The connection drops; the server sees the stream go, and the client waits its retry delay.
    const next = iterator.next();
    await waitFor(() => server.services.notificationHub.streamCount === streamsBefore);
    await send("while disconnected");
    const during = await next;
    assert.ok(!during.done);
    assert.equal(textOf(during.value), "while disconnected");
    assert.ok(BigInt(during.value.id ?? "0") > BigInt(before.value.id ?? "0"));
    await send("after the reconnect");
    const after = await iterator.next();
    assert.ok(!after.done);
    assert.equal(textOf(after.value), "after the reconnect", "the missed notification came exactly once");
    return before.value.id;
  } finally {
    stream.close();
  }
}

/** Two connections, each with its own ticket, the second resuming after `lastBeforeDrop`. */
function assertResumed(connections: readonly URL[], lastBeforeDrop: string | undefined): void {
  assert.equal(connections.length, 2);
  assert.deepEqual(
    connections.map((url) => url.searchParams.get("lastEventId")),
    [null, lastBeforeDrop],
  );
  const [one, two] = connections.map((url) => url.searchParams.get("ticket"));
  assert.ok(one && two && one !== two, "the reconnect fetched a fresh ticket");
}

describe("the generated TypeScript client in Node (generated/client/api.ts)", () => {
  let server: TestServer;
  let student: Account;
  let teacher: Account;
  before(async () => {
    server = await startTestServer();
    student = await accountWithPassword("student");
    teacher = await accountWithPassword("teacher");
  });
  after(() => server.close());

  const clientFor = (encoding: Encoding, extra: Partial<ClientOptions> = {}) =>
    createApi({ baseUrl: server.url, encoding, ...extra });

  /** Sends an INFO message from `staff` to the student. */
  const messageToStudent = (staff: ShtpApi) => (text: string) =>
    staff.sendMessage({
      body: { text, severity: MessageSeverity.INFO, audience: { $case: "userId", value: student.id } },
    });

  /** A client signed in as `account`, and what its fetch saw. */
  async function signedIn(encoding: Encoding, account: Account, extra: Partial<ClientOptions> = {}) {
    const sent: Sent[] = [];
    const api = clientFor(encoding, { fetch: recordingFetch(sent), ...extra });
    await api.login({ body: { email: account.email, password: account.password } });
    return { api, sent };
  }

  for (const encoding of encodings) {
    describe(`in ${encoding}`, () => {
      it("signs in, keeps the tokens, and reads /auth/me with them, all in the chosen encoding", async () => {
        const changes: (Session | undefined)[] = [];
        const { api, sent } = await signedIn(encoding, student, {
          onSessionChange: (session) => changes.push(session),
        });
        const session = api.session.current;
        assert.ok(session?.accessToken && session.refreshToken);
        assert.deepEqual(changes, [session]);
        const me = await api.getMe();
        assert.equal(me.user?.id, student.id);
        assert.equal(me.user?.email, student.email);
        const [login, read] = sent;
        assert.equal(login?.headers.get("content-type"), mediaOf(encoding));
        assert.equal(login?.headers.get("authorization"), null);
        assert.equal(read?.headers.get("authorization"), `Bearer ${session.accessToken}`);
        for (const request of sent) {
          assert.equal(request.headers.get("accept"), mediaOf(encoding));
          assert.ok(request.answeredType?.startsWith(mediaOf(encoding)), String(request.answeredType));
        }
      });

      it("sends typed query values and path parameters, and answers 204 operations with nothing", async () => {
        const { api: staff } = await signedIn(encoding, teacher);
        const { api, sent } = await signedIn(encoding, student);
        const text = `Query check ${randomUUID()}`;
        const sentMessage = await staff.sendMessage({
          body: { text, severity: MessageSeverity.WARNING, audience: { $case: "userId", value: student.id } },
        });
        assert.equal(sentMessage.recipientCount, 1);
        const page = await api.listNotifications({ query: { unread: true, limit: 5 } });
        const mine = page.items.find((item) => item.payload?.$case === "message" && item.payload.value.text === text);
        assert.ok(mine, "the message is listed");
        const listed = sent.at(-1);
        assert.equal(listed?.url.searchParams.get("unread"), "true");
        assert.equal(listed?.url.searchParams.get("limit"), "5");
        assert.deepEqual(await api.markNotificationsRead({ body: { ids: [mine.id], all: false } }), { marked: 1 });

        const group = await staff.createGroup({ body: { name: `Client group ${randomUUID()}` } });
        const fetched = await staff.getGroup({ params: { id: group.id } });
        assert.equal(fetched.name, group.name);
        assert.equal(await staff.deleteGroup({ params: { id: group.id } }), undefined);
        const gone = await apiError(() => staff.getGroup({ params: { id: group.id } }));
        assert.equal(gone.status, 404);
        assert.equal(gone.code, "not_found");
      });

      it("uploads an avatar from a File, and an achievement with its message and a PNG proof", async () => {
        const { api } = await signedIn(encoding, student);
        const png = onePixelPng();
        const user = await api.replaceMyAvatar({ file: new File([png], "me.png", { type: "image/png" }) });
        assert.match(user.avatarUrl, /^\/storage\/avatars\/[A-Za-z0-9_-]+\.png$/);
        const avatar = await fetch(`${server.url}${user.avatarUrl}`);
        assert.deepEqual(Buffer.from(await avatar.arrayBuffer()), png);

        const title = `Olympiad ${encoding}`;
        const achievement = await api.submitAchievement({
          body: { kind: AchievementKind.OLYMPIAD, title, description: "Regional round" },
          file: new Blob([png], { type: "image/png" }),
          fileName: "proof.png",
        });
        assert.equal(achievement.status, AchievementStatus.PENDING);
        assert.equal(achievement.title, title);
        assert.equal(achievement.kind, AchievementKind.OLYMPIAD);

        const proof = await api.downloadAchievementProof({ params: { id: achievement.id } });
        assert.equal(proof.fileName, `achievement-${achievement.id}.png`);
        assert.equal(proof.mediaType, "image/png");
        assert.deepEqual(Buffer.from(await proof.blob.arrayBuffer()), png);
      });

      it("sends a FormData the app built itself as it is", async () => {
        const { api } = await signedIn(encoding, student);
        const form = new FormData();
        form.append("achievement", JSON.stringify({ kind: "ACHIEVEMENT_KIND_OTHER", title: "From a form" }));
        form.append("proof", new Blob([onePixelPng()], { type: "image/png" }), "proof.png");
        const achievement = await api.submitAchievement({ form });
        assert.equal(achievement.title, "From a form");
        assert.equal(achievement.kind, AchievementKind.OTHER);
      });

      it("throws ApiError with the server's code, detail, field violations and request id", async () => {
        const { api, sent } = await signedIn(encoding, student);
        const badQuery = await apiError(() => api.listNotifications({ query: { limit: 0 } }));
        assert.equal(badQuery.status, 400);
        assert.equal(badQuery.code, "invalid_argument");
        assert.equal(badQuery.message, badQuery.detail);
        assert.ok(badQuery.detail.length > 0);
        assert.deepEqual(
          badQuery.fieldViolations.map((violation) => violation.field),
          ["limit"],
        );
        assert.ok(badQuery.requestId);
        assert.ok(sent.at(-1)?.answeredType?.startsWith(mediaOf(encoding)));

        const badBody = await apiError(() =>
          api.submitAchievement({
            body: { kind: AchievementKind.OLYMPIAD, title: "   ", description: "" },
            file: new Blob([onePixelPng()]),
          }),
        );
        assert.equal(badBody.code, "invalid_argument");
        assert.deepEqual(
          badBody.fieldViolations.map((violation) => violation.field),
          ["title"],
        );

        const missing = await apiError(() => api.getAchievement({ params: { id: randomUUID() } }));
        assert.equal(missing.code, "not_found");
        const forbidden = await apiError(() => api.listUsers());
        assert.equal(forbidden.status, 403);
        assert.equal(forbidden.code, "permission_denied");

        const anonymous = clientFor(encoding);
        const unauthenticated = await apiError(() => anonymous.getMe());
        assert.equal(unauthenticated.status, 401);
        assert.equal(unauthenticated.code, "unauthenticated");
        await assert.rejects(() => api.getAchievement({ params: { id: "" } }), TypeError);
      });

      it("renews an expired access token once, for every call that found it expired, and retries them", async () => {
        const { api: source } = await signedIn(encoding, student);
        const current = source.session.current;
        assert.ok(current);
        const sent: Sent[] = [];
        const changes: (Session | undefined)[] = [];
        const api = clientFor(encoding, {
          fetch: recordingFetch(sent),
          session: { accessToken: await expiredTokenOf(current, server), refreshToken: current.refreshToken },
          onSessionChange: (session) => changes.push(session),
        });
        const [me, count, page] = await Promise.all([
          api.getMe(),
          api.countUnreadNotifications(),
          api.listNotifications({ query: { limit: 1 } }),
        ]);
        assert.equal(me.user?.id, student.id);
        assert.equal(typeof count.count, "number");
        assert.ok(page.items.length <= 1);
        const refreshes = sent.filter((request) => request.url.pathname === "/api/v1/auth/refresh");
        assert.equal(refreshes.length, 1);
        assert.equal(refreshes[0]?.headers.get("authorization"), null);
        assert.equal(refreshes[0]?.headers.get("content-type"), mediaOf(encoding));
        assert.equal(changes.length, 1);
        assert.notEqual(api.session.current?.refreshToken, current.refreshToken);
        assert.deepEqual(
          sent.filter((request) => request.status === 401).length,
          3,
          "each call met the expired token once",
        );
      });

      it("ends the session when the server refuses the refresh, and throws that refusal", async () => {
        const { api: source } = await signedIn(encoding, student);
        const current = source.session.current;
        assert.ok(current);
        const changes: (Session | undefined)[] = [];
        const api = clientFor(encoding, {
          session: { accessToken: await expiredTokenOf(current, server), refreshToken: "not-a-refresh-token" },
          onSessionChange: (session) => changes.push(session),
        });
        const refused = await apiError(() => api.getMe());
        assert.equal(refused.status, 401);
        assert.equal(refused.code, "unauthenticated");
        assert.equal(api.session.current, undefined);
        assert.deepEqual(changes, [undefined]);
      });

      it("signs out with the session's own refresh token, which then no longer refreshes", async () => {
        const { api } = await signedIn(encoding, student);
        const ended = api.session.current;
        assert.ok(ended);
        await api.logout();
        assert.equal(api.session.current, undefined);
        const replay = await apiError(() =>
          clientFor(encoding).refreshTokens({ body: { refreshToken: ended.refreshToken } }),
        );
        assert.equal(replay.code, "unauthenticated");
        await assert.rejects(() => api.logout(), /no session to end/);
      });

      it("streams over fetch with a fresh ticket per connection, and resumes after the last event id", async function () {
        this.timeout(20_000);
        const { api: staff } = await signedIn(encoding, teacher);
        const { api, sent } = await signedIn(encoding, student);
        const send = messageToStudent(staff);
        const streams = server.services.notificationHub.streamCount;
        const stream = api.streamNotifications({}, { reconnect: false });
        const iterator = stream[Symbol.asyncIterator]();
        const first = iterator.next();
        // The first event can only be the message sent after the stream opened (nothing is replayed without an id).
        await streamOpened(server, streams);
        const text = `Live ${encoding} ${randomUUID()}`;
        await send(text);
        const received = await first;
        assert.equal(received.done, false);
        const event = received.value;
        assert.equal(textOf(event), text);
        assert.equal(event.id, stream.lastEventId);
        assert.match(event.id ?? "", /^\d+$/);
        stream.close();
        assert.equal((await iterator.next()).done, true);

        const missed = `Missed ${encoding} ${randomUUID()}`;
        await send(missed);
        const resumed = api.streamNotifications({}, { lastEventId: event.id, reconnect: false });
        for await (const next of resumed) {
          assert.equal(textOf(next), missed);
          assert.ok(BigInt(next.id ?? "0") > BigInt(event.id ?? "0"));
          break;
        }
        const tickets = sent.filter((request) => request.url.pathname === "/api/v1/notifications/stream-tickets");
        const connections = sent.filter((request) => request.url.pathname === "/api/v1/notifications/stream");
        assert.equal(tickets.length, 2);
        assert.deepEqual(
          connections.map((request) => [
            request.headers.get("authorization"),
            request.url.searchParams.get("encoding"),
            request.url.searchParams.get("lastEventId"),
          ]),
          [
            [null, encoding === "protobuf" ? "protobuf" : null, null],
            [null, encoding === "protobuf" ? "protobuf" : null, event.id],
          ],
        );
        const [one, two] = connections.map((request) => request.url.searchParams.get("ticket"));
        assert.ok(one && two && one !== two, "each connection had its own ticket");
      });

      it("delivers judging progress as a typed live event without an id, which never moves lastEventId", async () => {
        const { api } = await signedIn(encoding, student);
        const streams = server.services.notificationHub.streamCount;
        const stream = api.streamNotifications({}, { reconnect: false, lastEventId: "0" });
        const iterator = stream[Symbol.asyncIterator]();
        const next = iterator.next();
        await streamOpened(server, streams);
        const submissionId = randomUUID();
        await publishProgress({ sequelize: testDatabase().database.sequelize }, student.id, {
          submissionId,
          stage: "testing",
          test: 3,
          totalTests: 7,
        });
        // lastEventId "0" replays every stored notification first; the progress event follows them.
        let event = await next;
        while (!event.done && event.value.type === Notification.$type) event = await iterator.next();
        assert.ok(!event.done);
        const progress = event.value;
        assert.equal(progress.type, SubmissionProgress.$type);
        assert.equal(progress.id, undefined);
        assert.deepEqual(progress.message, { submissionId, stage: JudgingStage.TESTING, test: 3, totalTests: 7 });
        const before = stream.lastEventId;
        stream.close();
        assert.equal(stream.lastEventId, before);
      });

      it("refuses to stream for a caller without a session, as an ApiError from the iteration", async () => {
        const stream = clientFor(encoding).streamNotifications();
        const refused = await apiError(async () => {
          for await (const event of stream) assert.fail(`no event expected, got ${event.id}`);
        });
        assert.equal(refused.code, "unauthenticated");
      });
    });
  }

  it("reconnects a dropped stream with a fresh ticket, and a notification sent meanwhile arrives once", async function () {
    this.timeout(20_000);
    const { api: staff } = await signedIn("json", teacher);
    const sent: Sent[] = [];
    let drops = 0;
    // Passes the first stream's bytes through until one event went by, then breaks the connection.
    const dropping: typeof fetch = async (input, init) => {
      const response = await recordingFetch(sent)(input, init);
      if (drops > 0 || !response.headers.get("content-type")?.startsWith("text/event-stream") || !response.body) {
        return response;
      }
      drops += 1;
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let seen = "";
      let eventPassed = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (eventPassed) {
            await reader.cancel();
            controller.error(new TypeError("The connection dropped."));
            return;
          }
          const { done, value } = await reader.read();
          if (done) return controller.close();
          seen += new TextDecoder().decode(value);
          eventPassed = /\nid: \d+\n/.test(`\n${seen}`);
          controller.enqueue(value);
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const api = clientFor("json", { fetch: dropping });
    await api.login({ body: { email: student.email, password: student.password } });
    const send = messageToStudent(staff);

    const streams = server.services.notificationHub.streamCount;
    const lastBeforeDrop = await missNothingAcrossDrop(server, api.streamNotifications(), send, streams);
    assertResumed(
      sent.filter((request) => request.url.pathname === "/api/v1/notifications/stream").map((request) => request.url),
      lastBeforeDrop,
    );
  });

  it("reads the stream through an EventSource passed in, the same way: a fresh ticket and lastEventId after a drop", async function () {
    this.timeout(20_000);
    const { api: staff } = await signedIn("protobuf", teacher);
    const opened: URL[] = [];
    const api = clientFor("protobuf", { EventSource: fetchEventSource(opened, { dropFirstAfterOneEvent: true }) });
    await api.login({ body: { email: student.email, password: student.password } });
    const send = messageToStudent(staff);
    const streams = server.services.notificationHub.streamCount;
    // No transport named: with an EventSource at hand, the ticketed stream uses it.
    const lastBeforeDrop = await missNothingAcrossDrop(server, api.streamNotifications(), send, streams);
    assertResumed(opened, lastBeforeDrop);
    assert.deepEqual(
      opened.map((url) => url.searchParams.get("encoding")),
      ["protobuf", "protobuf"],
    );
  });

  it("parses Server-Sent Events as the standard says, by event type, and throws on data it cannot read", async () => {
    const chunks = [
      ": connected\r\nretry: 10\r\n\r\nid: 7\r",
      '\ndata: {"id":"a",\r\ndata: "type":"NOTIFICATION_TYPE_MESSAGE"}\r\n',
      '\r\nevent: shtp.v1.FromANewerServer\nid: 9\ndata: {"x":1}\n\n',
      'event: shtp.v1.SubmissionProgress\ndata: {"submissionId":"s","stage":"JUDGING_STAGE_COMPILING"}\n\n',
      "event: shtp.v1.Notification\nid: 8\ndata: not json\n\n",
    ];
    let connections = 0;
    const api = createApi({
      baseUrl: server.url,
      fetch: async (input) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        if (url.endsWith("/stream-tickets")) {
          return Response.json({ ticket: "a-ticket", expiresIn: 60 }, { status: 201 });
        }
        connections += 1;
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
            controller.close();
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      },
    });
    const stream = api.streamNotifications();
    const received: string[] = [];
    await assert.rejects(async () => {
      for await (const event of stream) {
        received.push(
          event.type === Notification.$type
            ? `${event.id}:${event.message.id}:${event.message.type}`
            : `live:${event.message.submissionId}:${event.message.stage}`,
        );
      }
    }, SyntaxError);
    assert.deepEqual(received, [`7:a:${NotificationType.MESSAGE}`, `live:s:${JudgingStage.COMPILING}`]);
    assert.equal(stream.lastEventId, "7");
    assert.equal(connections, 1);
  });

  describe("the OAuth 2.0 token endpoint (issueToken)", () => {
    /**
     * Asserts that `work` fails with an OAuth2TokenError and returns it.
     * @param work - the call
     */
    async function tokenError(work: () => Promise<unknown>): Promise<OAuth2TokenError> {
      const error = await apiError(work);
      assert.ok(error instanceof OAuth2TokenError, `expected an OAuth2TokenError, got ${error.name}`);
      return error;
    }

    it("signs in with the password grant, form-encoded, and keeps the tokens as the session", async () => {
      const sent: Sent[] = [];
      const changes: (Session | undefined)[] = [];
      const api = clientFor("protobuf", { fetch: recordingFetch(sent), onSessionChange: (s) => changes.push(s) });
      const token = await api.issueToken({
        body: { grant_type: "password", username: student.email, password: student.password },
      });
      assert.equal(token.token_type, "Bearer");
      assert.equal(token.expires_in, server.config.auth.accessTokenTtlSeconds);
      assert.equal(decodeJwt(token.access_token).sub, student.id);
      assert.deepEqual(api.session.current, { accessToken: token.access_token, refreshToken: token.refresh_token });
      assert.deepEqual(changes, [api.session.current]);
      const [request] = sent;
      assert.equal(request?.method, "POST");
      assert.equal(request?.headers.get("content-type"), "application/x-www-form-urlencoded");
      assert.equal(request?.headers.get("accept"), "application/json");
      assert.equal(request?.headers.get("authorization"), null);
      assert.ok(request?.answeredType?.startsWith("application/json"));
      // The session it started serves every other call, in the client's encoding.
      assert.equal((await api.getMe()).user?.id, student.id);
    });

    it("rotates with the refresh_token grant; a replayed refresh token is a typed invalid_grant", async () => {
      const api = clientFor("json");
      const first = await api.issueToken({
        body: { grant_type: "password", username: student.email, password: student.password },
      });
      const second = await api.issueToken({
        body: { grant_type: "refresh_token", refresh_token: first.refresh_token },
      });
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal(api.session.current?.refreshToken, second.refresh_token);

      const replay = await tokenError(() =>
        api.issueToken({ body: { grant_type: "refresh_token", refresh_token: first.refresh_token } }),
      );
      assert.equal(replay.status, 400);
      assert.equal(replay.error, "invalid_grant");
      assert.equal(replay.code, "unauthenticated");
      assert.ok(replay.detail.length > 0);
      assert.ok(replay.requestId, "X-Request-Id");
      // Reuse detection ended the session: its newest refresh token is refused too.
      const ended = await tokenError(() =>
        api.issueToken({ body: { grant_type: "refresh_token", refresh_token: second.refresh_token } }),
      );
      assert.equal(ended.error, "invalid_grant");
    });

    it("throws invalid_grant for a wrong password, invalid_request for a missing username, rate_limited when throttled", async () => {
      const account = await accountWithPassword("student");
      const api = clientFor("json");
      const wrong = () =>
        api.issueToken({ body: { grant_type: "password", username: account.email, password: "not-the-password" } });
      const refused = await tokenError(wrong);
      assert.deepEqual([refused.status, refused.error, refused.code], [400, "invalid_grant", "unauthenticated"]);
      assert.equal(api.session.current, undefined);

      const missing = await tokenError(() =>
        api.issueToken({ body: { grant_type: "password", username: "", password: "x" } }),
      );
      assert.deepEqual([missing.status, missing.error, missing.code], [400, "invalid_request", "invalid_argument"]);
      assert.match(missing.detail, /username/);

      let throttled: OAuth2TokenError | undefined;
      for (
        let attempt = 0;
        attempt < server.config.loginThrottle.maxFailuresPerAccount + 1 && !throttled;
        attempt += 1
      ) {
        const error = await tokenError(wrong);
        if (error.status === 429) throttled = error;
      }
      assert.ok(throttled, "the sign-in was throttled");
      assert.deepEqual([throttled.error, throttled.code], ["invalid_grant", "rate_limited"]);
    });

    it("turns an answer that is no RFC 6749 error (a proxy's page) into a plain ApiError", async () => {
      const api = createApi({
        baseUrl: server.url,
        fetch: async () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }),
      });
      const error = await apiError(() =>
        api.issueToken({ body: { grant_type: "refresh_token", refresh_token: "anything" } }),
      );
      assert.ok(!(error instanceof OAuth2TokenError));
      assert.deepEqual([error.status, error.code], [502, "unavailable"]);
    });
  });

  it("backs off when connections keep ending at once: the server's delay, then doubling", async () => {
    const connectedAt: number[] = [];
    const api = createApi({
      baseUrl: server.url,
      fetch: async (input) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        if (url.includes("/stream-tickets")) return Response.json({ ticket: "t", expiresIn: 60 }, { status: 201 });
        connectedAt.push(performance.now());
        // Accepted, then ended at once, as a server closing the stream for a newer one does.
        return new Response("retry: 20\n: closed for a newer stream\n\n", {
          headers: { "content-type": "text/event-stream" },
        });
      },
    });
    const stream = api.streamNotifications({}, { transport: "fetch" });
    const reading = (async () => {
      for await (const event of stream) assert.fail(`no event expected, got ${event.type}`);
    })();
    await waitFor(() => connectedAt.length >= 5, 10_000);
    stream.close();
    await reading;
    const gaps = connectedAt.slice(1, 5).map((at, index) => at - (connectedAt[index] ?? at));
    [20, 40, 80, 160].forEach((least, index) =>
      assert.ok((gaps[index] ?? 0) >= least - 2, `gap ${index + 1}: ${gaps.map(Math.round).join(", ")} ms`),
    );
  });

  it("refuses an EventSource transport where there is none, at once rather than by retrying", () => {
    assert.throws(
      () => clientFor("json").streamNotifications({}, { transport: "eventsource" }),
      (error: unknown) => error instanceof TypeError && /no EventSource here/.test(error.message),
    );
  });

  it("lets one call choose the other encoding than the client's", async () => {
    const { api, sent } = await signedIn("json", student);
    const me = await api.getMe({}, { encoding: "protobuf" });
    assert.equal(me.user?.id, student.id);
    assert.equal(sent.at(-1)?.headers.get("accept"), "application/protobuf");
    assert.equal(sent.at(-1)?.answeredType, "application/protobuf");
  });

  it("turns an answer without a shtp.v1.Error (a proxy's page) into an ApiError by its status", async () => {
    const api = createApi({
      baseUrl: server.url,
      fetch: async () =>
        new Response("<html>Bad gateway</html>", {
          status: 502,
          statusText: "Bad Gateway",
          headers: { "content-type": "text/html", "x-request-id": "proxy-request-1" },
        }),
    });
    const error = await apiError(() => api.getVersion());
    assert.equal(error.status, 502);
    assert.equal(error.code, "unavailable");
    assert.equal(error.detail, "The server answered 502 Bad Gateway.");
    assert.equal(error.requestId, "proxy-request-1");
  });

  it("types the client: every route is an operation of the generated object", async () => {
    const api: ShtpApi = clientFor("json");
    for (const route of routes) assert.equal(typeof api[route.name as keyof ShtpApi], "function", route.name);
  });
});
