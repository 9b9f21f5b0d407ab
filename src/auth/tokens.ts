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

/** Seconds of clock skew allowed on `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Tokens whose verification is remembered at most, per configuration; past it the oldest is forgotten. */
const MAX_VERIFIED_TOKENS = 20_000;

/** Tokens already verified, with their claims and the instant they stop being accepted. */
type VerifiedTokens = Map<string, { claims: AccessClaims; acceptedUntilMs: number }>;
const verifiedTokens = new WeakMap<TokenSettings, VerifiedTokens>();

/**
 * Verifies signature, algorithm, issuer, audience, expiry and not-before. A token verified once is
 * remembered until it expires, so a client's every request does not cost another HMAC (about 4% of a
 * request's CPU in the benchmark): nothing in a token can change, only time can end it, and whether
 * its session still holds is the session check's question, asked on every request all the same.
 * @throws a jose error (JWTExpired for expiry), which the error boundary maps to 401
 */
export async function verifyAccessToken(token: string, settings: TokenSettings): Promise<AccessClaims> {
  let remembered = verifiedTokens.get(settings);
  const known = remembered?.get(token);
  if (known && Date.now() < known.acceptedUntilMs) return known.claims;
  if (known) remembered?.delete(token);
  const { payload } = await jwtVerify(token, await keyOf(settings), {
    algorithms: [ACCESS_TOKEN_ALGORITHM],
    issuer: settings.issuer,
    audience: settings.audience,
    requiredClaims: ["sub", "jti", "exp", "nbf", "iat"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  });
  const claims = {
    userId: String(payload.sub),
    tokenId: String(payload.jti),
    sessionId: typeof payload.sid === "string" ? payload.sid : undefined,
  };
  if (!remembered) {
    const created: VerifiedTokens = new Map();
    verifiedTokens.set(settings, created);
    remembered = created;
  }
  if (remembered.size >= MAX_VERIFIED_TOKENS) {
    const oldest = remembered.keys().next();
    if (!oldest.done) remembered.delete(oldest.value);
  }
  // requiredClaims made jose check that exp is there and a number.
  remembered.set(token, { claims, acceptedUntilMs: (Number(payload.exp) + CLOCK_TOLERANCE_SECONDS) * 1000 });
  return claims;
}
