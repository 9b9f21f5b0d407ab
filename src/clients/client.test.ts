import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import {
  ApiError,
  createApi,
  type ClientOptions,
  type Encoding,
  type Session,
  type ShtpApi,
} from "../../generated/client/api.js";
import { AchievementKind, AchievementStatus } from "../../generated/shtp/v1/achievements.js";
import { MessageSeverity, NotificationType } from "../../generated/shtp/v1/notifications.js";
import { issueAccessToken } from "../auth/tokens.js";
import { encodings } from "../testing/api.js";
import { onePixelPng } from "../testing/files.js";
import { startTestServer, type TestServer } from "../testing/server.js";
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

      it("streams notifications over fetch with the bearer token, and resumes after the last event id", async function () {
        this.timeout(20_000);
        const { api: staff } = await signedIn(encoding, teacher);
        const { api } = await signedIn(encoding, student);
        const send = (text: string) =>
          staff.sendMessage({
            body: { text, severity: MessageSeverity.INFO, audience: { $case: "userId", value: student.id } },
          });
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
        assert.ok(event.message.payload?.$case === "message");
        assert.equal(event.message.payload.value.text, text);
        assert.equal(event.id, stream.lastEventId);
        assert.match(event.id, /^\d+$/);
        stream.close();
        assert.equal((await iterator.next()).done, true);

        const missed = `Missed ${encoding} ${randomUUID()}`;
        await send(missed);
        const resumed = api.streamNotifications({}, { lastEventId: event.id, reconnect: false });
        for await (const next of resumed) {
          assert.ok(next.message.payload?.$case === "message");
          assert.equal(next.message.payload.value.text, missed);
          assert.ok(BigInt(next.id) > BigInt(event.id));
          break;
        }
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

  it("reconnects a dropped stream after the server's retry delay, resuming with Last-Event-ID", async function () {
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
    const send = (text: string) =>
      staff.sendMessage({
        body: { text, severity: MessageSeverity.INFO, audience: { $case: "userId", value: student.id } },
      });

    const streams = server.services.notificationHub.streamCount;
    const stream = api.streamNotifications();
    const iterator = stream[Symbol.asyncIterator]();
    const first = iterator.next();
    await streamOpened(server, streams);
    await send("before the drop");
    const before = await first;
    assert.ok(!before.done && before.value.message.payload?.$case === "message");
    await send("during the drop");
    const after = await iterator.next();
    assert.ok(!after.done && after.value.message.payload?.$case === "message");
    assert.equal(after.value.message.payload.value.text, "during the drop");
    stream.close();
    const connections = sent.filter((request) => request.url.pathname === "/api/v1/notifications/stream");
    assert.equal(connections.length, 2);
    assert.equal(connections[0]?.headers.get("last-event-id"), null);
    assert.equal(connections[1]?.headers.get("last-event-id"), before.value.id);
  });

  it("parses Server-Sent Events as the standard says, and throws on data it cannot read instead of reconnecting", async () => {
    const chunks = [
      ": connected\r\nretry: 10\r\n\r\nid: 7\r",
      '\ndata: {"id":"a",\r\ndata: "type":"NOTIFICATION_TYPE_MESSAGE"}\r\n',
      "\r\nid: 8\ndata: not json\n\n",
    ];
    let connections = 0;
    const api = createApi({
      baseUrl: server.url,
      fetch: async () => {
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
      for await (const event of stream) received.push(`${event.id}:${event.message.id}:${event.message.type}`);
    }, SyntaxError);
    assert.deepEqual(received, [`7:a:${NotificationType.MESSAGE}`]);
    assert.equal(stream.lastEventId, "7");
    assert.equal(connections, 1);
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
    const { routes } = await import("../modules/index.js");
    const api: ShtpApi = clientFor("json");
    for (const route of routes) assert.equal(typeof api[route.name as keyof ShtpApi], "function", route.name);
  });
});
