import assert from "node:assert/strict";
import { randomBytes, randomUUID, scryptSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { LoginRequest, LogoutRequest, Me, RefreshRequest, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { Error as ErrorMessage } from "../../../generated/shtp/v1/error.js";
import { ChangeMyPasswordRequest, ResetPasswordRequest, Role } from "../../../generated/shtp/v1/users.js";
import { needsRehash, verifyPassword } from "../../auth/passwords.js";
import type { RoleName } from "../../auth/roles.js";
import { createLogger } from "../../logging/logger.js";
import { buildAccount, buildUser, tokenFor, uniqueClientAddress } from "../../testing/factories.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";

type Encoding = "json" | "protobuf";
const encodings: readonly Encoding[] = ["json", "protobuf"];

const JSON_TYPE = "application/json; charset=utf-8";
const PROTOBUF_TYPE = "application/protobuf";

/** What the tests need of a generated message: both wire forms. */
interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

/** A request body: a message with its codec, or (JSON only) raw text to send as is. */
type Body<T> = { codec: Codec<T>; message: T } | { json: string };

/**
 * Calls the API in one encoding: the body is encoded with the generated codec, and the response is
 * asked for in the same encoding.
 */
function call<T>(
  server: TestServer,
  encoding: Encoding,
  method: string,
  path: string,
  options: { body?: Body<T>; token?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const media = encoding === "json" ? "application/json" : PROTOBUF_TYPE;
  const headers: Record<string, string> = { accept: media, ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: Buffer | string | undefined;
  if (options.body && "json" in options.body) {
    headers["content-type"] = "application/json";
    body = options.body.json;
  } else if (options.body) {
    headers["content-type"] = media;
    const { codec, message } = options.body;
    body = encoding === "json" ? JSON.stringify(codec.toJSON(message)) : Buffer.from(codec.encode(message).finish());
  }
  return rawRequest(`${server.url}/api/v1${path}`, { method, headers, body });
}

const describeResponse = (response: RawResponse) =>
  `${response.status} ${String(response.headers["content-type"])} ${response.body.toString("utf8").slice(0, 300)}`;

/** Asserts a success in the expected encoding and decodes it. */
function expectMessage<T>(response: RawResponse, encoding: Encoding, codec: Codec<T>, status = 200): T {
  assert.equal(response.status, status, describeResponse(response));
  if (encoding === "json") {
    assert.equal(response.headers["content-type"], JSON_TYPE);
    return codec.fromJSON(JSON.parse(response.body.toString("utf8")));
  }
  assert.equal(response.headers["content-type"], PROTOBUF_TYPE);
  return codec.decode(response.body);
}

/** Asserts an error with this status and code, in the expected encoding, and decodes it. */
function expectError(response: RawResponse, encoding: Encoding, status: number, code: string): ErrorMessage {
  assert.equal(response.status, status, describeResponse(response));
  const error =
    encoding === "json"
      ? ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8")))
      : ErrorMessage.decode(response.body);
  assert.equal(response.headers["content-type"], encoding === "json" ? JSON_TYPE : PROTOBUF_TYPE);
  assert.equal(error.code, code, describeResponse(response));
  assert.ok(error.detail.length > 0);
  assert.equal(error.requestId, response.headers["x-request-id"]);
  return error;
}

const expectNoContent = (response: RawResponse) => {
  assert.equal(response.status, 204, describeResponse(response));
  assert.equal(response.body.length, 0);
};

/** Declares one test per encoding. */
function bothEncodings(title: string, test: (encoding: Encoding) => Promise<void>): void {
  for (const encoding of encodings) it(`${title} (${encoding})`, () => test(encoding));
}

const unique = () => randomUUID().slice(0, 8);

describe("sign-in, tokens and sessions (/auth, /users/.../password) over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const login = (encoding: Encoding, email: string, password: string, headers?: Record<string, string>) =>
    call(server, encoding, "POST", "/auth/login", {
      body: { codec: LoginRequest, message: { email, password } },
      headers,
    });
  const signIn = async (encoding: Encoding, account: { email: string; password: string }) =>
    expectMessage(await login(encoding, account.email, account.password), encoding, TokenPair);
  const refresh = (encoding: Encoding, refreshToken: string) =>
    call(server, encoding, "POST", "/auth/refresh", { body: { codec: RefreshRequest, message: { refreshToken } } });
  const logout = (encoding: Encoding, refreshToken: string) =>
    call(server, encoding, "POST", "/auth/logout", { body: { codec: LogoutRequest, message: { refreshToken } } });
  const me = (encoding: Encoding, token?: string) => call(server, encoding, "GET", "/auth/me", { token });
  const changePassword = (encoding: Encoding, token: string, message: ChangeMyPasswordRequest) =>
    call(server, encoding, "POST", "/users/me/password", { token, body: { codec: ChangeMyPasswordRequest, message } });

  const expectSignedIn = async (encoding: Encoding, accessToken: string) =>
    expectMessage(await me(encoding, accessToken), encoding, Me);
  const expectSignedOut = async (encoding: Encoding, accessToken: string) =>
    expectError(await me(encoding, accessToken), encoding, 401, "unauthenticated");
  const expectRefreshRefused = async (encoding: Encoding, refreshToken: string) =>
    expectError(await refresh(encoding, refreshToken), encoding, 401, "unauthenticated");

  describe("POST /auth/login", () => {
    bothEncodings("answers a TokenPair with an HS256 JWT for the user id", async (encoding) => {
      const account = await buildAccount();
      const response = await login(encoding, account.email, account.password);
      const pair = expectMessage(response, encoding, TokenPair);
      assert.equal(decodeProtectedHeader(pair.accessToken).alg, "HS256");
      const claims = decodeJwt(pair.accessToken);
      assert.equal(claims.sub, account.id);
      assert.ok(!JSON.stringify(claims).includes(account.email), "the token must not carry the email");
      assert.ok(pair.refreshToken.length >= 32);
      assert.ok(!pair.refreshToken.includes("."), "the refresh token is opaque, not a JWT");
      assert.equal(pair.expiresIn, 900);
      assert.equal(pair.tokenType, "Bearer");
      assert.equal(response.headers["cache-control"], "no-store");
      if (encoding === "json") {
        const raw = JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;
        assert.deepEqual(Object.keys(raw).sort(), ["accessToken", "expiresIn", "refreshToken", "tokenType"]);
        assert.equal(raw.expiresIn, 900);
      }
      await expectSignedIn(encoding, pair.accessToken);
    });

    bothEncodings("matches the email case-insensitively and ignores surrounding spaces", async (encoding) => {
      const account = await buildAccount();
      const pair = expectMessage(
        await login(encoding, `  ${account.email.toUpperCase()} `, account.password),
        encoding,
        TokenPair,
      );
      assert.equal(decodeJwt(pair.accessToken).sub, account.id);
    });

    bothEncodings("answers the same 401 to a wrong password and to an unknown email", async (encoding) => {
      const account = await buildAccount();
      const wrongPassword = expectError(
        await login(encoding, account.email, `${account.password}x`),
        encoding,
        401,
        "unauthenticated",
      );
      const unknownEmail = expectError(
        await login(encoding, `nobody-${unique()}@example.test`, account.password),
        encoding,
        401,
        "unauthenticated",
      );
      assert.equal(wrongPassword.detail, unknownEmail.detail);
      assert.deepEqual(wrongPassword.fieldViolations, []);
      assert.deepEqual(unknownEmail.fieldViolations, []);
      // A password that differs only in case is wrong too.
      expectError(
        await login(encoding, account.email, account.password.toUpperCase()),
        encoding,
        401,
        "unauthenticated",
      );
    });

    bothEncodings("answers 400 invalid_argument naming `password` when it is missing", async (encoding) => {
      const email = `missing-${unique()}@example.test`;
      // Protobuf cannot tell a missing string from an empty one; JSON leaves the key out.
      const response =
        encoding === "json"
          ? await call(server, encoding, "POST", "/auth/login", { body: { json: JSON.stringify({ email }) } })
          : await login(encoding, email, "");
      const error = expectError(response, encoding, 400, "invalid_argument");
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        ["password"],
      );
    });

    bothEncodings("answers 400 to an unknown JSON key, naming it, in the encoding asked for", async (encoding) => {
      const account = { email: `unknown-key-${unique()}@example.test`, password: "whatever-password" };
      const response = await call(server, encoding, "POST", "/auth/login", {
        body: { json: JSON.stringify({ ...account, rememberMe: true }) },
      });
      const error = expectError(response, encoding, 400, "invalid_argument");
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        ["rememberMe"],
      );
    });
    bothEncodings("re-hashes a password stored with older scrypt parameters once it is verified", async (encoding) => {
      const user = await buildUser();
      const password = `legacy-${unique()}`;
      // Fixed cost N=1024: a hash written before the parameters were raised.
      const salt = randomBytes(16);
      const key = scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
      const legacy = ["scrypt", 1024, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
      await user.update({ passwordHash: legacy });
      const pair = expectMessage(await login(encoding, user.email, password), encoding, TokenPair);
      assert.equal(decodeJwt(pair.accessToken).sub, user.id);
      await user.reload();
      assert.notEqual(user.passwordHash, legacy);
      assert.equal(needsRehash(user.passwordHash), false, "stored again with today's parameters");
      assert.equal(await verifyPassword(password, user.passwordHash), true);
      // The re-hashed password still signs in, and a wrong one still does not.
      expectMessage(await login(encoding, user.email, password), encoding, TokenPair);
      expectError(await login(encoding, user.email, `${password}x`), encoding, 401, "unauthenticated");
    });
  });

  describe("GET /auth/me", () => {
    const roles: [RoleName, Role][] = [
      ["student", Role.STUDENT],
      ["teacher", Role.TEACHER],
      ["admin", Role.ADMIN],
    ];
    bothEncodings("answers Me with the caller's email and role", async (encoding) => {
      for (const [roleName, role] of roles) {
        const account = await buildAccount(roleName);
        const pair = await signIn(encoding, account);
        const response = await me(encoding, pair.accessToken);
        const body = expectMessage(response, encoding, Me);
        assert.equal(body.user?.id, account.id);
        assert.equal(body.user?.email, account.email);
        assert.equal(body.user?.role, role);
        assert.equal(body.unreadNotifications, 0);
        if (encoding === "json") {
          const raw = JSON.parse(response.body.toString("utf8")) as { user: { role: string } };
          assert.equal(raw.user.role, `ROLE_${roleName.toUpperCase()}`);
        }
      }
    });

    bothEncodings("answers 401 unauthenticated without a token", async (encoding) => {
      expectError(await me(encoding), encoding, 401, "unauthenticated");
    });
  });

  describe("POST /auth/refresh", () => {
    bothEncodings("rotates the pair; replaying the old refresh token revokes the whole chain", async (encoding) => {
      const account = await buildAccount();
      const first = await signIn(encoding, account);

      const second = expectMessage(await refresh(encoding, first.refreshToken), encoding, TokenPair);
      assert.notEqual(second.accessToken, first.accessToken);
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal(second.expiresIn, 900);
      assert.equal(second.tokenType, "Bearer");
      assert.equal(decodeJwt(second.accessToken).sid, decodeJwt(first.accessToken).sid, "same session");
      const profile = await expectSignedIn(encoding, second.accessToken);
      assert.equal(profile.user?.id, account.id);

      // The replay is refused and ends the session it belongs to...
      const replay = await expectRefreshRefused(encoding, first.refreshToken);
      assert.match(replay.detail, /already used/);
      // ...so the token issued by the legitimate rotation is refused as well,
      await expectRefreshRefused(encoding, second.refreshToken);
      // and so is every access token of that session.
      await expectSignedOut(encoding, second.accessToken);
      await expectSignedOut(encoding, first.accessToken);
    });

    bothEncodings("refuses an unknown refresh token with 401 and leaves other sessions alone", async (encoding) => {
      const account = await buildAccount();
      const pair = await signIn(encoding, account);
      await expectRefreshRefused(encoding, randomBytes(32).toString("base64url"));
      await expectSignedIn(encoding, pair.accessToken);
      expectMessage(await refresh(encoding, pair.refreshToken), encoding, TokenPair);
    });
  });

  describe("POST /auth/logout", () => {
    bothEncodings("ends the session: its access and refresh tokens answer 401", async (encoding) => {
      const account = await buildAccount();
      const ended = await signIn(encoding, account);
      const other = await signIn(encoding, account);
      expectNoContent(await logout(encoding, ended.refreshToken));
      await expectSignedOut(encoding, ended.accessToken);
      await expectRefreshRefused(encoding, ended.refreshToken);
      // The user's other session is untouched.
      await expectSignedIn(encoding, other.accessToken);
      // Logging out again, or with a token nobody issued, is still 204.
      expectNoContent(await logout(encoding, ended.refreshToken));
      expectNoContent(await logout(encoding, randomBytes(32).toString("base64url")));
    });
  });

  describe("POST /users/me/password", () => {
    bothEncodings("keeps the caller's session and ends the others", async (encoding) => {
      const account = await buildAccount();
      const a = await signIn(encoding, account);
      const b = await signIn(encoding, account);
      const newPassword = `new-${randomBytes(9).toString("base64url")}`;

      expectNoContent(
        await changePassword(encoding, a.accessToken, { currentPassword: account.password, newPassword }),
      );
      await expectSignedIn(encoding, a.accessToken);
      await expectSignedOut(encoding, b.accessToken);
      await expectRefreshRefused(encoding, b.refreshToken);
      // The kept session can still be refreshed.
      expectMessage(await refresh(encoding, a.refreshToken), encoding, TokenPair);

      expectError(await login(encoding, account.email, account.password), encoding, 401, "unauthenticated");
      await signIn(encoding, { email: account.email, password: newPassword });
    });

    bothEncodings("answers 400 naming currentPassword or newPassword", async (encoding) => {
      const account = await buildAccount();
      const pair = await signIn(encoding, account);

      const wrongCurrent = expectError(
        await changePassword(encoding, pair.accessToken, {
          currentPassword: `${account.password}x`,
          newPassword: "long-enough-password",
        }),
        encoding,
        400,
        "invalid_argument",
      );
      assert.deepEqual(
        wrongCurrent.fieldViolations.map((violation) => violation.field),
        ["currentPassword"],
      );

      const tooShort = expectError(
        await changePassword(encoding, pair.accessToken, { currentPassword: account.password, newPassword: "short" }),
        encoding,
        400,
        "invalid_argument",
      );
      assert.deepEqual(
        tooShort.fieldViolations.map((violation) => violation.field),
        ["newPassword"],
      );

      // Neither attempt changed anything.
      await expectSignedIn(encoding, pair.accessToken);
      await signIn(encoding, account);
    });
  });

  describe("staff actions on an account", () => {
    bothEncodings("an admin's password reset ends every session of the target", async (encoding) => {
      const admin = await buildUser({ role: "admin" });
      const adminToken = await tokenFor(admin, server.config);
      const target = await buildAccount();
      const sessions = [await signIn(encoding, target), await signIn(encoding, target)];
      const newPassword = `reset-${randomBytes(9).toString("base64url")}`;

      expectNoContent(
        await call(server, encoding, "POST", `/users/${target.id}/password`, {
          token: adminToken,
          body: { codec: ResetPasswordRequest, message: { newPassword } },
        }),
      );
      for (const session of sessions) {
        await expectSignedOut(encoding, session.accessToken);
        await expectRefreshRefused(encoding, session.refreshToken);
      }
      // The admin's own session is not touched.
      await expectSignedIn(encoding, adminToken);
      expectError(await login(encoding, target.email, target.password), encoding, 401, "unauthenticated");
      await signIn(encoding, { email: target.email, password: newPassword });
    });

    bothEncodings("deleting a user makes their tokens answer 401", async (encoding) => {
      const admin = await buildUser({ role: "admin" });
      const adminToken = await tokenFor(admin, server.config);
      const target = await buildAccount();
      const pair = await signIn(encoding, target);
      await expectSignedIn(encoding, pair.accessToken);

      expectNoContent(await call(server, encoding, "DELETE", `/users/${target.id}`, { token: adminToken }));
      await expectSignedOut(encoding, pair.accessToken);
      await expectRefreshRefused(encoding, pair.refreshToken);
      expectError(await login(encoding, target.email, target.password), encoding, 401, "unauthenticated");
    });
  });

  describe("what reaches the log", () => {
    bothEncodings("holds no password and no token", async (encoding) => {
      const lines: string[] = [];
      const logger = createLogger("trace", { write: (line: string) => void lines.push(line) });
      const logged = await startTestServer({ logger });
      try {
        const account = await buildAccount();
        const wrongPassword = `wrong-${randomBytes(9).toString("base64url")}`;
        const send = <T>(path: string, codec: Codec<T>, message: T) =>
          call(logged, encoding, "POST", path, { body: { codec, message } });

        expectError(
          await send("/auth/login", LoginRequest, { email: account.email, password: wrongPassword }),
          encoding,
          401,
          "unauthenticated",
        );
        const first = expectMessage(
          await send("/auth/login", LoginRequest, { email: account.email, password: account.password }),
          encoding,
          TokenPair,
        );
        const second = expectMessage(
          await send("/auth/refresh", RefreshRequest, { refreshToken: first.refreshToken }),
          encoding,
          TokenPair,
        );
        expectMessage(await call(logged, encoding, "GET", "/auth/me", { token: second.accessToken }), encoding, Me);
        // A replay (an error path) and a logout.
        expectError(
          await send("/auth/refresh", RefreshRequest, { refreshToken: first.refreshToken }),
          encoding,
          401,
          "unauthenticated",
        );
        expectNoContent(await send("/auth/logout", LogoutRequest, { refreshToken: second.refreshToken }));

        const text = lines.join("");
        // The log did record these requests, so its silence about secrets means something.
        assert.match(text, /"path":"\/api\/v1\/auth\/login"/);
        assert.match(text, /"path":"\/api\/v1\/auth\/refresh"/);
        const secrets = {
          password: account.password,
          wrongPassword,
          firstAccessToken: first.accessToken,
          firstRefreshToken: first.refreshToken,
          secondAccessToken: second.accessToken,
          secondRefreshToken: second.refreshToken,
        };
        for (const [name, secret] of Object.entries(secrets)) {
          assert.ok(!text.includes(secret), `the log contains the ${name}`);
        }
        // Nor a recognisable piece of a JWT (its signature is the secret part).
        for (const token of [first.accessToken, second.accessToken]) {
          assert.ok(!text.includes(token.split(".")[2] ?? token), "the log contains a JWT signature");
        }
      } finally {
        await logged.close();
      }
    });
  });

  describe("login throttle", () => {
    // Each test counts failures against an address of its own (TRUST_PROXY + X-Forwarded-For), so the
    // throttle table, shared by the whole run, holds no count from other tests for it.
    const throttledEnv = (perAccount: number, perAddress: number) => ({
      LOGIN_MAX_FAILURES_PER_ACCOUNT: String(perAccount),
      LOGIN_MAX_FAILURES_PER_ADDRESS: String(perAddress),
      LOGIN_FAILURE_WINDOW_SECONDS: "60",
      TRUST_PROXY: "1",
    });
    const loginAt = (
      target: TestServer,
      encoding: Encoding,
      address: string,
      credentials: { email: string; password: string },
    ) =>
      call(target, encoding, "POST", "/auth/login", {
        body: { codec: LoginRequest, message: credentials },
        headers: { "x-forwarded-for": address },
      });
    const expectThrottled = (response: RawResponse, encoding: Encoding) => {
      expectError(response, encoding, 429, "rate_limited");
      const retryAfter = String(response.headers["retry-after"]);
      assert.match(retryAfter, /^[1-9][0-9]*$/, `Retry-After: ${retryAfter}`);
      assert.ok(Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);
    };

    describe("per account", () => {
      let throttled: TestServer;
      before(async () => {
        throttled = await startTestServer({ env: throttledEnv(3, 1000) });
      });
      after(() => throttled.close());

      bothEncodings("answers 429 with Retry-After after 3 failures, even to the right password", async (encoding) => {
        const address = uniqueClientAddress();
        const [account, neighbour] = [await buildAccount(), await buildAccount()];
        const wrong = { email: account.email, password: `${account.password}x` };
        for (let attempt = 1; attempt <= 3; attempt += 1) {
          expectError(await loginAt(throttled, encoding, address, wrong), encoding, 401, "unauthenticated");
        }
        expectThrottled(await loginAt(throttled, encoding, address, account), encoding);
        // The account is keyed case-insensitively, and from any address.
        expectThrottled(
          await loginAt(throttled, encoding, uniqueClientAddress(), { ...account, email: account.email.toUpperCase() }),
          encoding,
        );
        // Another account from the same address is not blocked.
        expectMessage(await loginAt(throttled, encoding, address, neighbour), encoding, TokenPair);
      });
    });

    describe("per address", () => {
      let throttled: TestServer;
      before(async () => {
        throttled = await startTestServer({ env: throttledEnv(1000, 4) });
      });
      after(() => throttled.close());

      bothEncodings("answers 429 after 4 failures spread over unknown emails", async (encoding) => {
        const address = uniqueClientAddress();
        const account = await buildAccount();
        for (let attempt = 1; attempt <= 4; attempt += 1) {
          const stranger = { email: `stranger-${unique()}@example.test`, password: "not-a-real-password" };
          expectError(await loginAt(throttled, encoding, address, stranger), encoding, 401, "unauthenticated");
        }
        expectThrottled(
          await loginAt(throttled, encoding, address, { email: `fifth-${unique()}@example.test`, password: "x" }),
          encoding,
        );
        // The address is blocked even for a real account with its right password...
        expectThrottled(await loginAt(throttled, encoding, address, account), encoding);
        // ...but that account signs in from elsewhere.
        expectMessage(await loginAt(throttled, encoding, uniqueClientAddress(), account), encoding, TokenPair);
      });
    });

    describe("across two server processes on one database", () => {
      let first: TestServer;
      let second: TestServer;
      before(async () => {
        first = await startTestServer({ env: throttledEnv(3, 1000) });
        second = await startTestServer({ env: throttledEnv(3, 1000) });
      });
      after(async () => {
        await first.close();
        await second.close();
      });

      bothEncodings("shares the account's failure count between the servers", async (encoding) => {
        const address = uniqueClientAddress();
        const account = await buildAccount();
        const wrong = { email: account.email, password: `${account.password}x` };
        expectError(await loginAt(first, encoding, address, wrong), encoding, 401, "unauthenticated");
        expectError(await loginAt(second, encoding, address, wrong), encoding, 401, "unauthenticated");
        expectError(await loginAt(first, encoding, address, wrong), encoding, 401, "unauthenticated");
        expectThrottled(await loginAt(first, encoding, address, account), encoding);
        expectThrottled(await loginAt(second, encoding, address, account), encoding);
      });
    });
  });

  describe("login latency (a measurement, not an assertion)", () => {
    const percentile = (sorted: number[], fraction: number) =>
      sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;

    bothEncodings("20 sequential successful logins of one user", async (encoding) => {
      const account = await buildAccount();
      await signIn(encoding, account); // warm-up, not counted
      const samples: number[] = [];
      for (let round = 0; round < 20; round += 1) {
        const started = process.hrtime.bigint();
        const response = await login(encoding, account.email, account.password);
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
        expectMessage(response, encoding, TokenPair);
      }
      const sorted = [...samples].sort((x, y) => x - y);
      const median = ((sorted[9] ?? Number.NaN) + (sorted[10] ?? Number.NaN)) / 2;
      console.log(
        `      login latency (${encoding}, n=20): median ${median.toFixed(1)} ms, p90 ${percentile(sorted, 0.9).toFixed(1)} ms, ` +
          `min ${(sorted[0] ?? Number.NaN).toFixed(1)} ms, max ${(sorted[19] ?? Number.NaN).toFixed(1)} ms`,
      );
    });
  });
});
