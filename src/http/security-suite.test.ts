import assert from "node:assert/strict";
import { z } from "zod";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import { rolesAllowed, roleNames } from "../auth/roles.js";
import { routes } from "../modules/index.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import {
  badCredentials,
  buildSecurityCallers,
  fillPath,
  fillProblems,
  isIdParam,
  paramValue,
  requestBody,
  securityCases,
  type SecurityCallers,
  type SecurityCase,
} from "../testing/security.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { OAuth2ErrorBodySchema, type OAuth2ErrorBody } from "./oauth2.js";
import { API_PREFIX } from "./router.js";
import type { Route } from "./route.js";

/**
 * The shared security suite, generated from the route table: whatever a route
 * declares, a bad credential is refused with 401, a role it does not allow with 403, an unknown id
 * stays hidden, a public route ignores bad credentials, and no such request is ever answered 5xx.
 */

const PROTOBUF_TYPE = "application/protobuf";
const JSON_TYPE = "application/json; charset=utf-8";

const cases = securityCases(routes);
const label = (route: { method: string; path: string }) => `${route.method.toUpperCase()} ${route.path}`;

/**
 * Decodes an error body and checks it is a well-formed shtp.v1.Error: JSON must survive the codec
 * unchanged (no unknown fields, no wrong types), protobuf must decode.
 */
function errorOf(response: RawResponse): ErrorMessage {
  const type = String(response.headers["content-type"]);
  if (type === PROTOBUF_TYPE) return ErrorMessage.decode(response.body);
  assert.equal(type, JSON_TYPE, "an error is JSON or protobuf");
  const json: unknown = JSON.parse(response.body.toString("utf8"));
  const error = ErrorMessage.fromJSON(json);
  assert.deepEqual(ErrorMessage.toJSON(error), json, "the JSON body is exactly a shtp.v1.Error");
  return error;
}

/** Checks an OAuth 2.0 endpoint's error is exactly an RFC 6749 §5.2 body, in JSON, not cached. */
function oauth2ErrorBody(response: RawResponse): OAuth2ErrorBody {
  assert.equal(response.headers["content-type"], JSON_TYPE, "OAuth 2.0 errors are JSON");
  assert.equal(response.headers["cache-control"], "no-store");
  return OAuth2ErrorBodySchema.strict().parse(JSON.parse(response.body.toString("utf8")));
}

describe("shared security suite: every declared route, from its declaration", () => {
  describe("the generated cases", () => {
    it("every path parameter of every route can be filled, and the filled path reaches that route", () => {
      const problems = routes.flatMap((route) =>
        fillProblems(route, routes).map((problem) => `${label(route)}: ${problem}`),
      );
      assert.deepEqual(problems, [], "teach src/testing/security.ts to fill these paths");
    });

    it("the filler gives id-like parameters a v4 uuid and others a short word", () => {
      assert.ok(isIdParam("id") && isIdParam("groupId") && !isIdParam("idOrNickName") && !isIdParam("valid"));
      assert.match(paramValue("userId"), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.match(paramValue("nickName"), /^[a-z0-9]{1,16}$/);
      const filled = fillPath({ path: "/groups/:groupId/members/:nickName" });
      assert.equal(filled.path, `/groups/${filled.params.groupId}/members/${filled.params.nickName}`);
    });

    it("the filler guard reports a parameter it cannot fill, values the params schema refuses and a shadowed path", () => {
      const [template] = routes;
      assert.ok(template);
      const variant = (name: string, path: string, extra: Partial<Route> = {}): Route => ({
        ...template,
        ...extra,
        name,
        method: "get",
        path,
      });
      const optional = variant("oddOptional", "/odd/{:rest}");
      const wildcard = variant("oddWildcard", "/odd/files/*path");
      const refused = variant("oddCode", "/odd/codes/:code", {
        params: z.strictObject({ code: z.string().regex(/^\d{6}$/) }),
      });
      const shadowed = variant("oddShadowed", "/odd/:name/x");
      const table = [variant("oddFirst", "/odd/:first/x"), optional, wildcard, refused, shadowed];
      for (const route of [optional, wildcard, refused, shadowed]) {
        assert.ok(fillProblems(route, table).length > 0, route.path);
      }
      assert.deepEqual(fillProblems(variant("oddPlain", "/odd/:id/x"), [variant("oddPlain", "/odd/:id/x")]), []);
    });

    it("no route escapes: every non-public route has 401 cases for each bad credential in both encodings, 403 for each disallowed role and a case for each allowed role", () => {
      for (const route of routes) {
        const own = cases.filter((entry) => entry.route === route);
        assert.ok(own.length > 0, `${label(route)} has no security cases`);
        const credentialCases = (accept: SecurityCase["accept"]) =>
          new Set(
            own.flatMap((entry) =>
              entry.caller.kind === "credential" && entry.accept === accept ? [entry.caller.credential.kind] : [],
            ),
          );
        if (route.access === "public") {
          assert.equal(credentialCases("default").size, badCredentials.length, `${label(route)}: public cases`);
          continue;
        }
        assert.equal(credentialCases("default").size, badCredentials.length, `${label(route)}: JSON 401 cases`);
        assert.equal(credentialCases("protobuf").size, badCredentials.length, `${label(route)}: protobuf 401 cases`);
        for (const role of roleNames) {
          const roleCases = own.filter((entry) => entry.caller.kind === "role" && entry.caller.role === role);
          assert.ok(roleCases.length > 0, `${label(route)}: no case for ${role}`);
          const refused = roleCases.every((entry) => entry.expect.kind === "refused");
          assert.equal(refused, !rolesAllowed(route.access).includes(role), `${label(route)}: ${role}`);
        }
      }
      assert.equal(new Set(cases.map((entry) => entry.title)).size, cases.length, "case titles are unique");
    });
  });

  describe("over real HTTP", () => {
    let server: TestServer;
    let callers: SecurityCallers;
    before(async () => {
      server = await startTestServer();
      callers = await buildSecurityCallers(server.config);
    });
    after(() => server.close());

    async function send(entry: SecurityCase): Promise<RawResponse> {
      const authorization =
        entry.caller.kind === "role" ? callers.roles[entry.caller.role] : callers.bad[entry.caller.credential.kind];
      const { headers, body } = requestBody(entry.route, entry.body);
      return rawRequest(`${server.url}${API_PREFIX}${entry.path}`, {
        method: entry.route.method.toUpperCase(),
        headers: {
          ...headers,
          ...(authorization === undefined ? {} : { authorization }),
          ...(entry.accept === "protobuf" ? { accept: PROTOBUF_TYPE } : {}),
        },
        body,
      });
    }

    for (const entry of cases) {
      it(entry.title, async () => {
        const response = await send(entry);
        const text = () => `${response.status} ${response.body.toString("utf8").slice(0, 300)}`;
        const requestId = response.headers["x-request-id"];
        assert.ok(typeof requestId === "string" && requestId.length > 0, "every response carries X-Request-Id");
        assert.ok(response.status < 500, `never 5xx for what a client sent: ${text()}`);
        if (entry.route.oauth2 && response.status >= 400) oauth2ErrorBody(response);
        const error = response.status >= 400 && !entry.route.oauth2 ? errorOf(response) : undefined;
        if (error) assert.equal(error.requestId, requestId, "the error carries the request id");

        const { expect } = entry;
        switch (expect.kind) {
          case "refused":
            assert.equal(response.status, expect.status, text());
            assert.equal(response.headers["content-type"], entry.accept === "protobuf" ? PROTOBUF_TYPE : JSON_TYPE);
            assert.equal(error?.code, expect.code, text());
            assert.ok((error?.detail.length ?? 0) > 0, "the error explains itself");
            break;
          case "passesGate":
          case "ignoresCredential":
            assert.ok(response.status !== 401 && response.status !== 403, text());
            break;
          case "hidesUnknownObject":
            assert.ok([400, 403, 404].includes(response.status), text());
            break;
        }
      });
    }
  });
});
