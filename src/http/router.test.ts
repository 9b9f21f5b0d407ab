import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { Error as ErrorMessage, FieldViolation } from "../../generated/shtp/v1/error.js";
import { issueAccessToken } from "../auth/tokens.js";
import { createSequelize } from "../db/sequelize.js";
import { AppError, type ErrorCode } from "../errors/index.js";
import { streamTicketCredential } from "../modules/auth/routes.js";
import { createLogger } from "../logging/logger.js";
import { createServices } from "../services.js";
import { echoRoute } from "../testing/fixture-routes.js";
import { encodingClients, expectError, expectMessage, expectNoContent, message, type Api } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { rawRequest } from "../testing/http.js";
import { startTestServer, testConfig, type TestServer } from "../testing/server.js";
import type { AppMiddleware } from "./context.js";
import { apiDispatcher, buildApiRouter } from "./router.js";
import { defineRoute, type Route } from "./route.js";

/**
 * The chain every route runs through (src/http/router.ts), on routes of the test's own: what the
 * declaration says is enforced before the handler runs, and what goes wrong after it is answered safely.
 */

const brokenRoute = defineRoute({
  name: "testBroken",
  method: "get",
  path: "/test/broken",
  summary: "Fails with an error of no known kind.",
  access: "public",
  response: FieldViolation,
  handler: async () => {
    throw new Error("secret internals: password=hunter2");
  },
});

const awayRoute = defineRoute({
  name: "testAway",
  method: "get",
  path: "/test/away",
  summary: "Fails with an error of ours that is the server's fault and has no cause below it.",
  access: "public",
  response: FieldViolation,
  handler: async () => {
    throw new AppError("unavailable", "The judge is away; try again shortly.", { headers: { "Retry-After": "7" } });
  },
});

const whoRoute = defineRoute({
  name: "testWho",
  method: "get",
  path: "/test/who/:id",
  summary: "Names its caller, if any, on a public route.",
  access: "public",
  params: z.strictObject({ id: z.uuid() }),
  query: z.strictObject({ verbose: z.enum(["yes", "no"]).optional() }),
  response: FieldViolation,
  handler: async ({ actor, params }) => ({ field: params.id, description: actor?.role ?? "nobody" }),
});

const forgetRoute = defineRoute({
  name: "testForget",
  method: "delete",
  path: "/test/forget",
  summary: "Answers no content.",
  access: "public",
  transactional: false,
  handler: async () => undefined,
});

const smallBodyRoute = defineRoute({
  ...echoRoute,
  name: "testSmallEcho",
  path: "/test/small-echo",
  summary: "The echo with a body limit of its own.",
  maxBodyBytes: 64,
});

describe("the route chain (src/http/router.ts)", () => {
  describe("when the router is built", () => {
    const services = () =>
      createServices({
        config: testConfig(),
        logger: createLogger("silent"),
        sequelize: testDatabase().database.sequelize,
      });

    it("refuses a route declared twice, by method and path or by name", () => {
      assert.throws(
        () => buildApiRouter([echoRoute, { ...echoRoute, name: "testEchoAgain" }], services()),
        /Route declared twice: post \/test\/echo \(testEchoAgain\)/,
      );
      assert.throws(
        () => buildApiRouter([echoRoute, { ...echoRoute, path: "/test/echo-again" }], services()),
        /Route declared twice: post \/test\/echo-again \(testEcho\)/,
      );
    });

    it("refuses to index a router layer with more than the one middleware every API route has", () => {
      const router = buildApiRouter([echoRoute], services());
      const passOn: AppMiddleware = (_ctx, next) => next();
      router.register("/test/chained", ["get"], [passOn, passOn]);
      assert.throws(() => apiDispatcher(router), /\/api\/v1\/test\/chained: an API route has one middleware/);
    });

    it("refuses a query credential on a public route", () => {
      const route: Route = { ...whoRoute, queryCredential: streamTicketCredential };
      assert.throws(() => buildApiRouter([route], services()), /testWho: a query credential is for protected routes/);
    });
  });

  describe("over real HTTP", () => {
    let server: TestServer;
    const lines: string[] = [];
    before(async () => {
      server = await startTestServer({
        routes: [echoRoute, brokenRoute, awayRoute, whoRoute, forgetRoute, smallBodyRoute],
        logger: createLogger("error", { write: (line: string) => void lines.push(line) }),
      });
    });
    after(() => server.close());
    const { bothEncodings } = encodingClients(() => server);
    /** What was logged: each line's message, request id, and the type and message of its error. */
    const logged = () =>
      lines
        .map(
          (line) => JSON.parse(line) as { msg: string; requestId?: string; err?: { type?: string; message?: string } },
        )
        .map((entry) => [entry.msg, entry.requestId, entry.err?.type, entry.err?.message]);
    /** GETs a route that fails, with the log emptied first, and checks the status and code answered. */
    const failure = async (api: Api, path: string, status: number, code: ErrorCode) => {
      lines.length = 0;
      const response = await api.call("GET", path);
      return { response, error: expectError(api, response, status, code) };
    };

    bothEncodings(
      "hides an unexpected failure behind 500 internal, and logs it once with its request id",
      async (api) => {
        const { response, error } = await failure(api, "/test/broken", 500, "internal");
        assert.doesNotMatch(error.detail, /secret|hunter2/);
        assert.equal(response.body.includes("hunter2"), false);
        assert.deepEqual(logged(), [
          ["request failed", error.requestId, "Error", "secret internals: password=hunter2"],
        ]);
      },
    );

    bothEncodings(
      "answers a server-side error of ours as it is, with its headers, and logs it as its own cause",
      async (api) => {
        const { response, error } = await failure(api, "/test/away", 503, "unavailable");
        assert.equal(error.detail, "The judge is away; try again shortly.");
        assert.equal(response.headers["retry-after"], "7");
        assert.deepEqual(logged(), [
          ["request failed", error.requestId, "AppError", "The judge is away; try again shortly."],
        ]);
      },
    );

    bothEncodings("refuses bad path and query parameters with 400 naming each", async (api) => {
      expectError(api, await api.call("GET", "/test/who/not-a-uuid"), 400, "invalid_argument", "id");
      const id = "5d0b3f5c-8a53-4b0e-9a43-4c1f1e8e0d7a";
      expectError(api, await api.call("GET", `/test/who/${id}?verbose=maybe`), 400, "invalid_argument", "verbose");
      expectError(api, await api.call("GET", `/test/who/${id}?other=1`), 400, "invalid_argument", "other");
    });

    bothEncodings("names a caller whose token holds on a public route, and nobody without one", async (api) => {
      const id = "5d0b3f5c-8a53-4b0e-9a43-4c1f1e8e0d7a";
      const anonymous = expectMessage(api, await api.call("GET", `/test/who/${id}`), FieldViolation);
      assert.deepEqual(anonymous, { field: id, description: "nobody" });
      const teacher = await buildUser({ role: "teacher" });
      const token = await tokenFor(teacher, server.config);
      const known = expectMessage(api, await api.call("GET", `/test/who/${id}`, { token }), FieldViolation);
      assert.deepEqual(known, { field: id, description: "teacher" });
    });

    it("answers a route without a response message 204, with no body and not cached", async () => {
      const response = await rawRequest(`${server.url}/api/v1/test/forget`, { method: "DELETE" });
      expectNoContent(response);
      assert.equal(response.headers["cache-control"], "no-store");
      assert.equal(response.headers["content-type"], undefined);
    });

    bothEncodings("holds a route to its own body limit, declared or streamed", async (api) => {
      const small = { code: "x", detail: "", fieldViolations: [], requestId: "" };
      expectMessage(
        api,
        await api.call("POST", "/test/small-echo", { body: message(ErrorMessage, small) }),
        ErrorMessage,
      );
      const large = message(ErrorMessage, { ...small, detail: "d".repeat(100) });
      // Declared up front (refused unread) and streamed in chunks (refused as it arrives).
      const declared = { "content-length": String(Buffer.byteLength(large.bytes(api.encoding))) };
      const refusedUnread = await api.call("POST", "/test/small-echo", { body: large, headers: declared });
      expectError(api, refusedUnread, 413, "payload_too_large");
      expectError(api, await api.call("POST", "/test/small-echo", { body: large }), 413, "payload_too_large");
      // The same body within the server's own limit passes where the route does not set one.
      const echoed = expectMessage(api, await api.call("POST", "/test/echo", { body: large }), ErrorMessage);
      assert.equal(echoed.detail.length, 100);
    });
  });

  describe("over a database that cannot be reached", () => {
    let server: TestServer;
    // Port 1 on loopback: nothing listens there, so every connection is refused at once.
    const unreachable = createSequelize("postgres://nobody:nothing@127.0.0.1:1/none", {
      ...testConfig().database,
      poolMax: 1,
    });
    before(async () => {
      server = await startTestServer({ routes: [whoRoute], sequelize: unreachable });
    });
    after(async () => {
      await server.close();
      await unreachable.close();
    });
    const { bothEncodings } = encodingClients(() => server);

    bothEncodings(
      "answers a public route 503 when a well-signed token cannot be checked, rather than serve it anonymously",
      async (api) => {
        const id = randomUUID();
        const token = await issueAccessToken({ userId: randomUUID(), sessionId: randomUUID() }, server.config.auth);
        expectError(api, await api.call("GET", `/test/who/${id}`, { token }), 503, "unavailable");
        // A token that does not hold needs no database to be ignored.
        const anonymous = expectMessage(
          api,
          await api.call("GET", `/test/who/${id}`, { token: "garbage" }),
          FieldViolation,
        );
        assert.deepEqual(anonymous, { field: id, description: "nobody" });
      },
    );
  });
});
