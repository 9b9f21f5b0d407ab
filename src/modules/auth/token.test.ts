import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { LoginRequest, Me, RefreshRequest, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { OAuth2TokenResponseSchema, type OAuth2ErrorCode, type OAuth2TokenResponse } from "../../http/oauth2.js";
import { createLogger } from "../../logging/logger.js";
import {
  apiFor,
  describeResponse,
  encodings,
  expectError,
  expectMessage,
  message,
  type Encoding,
} from "../../testing/api.js";
import { buildAccount, uniqueClientAddress } from "../../testing/factories.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json; charset=utf-8";
const PROTOBUF_TYPE = "application/protobuf";

/** What a client asks the token endpoint for: JSON or protobuf. The endpoint answers JSON to both. */
const acceptOf = (encoding: Encoding) => (encoding === "json" ? "application/json" : PROTOBUF_TYPE);

/** Declares one test per Accept the client sends. */
function bothAccepts(title: string, test: (encoding: Encoding) => Promise<void>): void {
  for (const encoding of encodings) it(`${title} (Accept: ${acceptOf(encoding)})`, () => test(encoding));
}

/**
 * POSTs a token request: a form given as parameters (encoded here) or as raw text.
 * @param options.contentType - the body's Content-Type (the form's by default)
 */
function tokenRequest(
  server: TestServer,
  encoding: Encoding,
  form: Record<string, string> | string,
  options: { headers?: Record<string, string>; contentType?: string } = {},
): Promise<RawResponse> {
  return rawRequest(`${server.url}/api/v1/auth/token`, {
    method: "POST",
    headers: { accept: acceptOf(encoding), "content-type": options.contentType ?? FORM, ...options.headers },
    body: typeof form === "string" ? form : new URLSearchParams(form).toString(),
  });
}

/** Asserts RFC 6749 §5.1: 200, JSON whatever was asked for, never cached, exactly the four members. */
function expectTokens(response: RawResponse): OAuth2TokenResponse {
  assert.equal(response.status, 200, describeResponse(response));
  assert.equal(response.headers["content-type"], JSON_TYPE);
  assert.equal(response.headers["cache-control"], "no-store");
  assert.equal(response.headers.pragma, "no-cache");
  const body = JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "refresh_token", "token_type"]);
  const tokens = OAuth2TokenResponseSchema.parse(body);
  assert.equal(tokens.token_type, "Bearer");
  assert.equal(tokens.expires_in, 900);
  assert.match(tokens.refresh_token, /^[A-Za-z0-9_-]{43}$/);
  return tokens;
}

/**
 * Asserts RFC 6749 §5.2: the status, JSON whatever was asked for, never cached, `error` and an
 * `error_description` in the characters the RFC allows.
 * @returns the description
 */
function expectOAuthError(response: RawResponse, status: number, error: OAuth2ErrorCode): string {
  assert.equal(response.status, status, describeResponse(response));
  assert.equal(response.headers["content-type"], JSON_TYPE);
  assert.equal(response.headers["cache-control"], "no-store");
  assert.equal(response.headers.pragma, "no-cache");
  assert.ok(response.headers["x-request-id"], "every response carries X-Request-Id");
  const body = JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ["error", "error_description"], describeResponse(response));
  assert.equal(body.error, error, describeResponse(response));
  const description = String(body.error_description);
  assert.match(description, /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, "RFC 6749 §5.2's characters only");
  return description;
}

describe("POST /auth/token, the OAuth 2.0 token endpoint (RFC 6749), over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const me = (encoding: Encoding, accessToken: string) =>
    apiFor(() => server.url, encoding).call("GET", "/auth/me", { token: accessToken });
  const passwordGrant = (account: { email: string; password: string }) => ({
    grant_type: "password",
    username: account.email,
    password: account.password,
  });

  describe("grant_type=password", () => {
    bothAccepts("answers the standard JSON tokens; the access token works on an authorized call", async (encoding) => {
      const account = await buildAccount();
      const tokens = expectTokens(await tokenRequest(server, encoding, passwordGrant(account)));
      assert.equal(decodeJwt(tokens.access_token).sub, account.id);
      const api = apiFor(() => server.url, encoding);
      const caller = expectMessage(api, await me(encoding, tokens.access_token), Me);
      assert.equal(caller.user?.id, account.id);
    });

    bothAccepts("takes the email as username in any case and with spaces, like /auth/login", async (encoding) => {
      const account = await buildAccount();
      const username = `  ${account.email.toUpperCase()} `;
      const tokens = expectTokens(await tokenRequest(server, encoding, { ...passwordGrant(account), username }));
      assert.equal(decodeJwt(tokens.access_token).sub, account.id);
    });

    bothAccepts("answers the same 400 invalid_grant to a wrong password and an unknown email", async (encoding) => {
      const account = await buildAccount();
      const wrongPassword = expectOAuthError(
        await tokenRequest(server, encoding, { ...passwordGrant(account), password: `${account.password}x` }),
        400,
        "invalid_grant",
      );
      const unknownEmail = expectOAuthError(
        await tokenRequest(server, encoding, { ...passwordGrant(account), username: `nobody-${randomUUID()}@x.test` }),
        400,
        "invalid_grant",
      );
      assert.equal(wrongPassword, unknownEmail);
    });

    bothAccepts(
      "does what Swagger UI's Authorize sends: Basic client header, empty scope, XHR headers",
      async (encoding) => {
        const account = await buildAccount();
        // swagger-ui 5's authorizePassword with no client id: scope "" and Basic base64(":").
        const form = `grant_type=password&scope=&username=${encodeURIComponent(account.email)}&password=${encodeURIComponent(account.password)}`;
        const response = await tokenRequest(server, encoding, form, {
          headers: {
            accept: "application/json, text/plain, */*",
            authorization: `Basic ${Buffer.from(":").toString("base64")}`,
            "x-requested-with": "XMLHttpRequest",
          },
        });
        const tokens = expectTokens(response);
        // Swagger UI then sends the access token as a bearer token.
        expectMessage(
          apiFor(() => server.url, encoding),
          await me(encoding, tokens.access_token),
          Me,
        );
      },
    );

    bothAccepts("ignores parameters it does not know (client_id), as RFC 6749 §3.2 asks", async (encoding) => {
      const account = await buildAccount();
      expectTokens(await tokenRequest(server, encoding, { ...passwordGrant(account), client_id: "web-app" }));
    });
  });

  describe("grant_type=refresh_token", () => {
    bothAccepts("rotates: a new pair for a refresh token, and the old one is good no more", async (encoding) => {
      const account = await buildAccount();
      const first = expectTokens(await tokenRequest(server, encoding, passwordGrant(account)));
      const second = expectTokens(
        await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: first.refresh_token }),
      );
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal(decodeJwt(second.access_token).sub, account.id);
      assert.equal(decodeJwt(second.access_token).sid, decodeJwt(first.access_token).sid, "the same session");
      const third = expectTokens(
        await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: second.refresh_token }),
      );
      expectMessage(
        apiFor(() => server.url, encoding),
        await me(encoding, third.access_token),
        Me,
      );
    });

    bothAccepts(
      "detects reuse: replaying a used refresh token is invalid_grant and ends the session",
      async (encoding) => {
        const api = apiFor(() => server.url, encoding);
        const account = await buildAccount();
        const first = expectTokens(await tokenRequest(server, encoding, passwordGrant(account)));
        const second = expectTokens(
          await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: first.refresh_token }),
        );
        const description = expectOAuthError(
          await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: first.refresh_token }),
          400,
          "invalid_grant",
        );
        assert.match(description, /already used/);
        // The whole chain ended: the newer refresh token and its access token are refused too.
        expectOAuthError(
          await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: second.refresh_token }),
          400,
          "invalid_grant",
        );
        expectError(api, await me(encoding, second.access_token), 401, "unauthenticated");
      },
    );

    bothAccepts(
      "shares one implementation with /auth/login and /auth/refresh, rotation and reuse included",
      async (encoding) => {
        const api = apiFor(() => server.url, encoding);
        const account = await buildAccount();
        // Signed in at /auth/login, refreshed at /auth/token...
        const pair = expectMessage(
          api,
          await api.call("POST", "/auth/login", { body: message(LoginRequest, account) }),
          TokenPair,
        );
        const fromToken = expectTokens(
          await tokenRequest(server, encoding, { grant_type: "refresh_token", refresh_token: pair.refreshToken }),
        );
        // ...refreshed again at /auth/refresh with the token /auth/token gave...
        const fromRefresh = expectMessage(
          api,
          await api.call("POST", "/auth/refresh", {
            body: message(RefreshRequest, { refreshToken: fromToken.refresh_token }),
          }),
          TokenPair,
        );
        // ...and a replay at /auth/refresh of what /auth/login gave (used at /auth/token) ends the session.
        expectError(
          api,
          await api.call("POST", "/auth/refresh", {
            body: message(RefreshRequest, { refreshToken: pair.refreshToken }),
          }),
          401,
          "unauthenticated",
        );
        expectOAuthError(
          await tokenRequest(server, encoding, {
            grant_type: "refresh_token",
            refresh_token: fromRefresh.refreshToken,
          }),
          400,
          "invalid_grant",
        );
      },
    );

    bothAccepts("answers invalid_grant to an unknown refresh token", async (encoding) => {
      expectOAuthError(
        await tokenRequest(server, encoding, {
          grant_type: "refresh_token",
          refresh_token: randomBytes(32).toString("base64url"),
        }),
        400,
        "invalid_grant",
      );
    });
  });

  describe("standard errors", () => {
    const cases: { title: string; form: Record<string, string> | string; error: OAuth2ErrorCode; names?: string }[] = [
      {
        title: "no grant_type",
        form: { username: "a@b.test", password: "x" },
        error: "invalid_request",
        names: "grant_type",
      },
      { title: "an empty body", form: "", error: "invalid_request", names: "grant_type" },
      {
        title: "grant_type=client_credentials",
        form: { grant_type: "client_credentials" },
        error: "unsupported_grant_type",
      },
      {
        title: "grant_type=authorization_code",
        form: { grant_type: "authorization_code", code: "c" },
        error: "unsupported_grant_type",
      },
      {
        title: "the password grant without a password",
        form: { grant_type: "password", username: "a@b.test" },
        error: "invalid_request",
        names: "password",
      },
      {
        title: "the password grant with an empty password (an empty parameter is an absent one)",
        form: "grant_type=password&username=a%40b.test&password=",
        error: "invalid_request",
        names: "password",
      },
      {
        title: "the password grant without a username",
        form: { grant_type: "password", password: "x" },
        error: "invalid_request",
        names: "username",
      },
      {
        title: "the refresh_token grant without a refresh token",
        form: { grant_type: "refresh_token" },
        error: "invalid_request",
        names: "refresh_token",
      },
      {
        title: "a refresh token longer than any we issue",
        form: { grant_type: "refresh_token", refresh_token: "r".repeat(201) },
        error: "invalid_request",
        names: "refresh_token",
      },
      {
        title: "a parameter given twice",
        form: "grant_type=password&grant_type=password&username=a%40b.test&password=x",
        error: "invalid_request",
        names: "grant_type",
      },
      {
        title: "a scope (none is defined)",
        form: { grant_type: "password", username: "a@b.test", password: "x", scope: "read" },
        error: "invalid_scope",
      },
    ];
    for (const { title, form, error, names } of cases) {
      bothAccepts(`answers 400 ${error} to ${title}`, async (encoding) => {
        const description = expectOAuthError(await tokenRequest(server, encoding, form), 400, error);
        if (names) assert.ok(description.includes(names), `"${description}" names ${names}`);
      });
    }

    bothAccepts("answers 400 invalid_request to a JSON body: the endpoint takes forms only", async (encoding) => {
      const account = await buildAccount();
      const json = JSON.stringify(passwordGrant(account));
      expectOAuthError(
        await tokenRequest(server, encoding, json, { contentType: "application/json" }),
        400,
        "invalid_request",
      );
    });

    bothAccepts("answers 400 invalid_request to a form in another charset", async (encoding) => {
      expectOAuthError(
        await tokenRequest(server, encoding, "grant_type=password", { contentType: `${FORM}; charset=iso-8859-1` }),
        400,
        "invalid_request",
      );
    });

    it("answers 400 invalid_request to a body over MAX_BODY_BYTES", async () => {
      const form = `grant_type=password&username=a%40b.test&password=${"x".repeat(server.config.http.maxBodyBytes)}`;
      expectOAuthError(await tokenRequest(server, "json", form), 400, "invalid_request");
    });
  });

  describe("the login throttle, shared with /auth/login", () => {
    // Failures are counted against an address of each test's own (TRUST_PROXY + X-Forwarded-For).
    let throttled: TestServer;
    before(async () => {
      throttled = await startTestServer({
        env: {
          LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
          LOGIN_MAX_FAILURES_PER_ADDRESS: "5",
          LOGIN_FAILURE_WINDOW_SECONDS: "60",
          TRUST_PROXY: "1",
        },
      });
    });
    after(() => throttled.close());

    const from = (address: string) => ({ headers: { "x-forwarded-for": address } });
    const expectThrottled = (response: RawResponse) => {
      expectOAuthError(response, 429, "invalid_grant");
      const retryAfter = String(response.headers["retry-after"]);
      assert.match(retryAfter, /^[1-9][0-9]*$/, `Retry-After: ${retryAfter}`);
      assert.ok(Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);
    };

    bothAccepts(
      "per account: 429 invalid_grant with Retry-After after 3 failures, at both endpoints",
      async (encoding) => {
        const api = apiFor(() => throttled.url, encoding);
        const [account, neighbour] = [await buildAccount(), await buildAccount()];
        const address = uniqueClientAddress();
        const wrong = { ...passwordGrant(account), password: `${account.password}x` };
        // Two failures here and one at /auth/login count together.
        for (let attempt = 1; attempt <= 2; attempt += 1) {
          expectOAuthError(await tokenRequest(throttled, encoding, wrong, from(address)), 400, "invalid_grant");
        }
        const loginAt = (credentials: { email: string; password: string }) =>
          api.call("POST", "/auth/login", { body: message(LoginRequest, credentials), ...from(address) });
        expectError(api, await loginAt({ ...account, password: wrong.password }), 401, "unauthenticated");
        // Even the right password is refused now, at both endpoints.
        expectThrottled(await tokenRequest(throttled, encoding, passwordGrant(account), from(address)));
        expectError(api, await loginAt(account), 429, "rate_limited");
        // Another account from the same address is not.
        expectTokens(await tokenRequest(throttled, encoding, passwordGrant(neighbour), from(address)));
      },
    );

    bothAccepts("per address: 429 invalid_grant after 5 failures spread over unknown emails", async (encoding) => {
      const account = await buildAccount();
      const address = uniqueClientAddress();
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const stranger = { grant_type: "password", username: `stranger-${randomUUID()}@x.test`, password: "p" };
        expectOAuthError(await tokenRequest(throttled, encoding, stranger, from(address)), 400, "invalid_grant");
      }
      expectThrottled(await tokenRequest(throttled, encoding, passwordGrant(account), from(address)));
      // The account signs in from elsewhere.
      expectTokens(await tokenRequest(throttled, encoding, passwordGrant(account), from(uniqueClientAddress())));
    });
  });

  describe("what reaches the log", () => {
    bothAccepts("holds no password and no token", async (encoding) => {
      const lines: string[] = [];
      const logged = await startTestServer({
        logger: createLogger("trace", { write: (line) => void lines.push(line) }),
      });
      try {
        const account = await buildAccount();
        const wrongPassword = `wrong-${randomBytes(9).toString("base64url")}`;
        expectOAuthError(
          await tokenRequest(logged, encoding, { ...passwordGrant(account), password: wrongPassword }),
          400,
          "invalid_grant",
        );
        const first = expectTokens(await tokenRequest(logged, encoding, passwordGrant(account)));
        const second = expectTokens(
          await tokenRequest(logged, encoding, { grant_type: "refresh_token", refresh_token: first.refresh_token }),
        );
        const text = lines.join("");
        assert.match(text, /"path":"\/api\/v1\/auth\/token"/, "the requests were logged");
        const secrets = [account.password, wrongPassword, first.refresh_token, second.refresh_token];
        for (const token of [first.access_token, second.access_token])
          secrets.push(token, token.split(".")[2] ?? token);
        for (const secret of secrets) assert.ok(!text.includes(secret), "the log holds a secret");
      } finally {
        await logged.close();
      }
    });
  });
});
