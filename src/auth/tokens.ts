import { randomUUID, webcrypto } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import type { Config } from "../config/index.js";

/** The one algorithm we sign with and accept; pinning it shuts out `alg: none` and key confusion. */
export const ACCESS_TOKEN_ALGORITHM = "HS256";

/** What a verified access token says. */
export interface AccessClaims {
  /** The user id (never the email). */
  userId: string;
  /** The token's own id. */
  tokenId: string;
  /** The sign-in session (refresh chain) it belongs to, when issued by a login. */
  sessionId: string | undefined;
}

export type TokenSettings = Config["auth"];

const keys = new WeakMap<TokenSettings, Promise<webcrypto.CryptoKey>>();

/**
 * The HMAC key, imported once per configuration: handing jose the raw secret would make it import
 * the key through WebCrypto again on every request (about 5% of a request's CPU in the benchmark).
 */
function keyOf(settings: TokenSettings): Promise<webcrypto.CryptoKey> {
  let key = keys.get(settings);
  if (!key) {
    key = webcrypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(settings.jwtSecret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(settings, key);
  }
  return key;
}

/**
 * Signs a short-lived access token.
 * @param subject - the user and, when there is one, the session it belongs to
 * @param settings - secret, issuer, audience and lifetime
 * @param now - the issuing time, for tests that need a token from the past
 */
export async function issueAccessToken(
  subject: { userId: string; sessionId?: string },
  settings: TokenSettings,
  now: Date = new Date(),
): Promise<string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT(subject.sessionId ? { sid: subject.sessionId } : {})
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: "JWT" })
    .setSubject(subject.userId)
    .setJti(randomUUID())
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + settings.accessTokenTtlSeconds)
    .sign(await keyOf(settings));
}

/**
 * Verifies signature, algorithm, issuer, audience, expiry and not-before.
 * @throws a jose error (JWTExpired for expiry), which the error boundary maps to 401
 */
export async function verifyAccessToken(token: string, settings: TokenSettings): Promise<AccessClaims> {
  const { payload } = await jwtVerify(token, await keyOf(settings), {
    algorithms: [ACCESS_TOKEN_ALGORITHM],
    issuer: settings.issuer,
    audience: settings.audience,
    requiredClaims: ["sub", "jti", "exp", "nbf", "iat"],
    clockTolerance: 5,
  });
  return {
    userId: String(payload.sub),
    tokenId: String(payload.jti),
    sessionId: typeof payload.sid === "string" ? payload.sid : undefined,
  };
}
