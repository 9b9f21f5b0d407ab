import assert from "node:assert/strict";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { countStatements, decodeAs, encodings, PROTOBUF_TYPE } from "../testing/api.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS } from "./cors.js";

const APP_ORIGIN = "http://localhost:5173";
const SECOND_ORIGIN = "https://app.school.example";
const OTHER_ORIGIN = "http://evil.example";

const mediaOf = (encoding: (typeof encodings)[number]) => (encoding === "json" ? "application/json" : PROTOBUF_TYPE);

/** Every `access-control-*` header of a response, by lowercase name. */
const corsHeadersOf = (response: RawResponse) =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith("access-control-")));

/** The comma-separated values of a header, lowercased. */
const listOf = (value: string | string[] | undefined) =>
  String(value ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);

function assertActualRequestHeaders(response: RawResponse, origin: string): void {
  assert.equal(response.headers["access-control-allow-origin"], origin);
  assert.deepEqual(
    listOf(response.headers["access-control-expose-headers"]),
    CORS_EXPOSED_HEADERS.map((name) => name.toLowerCase()),
  );
  assert.ok(listOf(response.headers.vary).includes("origin"), String(response.headers.vary));
  assert.equal(response.headers["access-control-allow-credentials"], undefined);
}

const preflight = (server: TestServer, path: string, origin: string, method = "POST") =>
  rawRequest(`${server.url}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "authorization,content-type,x-request-id",
    },
  });

describe("CORS (src/http/cors.ts)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CORS_ORIGINS: `${APP_ORIGIN}, ${SECOND_ORIGIN}` } });
  });
  after(() => server.close());

  for (const encoding of encodings) {
    it(`answers an allowed origin with its origin and the exposed headers (${encoding})`, async () => {
      for (const origin of [APP_ORIGIN, SECOND_ORIGIN]) {
        const response = await rawRequest(`${server.url}/api/v1/version`, {
          headers: { origin, accept: mediaOf(encoding) },
        });
        assert.equal(response.status, 200);
        assertActualRequestHeaders(response, origin);
        assert.ok(decodeAs(VersionInfo, response).version);
      }
    });

    it(`carries the CORS headers on error answers, in the error's encoding (${encoding})`, async () => {
      const cases: { method: string; path: string; headers?: Record<string, string>; body?: string; status: number }[] =
        [
          { method: "GET", path: "/api/v1/auth/me", status: 401 },
          { method: "GET", path: "/api/v1/auth/me", headers: { authorization: "Bearer not-a-token" }, status: 401 },
          { method: "GET", path: "/api/v1/no-such-endpoint", status: 404 },
          { method: "DELETE", path: "/api/v1/version", status: 405 },
          { method: "GET", path: "/api/v1/notifications?limit=0", status: 401 },
          {
            method: "POST",
            path: "/api/v1/auth/login",
            headers: { "content-type": "text/plain" },
            body: "hello",
            status: 415,
          },
        ];
      for (const request of cases) {
        const response = await rawRequest(`${server.url}${request.path}`, {
          method: request.method,
          headers: { origin: APP_ORIGIN, accept: mediaOf(encoding), ...request.headers },
          body: request.body,
        });
        assert.equal(response.status, request.status, `${request.method} ${request.path}`);
        assertActualRequestHeaders(response, APP_ORIGIN);
        const error = decodeAs(ErrorMessage, response);
        assert.ok(error.detail, `${request.method} ${request.path} has a detail`);
        assert.equal(error.requestId, response.headers["x-request-id"]);
      }
    });

    it(`keeps the CORS headers on a signed-in caller's 400 (${encoding})`, async () => {
      const token = await tokenFor(await buildUser(), server.config);
      const response = await rawRequest(`${server.url}/api/v1/notifications?limit=0`, {
        headers: { origin: APP_ORIGIN, accept: mediaOf(encoding), authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 400);
      assertActualRequestHeaders(response, APP_ORIGIN);
      assert.deepEqual(
        decodeAs(ErrorMessage, response).fieldViolations.map((violation) => violation.field),
        ["limit"],
      );
    });

    it(`gives another origin, or a request without Origin, no CORS header at all (${encoding})`, async () => {
      for (const headers of [{ origin: OTHER_ORIGIN }, { origin: "null" }, {}] as Record<string, string>[]) {
        const ok = await rawRequest(`${server.url}/api/v1/version`, {
          headers: { ...headers, accept: mediaOf(encoding) },
        });
        assert.equal(ok.status, 200);
        assert.deepEqual(corsHeadersOf(ok), {});
        const failed = await rawRequest(`${server.url}/api/v1/auth/me`, {
          headers: { ...headers, accept: mediaOf(encoding) },
        });
        assert.equal(failed.status, 401);
        assert.deepEqual(corsHeadersOf(failed), {});
      }
    });
  }

  it("answers an allowed preflight itself: 204, methods, headers, max age, and no authentication or SQL", async () => {
    const { result: response, statements } = await countStatements(() =>
      preflight(server, "/api/v1/auth/me", APP_ORIGIN, "GET"),
    );
    assert.equal(response.status, 204);
    assert.equal(statements, 0);
    assert.equal(response.body.length, 0);
    assert.equal(response.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.deepEqual(listOf(response.headers["access-control-allow-methods"]), [
      ...CORS_ALLOWED_METHODS.map((method) => method.toLowerCase()),
    ]);
    assert.deepEqual(
      listOf(response.headers["access-control-allow-headers"]),
      CORS_ALLOWED_HEADERS.map((name) => name.toLowerCase()),
    );
    assert.equal(response.headers["access-control-max-age"], String(CORS_MAX_AGE_SECONDS));
    assert.equal(response.headers["access-control-allow-credentials"], undefined);
    assert.ok(response.headers["x-request-id"]);
  });

  it("answers preflights of every kind of route (uploads, protected, unknown paths) the same way", async () => {
    for (const [path, method] of [
      ["/api/v1/users/me/avatar", "PUT"],
      ["/api/v1/achievements", "POST"],
      ["/api/v1/notifications/stream", "GET"],
      ["/api/v1/events/00000000-0000-4000-8000-000000000000", "PATCH"],
      ["/api/v1/nowhere", "DELETE"],
    ] as const) {
      const response = await preflight(server, path, SECOND_ORIGIN, method);
      assert.equal(response.status, 204, path);
      assert.equal(response.headers["access-control-allow-origin"], SECOND_ORIGIN, path);
    }
  });

  it("gives a preflight from another origin no CORS header, so the browser stops there", async () => {
    const response = await preflight(server, "/api/v1/auth/login", OTHER_ORIGIN);
    assert.notEqual(response.status, 500);
    assert.deepEqual(corsHeadersOf(response), {});
  });

  it("treats an OPTIONS without Access-Control-Request-Method as no preflight", async () => {
    const response = await rawRequest(`${server.url}/api/v1/version`, {
      method: "OPTIONS",
      headers: { origin: APP_ORIGIN },
    });
    // The router answers it (Allow), as any OPTIONS; nothing of a preflight answer is added.
    assert.equal(response.status, 200);
    assert.ok(listOf(response.headers.allow).includes("get"), String(response.headers.allow));
    assert.equal(response.headers["access-control-allow-methods"], undefined);
    assert.equal(response.headers["access-control-max-age"], undefined);
  });
});

describe("CORS configured for any origin, or with credentials", () => {
  it("answers `*` to every origin when CORS_ORIGINS=*", async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: "*" } });
    try {
      const response = await rawRequest(`${server.url}/api/v1/auth/me`, { headers: { origin: OTHER_ORIGIN } });
      assert.equal(response.status, 401);
      assertActualRequestHeaders(response, "*");
      const check = await preflight(server, "/api/v1/auth/me", OTHER_ORIGIN, "GET");
      assert.equal(check.status, 204);
      assert.equal(check.headers["access-control-allow-origin"], "*");
    } finally {
      await server.close();
    }
  });

  it("adds Access-Control-Allow-Credentials for listed origins when CORS_ALLOW_CREDENTIALS=true", async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: APP_ORIGIN, CORS_ALLOW_CREDENTIALS: "true" } });
    try {
      const response = await rawRequest(`${server.url}/api/v1/version`, { headers: { origin: APP_ORIGIN } });
      assert.equal(response.headers["access-control-allow-origin"], APP_ORIGIN);
      assert.equal(response.headers["access-control-allow-credentials"], "true");
      const check = await preflight(server, "/api/v1/auth/me", APP_ORIGIN, "GET");
      assert.equal(check.headers["access-control-allow-credentials"], "true");
      const other = await rawRequest(`${server.url}/api/v1/version`, { headers: { origin: OTHER_ORIGIN } });
      assert.deepEqual(corsHeadersOf(other), {});
    } finally {
      await server.close();
    }
  });

  it("sends no CORS header by default (CORS_ORIGINS empty)", async () => {
    const server = await startTestServer();
    try {
      const response = await preflight(server, "/api/v1/auth/login", APP_ORIGIN);
      assert.deepEqual(corsHeadersOf(response), {});
      const actual = await rawRequest(`${server.url}/api/v1/version`, { headers: { origin: APP_ORIGIN } });
      assert.deepEqual(corsHeadersOf(actual), {});
    } finally {
      await server.close();
    }
  });
});
