import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { Error as ErrorMessage, FieldViolation } from "../../generated/shtp/v1/error.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { routes } from "../modules/index.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { fixtureRoutes } from "../testing/fixture-routes.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { issueAccessToken } from "./tokens.js";
import { decodeAs } from "../testing/api.js";

const PROTOBUF_TYPE = "application/protobuf";

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The session claim (`sid`) of a real token, so hand-made tokens differ from it in one respect only. */
const sessionOf = (token: string): string | undefined => {
  const { sid } = decodeJwt(token);
  return typeof sid === "string" ? sid : undefined;
};

const errorOf = (response: RawResponse): ErrorMessage => decodeAs(ErrorMessage, response);

describe("authentication and the role gate over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ routes: [...routes, ...fixtureRoutes] });
  });
  after(() => server.close());

  const teachers = (headers: Record<string, string>) => rawRequest(`${server.url}/api/v1/test/teachers`, { headers });

  /**
   * A teacher with a real session, and a way to mint tokens for that same subject and session with
   * altered settings; the unaltered mint must pass, so each refusal has exactly one cause.
   */
  async function signedInTeacher(): Promise<{
    mint: (changes?: Partial<typeof server.config.auth>, now?: Date) => Promise<string>;
  }> {
    const user = await buildUser({ role: "teacher" });
    const subject = { userId: user.id, sessionId: sessionOf(await tokenFor(user, server.config)) };
    const mint = (changes: Partial<typeof server.config.auth> = {}, now?: Date) =>
      issueAccessToken(subject, { ...server.config.auth, ...changes }, now);
    const control = await teachers({ authorization: `Bearer ${await mint()}` });
    assert.equal(control.status, 200, "the unaltered token should pass");
    return { mint };
  }

  /**
   * Sends the same credential twice, asking for JSON and for protobuf, and checks both errors.
   * @param authorization - the header value, or undefined for none
   */
  async function expectRefusal(authorization: string | undefined, status: number, code: string): Promise<void> {
    const credential: Record<string, string> = authorization === undefined ? {} : { authorization };
    const json = await teachers(credential);
    assert.equal(json.status, status, `JSON: ${json.body.toString("utf8")}`);
    assert.equal(json.headers["content-type"], "application/json; charset=utf-8");
    const jsonError = errorOf(json);
    assert.equal(jsonError.code, code);
    assert.ok(jsonError.detail.length > 0);
    assert.equal(jsonError.requestId, json.headers["x-request-id"]);

    const protobuf = await teachers({ ...credential, accept: PROTOBUF_TYPE });
    assert.equal(protobuf.status, status, "protobuf");
    assert.equal(protobuf.headers["content-type"], PROTOBUF_TYPE);
    const protobufError = ErrorMessage.decode(protobuf.body);
    assert.equal(protobufError.code, code);
    assert.equal(protobufError.detail, jsonError.detail);
    assert.equal(protobufError.requestId, protobuf.headers["x-request-id"]);
  }

  /**
   * Asks until the token's answer is `status`, failing after 100 ms: a change made outside this
   * process's services reaches its session cache through the database's announcement.
   */
  async function answersWithin100ms(token: string, status: number): Promise<void> {
    const changed = Date.now();
    for (;;) {
      const answered = (await teachers({ authorization: `Bearer ${token}` })).status;
      if (answered === status) return;
      assert.ok(Date.now() - changed < 100, `still ${answered} after 100 ms`);
    }
  }

  it("answers 401 unauthenticated without an Authorization header", async () => {
    await expectRefusal(undefined, 401, "unauthenticated");
  });

  it("answers 401 to other schemes and to malformed bearer headers", async () => {
    const user = await buildUser({ role: "teacher" });
    const token = await tokenFor(user, server.config);
    for (const authorization of ["Basic xyz", `Token ${token}`, "Bearer", "Bearer ", `Bearer ${token} extra`]) {
      await expectRefusal(authorization, 401, "unauthenticated");
    }
  });

  it("answers 401 to a token signed with another secret", async () => {
    const { mint } = await signedInTeacher();
    await expectRefusal(`Bearer ${await mint({ jwtSecret: "x".repeat(48) })}`, 401, "unauthenticated");
  });

  it("answers 401 to an unsigned alg:none token", async () => {
    const user = await buildUser({ role: "admin" });
    const token = await tokenFor(user, server.config);
    assert.equal((await teachers({ authorization: `Bearer ${token}` })).status, 200);
    const now = Math.floor(Date.now() / 1000);
    // The real token's claims (subject, session, issuer, audience), freshly dated, with no signature.
    const payload = { ...decodeJwt(token), jti: randomUUID(), iat: now, nbf: now, exp: now + 600 };
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`;
    await expectRefusal(`Bearer ${unsigned}`, 401, "unauthenticated");
    // The same payload with the original signature kept is refused too: the header is signed.
    const [, , signature] = token.split(".");
    await expectRefusal(`Bearer ${unsigned}${signature}`, 401, "unauthenticated");
  });

  it("answers 401 to a token whose signature was tampered with or whose payload was swapped", async () => {
    const [student, admin] = [await buildUser({ role: "student" }), await buildUser({ role: "admin" })];
    const studentToken = await tokenFor(student, server.config);
    const adminToken = await tokenFor(admin, server.config);
    const [header, , signature] = studentToken.split(".");
    const [, adminPayload] = adminToken.split(".");
    await expectRefusal(`Bearer ${header}.${adminPayload}.${signature}`, 401, "unauthenticated");
  });

  it("answers 401 token_expired to an expired token, so clients know to refresh", async () => {
    const { mint } = await signedInTeacher();
    const expired = await mint({}, new Date(Date.now() - 2 * 3600 * 1000));
    await expectRefusal(`Bearer ${expired}`, 401, "token_expired");
  });

  it("answers 401 to a token for another audience or from another issuer", async () => {
    const { mint } = await signedInTeacher();
    await expectRefusal(`Bearer ${await mint({ audience: "others" })}`, 401, "unauthenticated");
    await expectRefusal(`Bearer ${await mint({ issuer: "someone-else" })}`, 401, "unauthenticated");
  });

  it("answers 401 to a valid token whose user was deleted, or whose subject is not a user id", async () => {
    const user = await buildUser({ role: "admin" });
    const token = await tokenFor(user, server.config);
    assert.equal((await teachers({ authorization: `Bearer ${token}` })).status, 200);
    // Deleted by SQL of its own, as another process would: the session cache hears of it from the database.
    await user.destroy();
    await answersWithin100ms(token, 401);
    await expectRefusal(`Bearer ${token}`, 401, "unauthenticated");
    const notAUuid = await issueAccessToken(
      { userId: "user@example.test", sessionId: sessionOf(token) },
      server.config.auth,
    );
    await expectRefusal(`Bearer ${notAUuid}`, 401, "unauthenticated");
  });

  it("answers 401 to a valid signature over a token without a session, or with a session id that is not one", async () => {
    const user = await buildUser({ role: "teacher" });
    const withoutSession = await issueAccessToken({ userId: user.id }, server.config.auth);
    await expectRefusal(`Bearer ${withoutSession}`, 401, "unauthenticated");
    const oddSession = await issueAccessToken({ userId: user.id, sessionId: "session-1" }, server.config.auth);
    await expectRefusal(`Bearer ${oddSession}`, 401, "unauthenticated");
  });

  it("answers 401 to a token naming another user's session, cached or not, and still admits its owner", async () => {
    const [owner, other] = [await buildUser({ role: "teacher" }), await buildUser({ role: "teacher" })];
    const ownerToken = await tokenFor(owner, server.config);
    const borrowed = await issueAccessToken({ userId: other.id, sessionId: sessionOf(ownerToken) }, server.config.auth);
    await expectRefusal(`Bearer ${borrowed}`, 401, "unauthenticated");
    // Now the owner's check is cached under that session id; the borrowed token must not be served from it.
    assert.equal((await teachers({ authorization: `Bearer ${ownerToken}` })).status, 200);
    await expectRefusal(`Bearer ${borrowed}`, 401, "unauthenticated");
    assert.equal((await teachers({ authorization: `Bearer ${ownerToken}` })).status, 200);
  });

  it("answers 403 permission_denied to a student", async () => {
    const student = await buildUser({ role: "student" });
    await expectRefusal(`Bearer ${await tokenFor(student, server.config)}`, 403, "permission_denied");
  });

  it("sees a role change made elsewhere within 100 ms, without a new token", async () => {
    const user = await buildUser({ role: "teacher" });
    const token = await tokenFor(user, server.config);
    assert.equal((await teachers({ authorization: `Bearer ${token}` })).status, 200);
    await user.update({ role: "student" });
    await answersWithin100ms(token, 403);
    await expectRefusal(`Bearer ${token}`, 403, "permission_denied");
  });

  for (const role of ["teacher", "admin"] as const) {
    it(`lets ${role === "admin" ? "an" : "a"} ${role} through, in both encodings`, async () => {
      const user = await buildUser({ role });
      const authorization = `Bearer ${await tokenFor(user, server.config)}`;
      const json = await teachers({ authorization });
      assert.equal(json.status, 200);
      assert.equal(json.headers["content-type"], "application/json; charset=utf-8");
      assert.deepEqual(FieldViolation.fromJSON(JSON.parse(json.body.toString("utf8"))), {
        field: user.id,
        description: role,
      });
      const protobuf = await teachers({ authorization, accept: PROTOBUF_TYPE });
      assert.equal(protobuf.status, 200);
      assert.equal(protobuf.headers["content-type"], PROTOBUF_TYPE);
      assert.deepEqual(FieldViolation.decode(protobuf.body), { field: user.id, description: role });
    });
  }

  it("ignores a credential that does not hold on a public route", async () => {
    const expired = await issueAccessToken(
      { userId: randomUUID() },
      server.config.auth,
      new Date(Date.now() - 2 * 3600 * 1000),
    );
    for (const authorization of ["Bearer garbage.token.here", "Basic xyz", `Bearer ${expired}`]) {
      const json = await rawRequest(`${server.url}/api/v1/version`, { headers: { authorization } });
      assert.equal(json.status, 200, authorization);
      assert.equal(VersionInfo.fromJSON(JSON.parse(json.body.toString("utf8"))).name, "shtp-api");
      const protobuf = await rawRequest(`${server.url}/api/v1/version`, {
        headers: { authorization, accept: PROTOBUF_TYPE },
      });
      assert.equal(protobuf.status, 200, authorization);
      assert.equal(VersionInfo.decode(protobuf.body).name, "shtp-api");
    }
  });
});
