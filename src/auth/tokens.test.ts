import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeJwt, errors as joseErrors, SignJWT } from "jose";
import { testConfig } from "../testing/server.js";
import { ACCESS_TOKEN_ALGORITHM, issueAccessToken, verifyAccessToken } from "./tokens.js";

describe("access tokens (src/auth/tokens.ts)", () => {
  const settings = testConfig().auth;
  const subject = { userId: randomUUID(), sessionId: randomUUID() };

  it("answers the same claims for a token verified again (remembered), and refuses a forged one", async () => {
    const token = await issueAccessToken(subject, settings);
    const first = await verifyAccessToken(token, settings);
    assert.deepEqual(await verifyAccessToken(token, settings), first);
    assert.equal(first.userId, subject.userId);
    assert.equal(first.sessionId, subject.sessionId);
    const [header, payload] = token.split(".");
    await assert.rejects(verifyAccessToken(`${header}.${payload}.${"A".repeat(43)}`, settings));
    const otherSecret = { ...settings, jwtSecret: "another-secret-of-at-least-32-characters!" };
    await assert.rejects(verifyAccessToken(token, otherSecret), "a remembered token is still checked per key");
  });

  it("issues and verifies a token without a session, whose claims then name none", async () => {
    const userId = randomUUID();
    const claims = await verifyAccessToken(await issueAccessToken({ userId }, settings), settings);
    assert.equal(claims.userId, userId);
    assert.equal(claims.sessionId, undefined);
    assert.ok(!("sid" in decodeJwt(await issueAccessToken({ userId }, settings))), "no sid claim is written");
  });

  it("ignores a sid claim that is not a string, signed with the right key", async () => {
    const key = new TextEncoder().encode(settings.jwtSecret);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sid: 42 })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: "JWT" })
      .setSubject(subject.userId)
      .setJti(randomUUID())
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(key);
    const claims = await verifyAccessToken(token, settings);
    assert.equal(claims.userId, subject.userId);
    assert.equal(claims.sessionId, undefined);
  });

  it("stops accepting a remembered token once it expires (with the same tolerance)", async function () {
    this.timeout(5000);
    // Issued so that its expiry plus the 5 s tolerance falls within a second from now.
    const nowSeconds = Math.floor(Date.now() / 1000);
    const token = await issueAccessToken(
      subject,
      { ...settings, accessTokenTtlSeconds: 1 },
      new Date((nowSeconds - 5) * 1000),
    );
    await verifyAccessToken(token, settings);
    await new Promise((resolve) => setTimeout(resolve, (nowSeconds + 1) * 1000 - Date.now() + 50));
    await assert.rejects(verifyAccessToken(token, settings), joseErrors.JWTExpired);
  });
});
