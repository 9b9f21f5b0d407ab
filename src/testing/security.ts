import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import Router from "@koa/router";
import { decodeJwt } from "jose";
import { authenticate } from "../auth/authenticate.js";
import { rolesAllowed, roleNames, type RoleName } from "../auth/roles.js";
import { issueAccessToken } from "../auth/tokens.js";
import type { Config } from "../config/index.js";
import type { Route } from "../http/route.js";
import { revokeSessions } from "../modules/auth/service.js";
import { testDatabase } from "./database.js";
import { buildUser, sessionFor } from "./factories.js";

/**
 * The shared security suite's raw material, derived from route declarations
 * alone: a request path for any declared route, the credentials that must not hold, the callers of
 * each role, and the list of cases every route goes through. A route added to the table joins the
 * suite without anyone writing its name down.
 */

// ---------------------------------------------------------------------------------------------
// Paths

/** A path parameter holding a uuid: `id`, or any lowerCamelCase name ending in `Id` (`groupId`). */
export const isIdParam = (name: string): boolean => name === "id" || /^[a-z][A-Za-z0-9]*Id$/.test(name);

/** A `:name` segment the filler understands: a plain name, with no pattern, modifier or wildcard. */
const paramSegment = /^:([A-Za-z][A-Za-z0-9]*)$/;
/** Characters that make a segment path-to-regexp syntax rather than a literal. */
const syntax = /[:*?+(){}[\]\\]/;

/** A path parameter holding a calendar date (YYYY-MM-DD): `day`. */
export const isDayParam = (name: string): boolean => name === "day";

/** A random date in a far year, which no test data uses. */
const randomDay = () => {
  const [month = 0, day = 0] = randomBytes(2);
  return `2999-${String((month % 12) + 1).padStart(2, "0")}-${String((day % 28) + 1).padStart(2, "0")}`;
};

/**
 * @param name - a path parameter's name
 * @returns a random v4 uuid for id-like names, a random far date for days, a random short lowercase
 *   word otherwise
 */
export const paramValue = (name: string): string =>
  isIdParam(name) ? randomUUID() : isDayParam(name) ? randomDay() : `p${randomBytes(4).toString("hex")}`;

/** A declared route's path with every parameter given a value. */
export interface FilledPath {
  /** The path below /api/v1, such as `/users/3f0c…`. */
  path: string;
  params: Record<string, string>;
}

/**
 * Fills each `:param` of a route's path. Segments it cannot fill are left as they are, so the
 * request misses the route loudly and `fillProblems` names them.
 * @param route - the declared route
 */
export function fillPath(route: Pick<Route, "path">): FilledPath {
  const params: Record<string, string> = {};
  const path = route.path
    .split("/")
    .map((segment) => {
      const name = paramSegment.exec(segment)?.[1];
      if (name === undefined) return segment;
      params[name] = paramValue(name);
      return params[name];
    })
    .join("/");
  return { path, params };
}

/** @returns the names of a route's path parameters, in order */
export const pathParamNames = (route: Pick<Route, "path">): string[] =>
  route.path.split("/").flatMap((segment) => paramSegment.exec(segment)?.[1] ?? []);

/**
 * Why the filler cannot make a request reach `route`: a segment in a syntax it does not know, values
 * the route's own params schema refuses, or a filled path that the router hands to another route.
 * @param route - the route to check
 * @param table - the whole route table, in declaration order (earlier routes win a tie)
 * @returns one sentence per problem; empty when the route can be reached
 */
export function fillProblems(route: Route, table: readonly Route[]): string[] {
  const problems: string[] = [];
  for (const segment of route.path.split("/")) {
    if (syntax.test(segment) && !paramSegment.test(segment)) {
      problems.push(`segment "${segment}" is not a plain :name the filler can fill`);
    }
  }
  const filled = fillPath(route);
  if (route.params) {
    const parsed = route.params.safeParse(filled.params);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((issue) => issue.path.join(".") || "(root)").join(", ");
      problems.push(`the params schema refuses the filled values ${JSON.stringify(filled.params)} (${fields})`);
    }
  }
  const router = new Router();
  try {
    for (const entry of table) router.register(entry.path, [entry.method], () => undefined, { name: entry.name });
  } catch (error) {
    problems.push(`the router cannot read the table: ${error instanceof Error ? error.message : String(error)}`);
    return problems;
  }
  const [first] = router.match(filled.path, route.method).pathAndMethod;
  if (first?.name !== route.name) {
    problems.push(`${route.method.toUpperCase()} ${filled.path} is routed to ${first?.name ?? "nothing"}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Credentials

/** The credentials that must never open a protected route, with the refusal each one earns. */
export const badCredentials = [
  { kind: "none", label: "no token", code: "unauthenticated" },
  { kind: "bearerAlone", label: '"Bearer" alone', code: "unauthenticated" },
  { kind: "basic", label: '"Basic abc"', code: "unauthenticated" },
  { kind: "garbage", label: "a garbage bearer token", code: "unauthenticated" },
  { kind: "otherSecret", label: "a token signed with another secret", code: "unauthenticated" },
  { kind: "algNone", label: "an alg:none token", code: "unauthenticated" },
  { kind: "expired", label: "an expired token", code: "token_expired" },
  { kind: "wrongAudience", label: "a token for another audience", code: "unauthenticated" },
  { kind: "wrongIssuer", label: "a token from another issuer", code: "unauthenticated" },
  { kind: "revokedSession", label: "a token of a revoked session", code: "unauthenticated" },
] as const satisfies readonly { kind: string; label: string; code: "unauthenticated" | "token_expired" }[];

export type BadCredential = (typeof badCredentials)[number];
export type BadCredentialKind = BadCredential["kind"];

/** The Authorization header values the cases send; undefined means no header at all. */
export interface SecurityCallers {
  bad: Record<BadCredentialKind, string | undefined>;
  /** One real user per role, each with its own open session. */
  roles: Record<RoleName, string>;
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * Creates one user per role with a real session, and mints the bad credentials for the admin's
 * very user and session, so each differs from a token that passes in exactly one respect. The admin
 * passes every role gate, so the admin cases of the suite are the control for the bad tokens.
 * @param config - the server's configuration (its secret, issuer and audience)
 */
export async function buildSecurityCallers(config: Config): Promise<SecurityCallers> {
  const { sequelize } = testDatabase().database;
  const sessions = {} as Record<RoleName, { userId: string; sessionId: string; accessToken: string }>;
  for (const role of roleNames) {
    const user = await buildUser({ role });
    const { accessToken, sessionId } = await sessionFor(user, config);
    sessions[role] = { userId: user.id, sessionId, accessToken };
  }
  const admin = sessions.admin;
  const subject = { userId: admin.userId, sessionId: admin.sessionId };
  const mint = (changes: Partial<Config["auth"]> = {}, now?: Date) =>
    issueAccessToken(subject, { ...config.auth, ...changes }, now);

  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({
    ...decodeJwt(admin.accessToken),
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 600,
  })}.`;
  const expiredAt = new Date(Date.now() - (config.auth.accessTokenTtlSeconds + 3600) * 1000);

  // A second session of the admin, ended the way a password change ends the others.
  const other = await sessionFor({ id: admin.userId }, config);
  const bearer = (token: string) => `Bearer ${token}`;
  assert.ok(
    await authenticate(bearer(other.accessToken), config.auth, sequelize),
    "the session works before revocation",
  );
  await revokeSessions({ sequelize }, admin.userId, admin.sessionId);
  assert.equal(
    (await authenticate(bearer(admin.accessToken), config.auth, sequelize))?.id,
    admin.userId,
    "the admin's own session must survive the revocation of the other one",
  );

  return {
    bad: {
      none: undefined,
      bearerAlone: "Bearer",
      basic: "Basic abc",
      garbage: "Bearer garbage.token.here",
      otherSecret: bearer(await mint({ jwtSecret: randomBytes(32).toString("hex") })),
      algNone: bearer(unsigned),
      expired: bearer(await mint({}, expiredAt)),
      wrongAudience: bearer(await mint({ audience: `${config.auth.audience}-other` })),
      wrongIssuer: bearer(await mint({ issuer: `${config.auth.issuer}-other` })),
      revokedSession: bearer(other.accessToken),
    },
    roles: {
      student: bearer(sessions.student.accessToken),
      teacher: bearer(sessions.teacher.accessToken),
      admin: bearer(admin.accessToken),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** Each protected request goes without a body, and again with the body kind its route takes. */
export type BodyVariant = "empty" | "json" | "multipart";

/** @returns the body variants a route is probed with: always none, plus `{}` or a small multipart file */
export function bodyVariantsOf(route: Route): BodyVariant[] {
  return ["empty", ...(route.body ? (["json"] as const) : []), ...(route.upload ? (["multipart"] as const) : [])];
}

/**
 * @param route - the route, for its upload field
 * @param variant - which body
 * @returns the headers and bytes of that body (no Content-Type for the empty one)
 */
export function requestBody(route: Route, variant: BodyVariant): { headers: Record<string, string>; body?: Buffer } {
  if (variant === "empty") return { headers: {} };
  if (variant === "json") return { headers: { "content-type": "application/json" }, body: Buffer.from("{}") };
  const boundary = `shtp-security-${randomBytes(8).toString("hex")}`;
  const field = route.upload?.field ?? "file";
  const body = Buffer.from(
    [
      `--${boundary}`,
      `Content-Disposition: form-data; name="${field}"; filename="probe.txt"`,
      "Content-Type: text/plain",
      "",
      "security probe",
      `--${boundary}--`,
      "",
    ].join("\r\n"),
  );
  return { headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body };
}

// ---------------------------------------------------------------------------------------------
// Cases

export type SecurityCaller = { kind: "credential"; credential: BadCredential } | { kind: "role"; role: RoleName };

export type SecurityExpectation =
  /** The gate refuses: 401 for a credential that does not hold, 403 for a role the route does not allow. */
  | { kind: "refused"; status: 401 | 403; code: "unauthenticated" | "token_expired" | "permission_denied" }
  /** An allowed role gets past the gate: anything but 401/403, never 5xx. */
  | { kind: "passesGate" }
  /** An allowed role asking for an unknown id: 400, 403 or 404, never a success or 5xx. */
  | { kind: "hidesUnknownObject" }
  /** A public route ignores a credential that does not hold: anything but 401/403, never 5xx. */
  | { kind: "ignoresCredential" };

/** One request of the shared suite and what must come back. */
export interface SecurityCase {
  route: Route;
  /** States the caller, the variant, the status and the reason. */
  title: string;
  /** The filled request path below /api/v1. */
  path: string;
  caller: SecurityCaller;
  body: BodyVariant;
  /** `protobuf` sends `Accept: application/protobuf`; `default` sends no Accept (JSON). */
  accept: "default" | "protobuf";
  expect: SecurityExpectation;
}

const bodyLabels: Record<BodyVariant, string> = { empty: "", json: ", JSON {} body", multipart: ", multipart body" };

/**
 * Every case of the shared security suite, derived from the route declarations alone.
 * - protected routes: each bad credential → 401 (once per body variant, and once asking for
 *   protobuf); each role the route does not allow → 403 (once per body variant); each allowed role
 *   passes the gate, and on a route taking an id it is answered 400/403/404 for an unknown one.
 * - public routes: each bad credential is ignored, once per body variant.
 * @param table - the route table
 */
export function securityCases(table: readonly Route[]): SecurityCase[] {
  const cases: SecurityCase[] = [];
  for (const route of table) {
    const name = `${route.method.toUpperCase()} ${route.path}`;
    const { path } = fillPath(route);
    const variants = bodyVariantsOf(route);
    const add = (entry: Omit<SecurityCase, "route" | "path">) => cases.push({ route, path, ...entry });

    if (route.access === "public") {
      for (const credential of badCredentials) {
        for (const body of variants) {
          add({
            title: `${name} (public): ${credential.label}${bodyLabels[body]} → ignored (not 401/403, no 5xx)`,
            caller: { kind: "credential", credential },
            body,
            accept: "default",
            expect: { kind: "ignoresCredential" },
          });
        }
      }
      continue;
    }

    for (const credential of badCredentials) {
      const expect = { kind: "refused", status: 401, code: credential.code } as const;
      const caller = { kind: "credential", credential } as const;
      for (const body of variants) {
        add({
          title: `${name}: ${credential.label}${bodyLabels[body]} → 401 ${credential.code}`,
          caller,
          body,
          accept: "default",
          expect,
        });
      }
      add({
        title: `${name}: ${credential.label}, Accept protobuf → 401 ${credential.code}`,
        caller,
        body: "empty",
        accept: "protobuf",
        expect,
      });
    }

    const allowed = rolesAllowed(route.access);
    const takesId = pathParamNames(route).some(isIdParam);
    for (const role of roleNames) {
      const caller = { kind: "role", role } as const;
      if (!allowed.includes(role)) {
        for (const body of variants) {
          add({
            title: `${name}: ${role}${bodyLabels[body]} → 403 permission_denied`,
            caller,
            body,
            accept: "default",
            expect: { kind: "refused", status: 403, code: "permission_denied" },
          });
        }
      } else if (takesId) {
        add({
          title: `${name}: ${role}, unknown id → 404/403/400 (another user's private object stays hidden), never 2xx or 5xx`,
          caller,
          body: "empty",
          accept: "default",
          expect: { kind: "hidesUnknownObject" },
        });
      } else {
        add({
          title: `${name}: ${role} → passes the role gate (not 401/403, no 5xx)`,
          caller,
          body: "empty",
          accept: "default",
          expect: { kind: "passesGate" },
        });
      }
    }
  }
  return cases;
}
