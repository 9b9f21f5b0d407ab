import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import { rolesAllowed } from "../auth/roles.js";
import { routes } from "../modules/index.js";
import { fixtureRoutes } from "../testing/fixture-routes.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { protobufMediaTypes } from "./media.js";
import { buildOpenApiDocument, errorsOf, permissionTable } from "./openapi.js";
import { protoDir } from "../contract/descriptors.js";
import { defineRoute, openApiPath, type Route } from "./route.js";
import { decodeAs } from "../testing/api.js";
import { z } from "zod";
import { CreateEventRequest } from "../../generated/shtp/v1/events.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { token as tokenRoute } from "../modules/auth/routes.js";
import { each, required, requestBody } from "../validation/rules.js";

/** The parts of the OpenAPI document these tests read. */
interface MediaObject {
  schema?: {
    $ref?: string;
    type?: string;
    format?: string;
    required?: string[];
    properties?: Record<string, unknown>;
  };
  encoding?: Record<string, { contentType?: string }>;
  "x-proto-message"?: string;
}

interface ResponseObject {
  description: string;
  content?: Record<string, MediaObject>;
  "x-proto-message"?: string;
  "x-error-codes"?: string[];
  "x-oauth2-errors"?: string[];
}

interface Operation {
  operationId: string;
  summary: string;
  security: Record<string, string[]>[];
  "x-roles": string[];
  responses: Record<string, ResponseObject>;
  requestBody?: { content: Record<string, MediaObject>; "x-proto-message"?: string };
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { type?: string; properties?: Record<string, unknown>; required?: string[] }>;
    securitySchemes: Record<
      string,
      { type: string; scheme?: string; bearerFormat?: string; flows?: unknown; in?: string; name?: string }
    >;
  };
}

const ERROR_REF = "#/components/schemas/Error";
const OAUTH2_ERROR_REF = "#/components/schemas/OAuth2Error";
const mediaTypes = ["application/json", ...protobufMediaTypes];

const bodyText = (response: RawResponse) => response.body.toString("utf8");

const errorOf = (response: RawResponse): ErrorMessage => decodeAs(ErrorMessage, response);

/**
 * A GET with the request target exactly as given: URL parsing (as `rawRequest` does) would resolve
 * `..` segments on the client side, and a traversal test must send them to the server.
 */
function requestTarget(server: TestServer, target: string): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: hostname, port, path: target, method: "GET" }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, wireBody: body });
      });
    });
    request.on("error", reject);
    request.end();
  });
}

/** Fetches and parses the served document twice: typed for reading, plain for the validator. */
async function fetchDocument(server: TestServer): Promise<{ typed: OpenApiDocument; plain: Record<string, unknown> }> {
  const response = await rawRequest(`${server.url}/api/v1/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(String(response.headers["content-type"]), /^application\/json/);
  const text = bodyText(response);
  return { typed: JSON.parse(text) as OpenApiDocument, plain: JSON.parse(text) as Record<string, unknown> };
}

const tables: [string, readonly Route[]][] = [
  ["the API's route table", routes],
  ["the API's routes with the test fixtures (protected and body-taking routes)", [...routes, ...fixtureRoutes]],
];

for (const [label, table] of tables) {
  describe(`GET /api/v1/openapi.json over ${label}`, () => {
    let server: TestServer;
    let document: OpenApiDocument;
    let plain: Record<string, unknown>;
    before(async () => {
      server = await startTestServer({ routes: table });
      ({ typed: document, plain } = await fetchDocument(server));
    });
    after(() => server.close());

    const operationOf = (route: Route): Operation => {
      const operation = document.paths[openApiPath(route.path)]?.[route.method];
      assert.ok(operation, `${route.method.toUpperCase()} ${route.path} is missing from the document`);
      return operation;
    };

    it("is a valid OpenAPI 3.1 document", async () => {
      const validator = new Validator();
      const result = await validator.validate(plain);
      assert.ok(result.valid, `OpenAPI validation failed:\n${JSON.stringify(result.errors, null, 2)}`);
      assert.equal(validator.version, "3.1");
      assert.match(document.openapi, /^3\.1\.\d+$/);
      assert.equal(document.info.title, "ShTP API");
      assert.ok(document.info.version.length > 0);
    });

    it("has every declared route under its path and method, with operationId = route name", () => {
      assert.ok(table.length > 0);
      for (const route of table) {
        const operation = operationOf(route);
        assert.equal(operation.operationId, route.name);
        assert.equal(operation.summary, route.summary);
      }
      const declared = Object.values(document.paths).flatMap((methods) => Object.keys(methods));
      assert.equal(declared.length, table.length, "no operation beyond the declared routes");
    });

    it("gives each success response JSON and the three protobuf media types, naming the message", () => {
      for (const route of table) {
        const operation = operationOf(route);
        if (route.events) {
          // Event streams answer text/event-stream; each event's data is the named message.
          const stream = operation.responses["200"];
          assert.deepEqual(Object.keys(stream?.content ?? {}), ["text/event-stream"], route.name);
          assert.equal(stream?.["x-proto-message"], route.events.$type, route.name);
          continue;
        }
        if (route.oauth2) {
          // An OAuth 2.0 token endpoint answers plain JSON only (RFC 6749 §5.1), no contract message.
          const tokens = operation.responses["200"];
          assert.deepEqual(Object.keys(tokens?.content ?? {}), ["application/json"], route.name);
          assert.equal(tokens?.["x-proto-message"], undefined, route.name);
          continue;
        }
        if (route.download) {
          // Downloads answer their file's own media types, never a message.
          const file = operation.responses["200"];
          assert.deepEqual(Object.keys(file?.content ?? {}).sort(), [...route.download.mediaTypes].sort(), route.name);
          assert.equal(file?.content?.[route.download.mediaTypes[0] ?? ""]?.schema?.format, "binary", route.name);
          continue;
        }
        if (!route.response) {
          assert.ok(operation.responses["204"], route.name);
          continue;
        }
        const success = operation.responses[String(route.successStatus ?? 200)];
        assert.ok(success?.content, route.name);
        assert.deepEqual(Object.keys(success.content).sort(), [...mediaTypes].sort(), route.name);
        assert.equal(success["x-proto-message"], route.response.$type);
        assert.match(String(success.content["application/json"]?.schema?.$ref), /^#\/components\/schemas\//);
        for (const type of protobufMediaTypes) {
          const media: MediaObject | undefined = success.content[type];
          assert.equal(media?.["x-proto-message"], route.response.$type, `${route.name} ${type}`);
          assert.equal(media?.schema?.format, "binary");
        }
      }
    });

    it("describes request bodies in both encodings with the proto message", () => {
      for (const route of table.filter((candidate) => candidate.body)) {
        const requestBody = operationOf(route).requestBody;
        assert.ok(requestBody, route.name);
        assert.equal(requestBody["x-proto-message"], route.body?.message.$type);
        if (route.upload) {
          // An upload's message travels as a multipart part, in either encoding by the part's own type;
          // an optional upload also takes the message alone, in both encodings.
          assert.deepEqual(
            Object.keys(requestBody.content).sort(),
            [...(route.upload.optional ? mediaTypes : []), "multipart/form-data"].sort(),
            route.name,
          );
          const form = requestBody.content["multipart/form-data"];
          const part = route.upload.messagePart ?? "";
          assert.deepEqual(form?.schema?.required, [part, route.upload.field], route.name);
          assert.match(String(form?.encoding?.[part]?.contentType), /application\/json.*application\/x-protobuf/);
          continue;
        }
        assert.deepEqual(Object.keys(requestBody.content).sort(), [...mediaTypes].sort());
      }
    });

    it("marks protected operations with bearerAuth and their roles, and public ones with neither", () => {
      for (const route of table) {
        const operation = operationOf(route);
        if (route.access === "public") {
          assert.deepEqual(operation.security, [], route.name);
          assert.deepEqual(operation["x-roles"], ["anyone"], route.name);
        } else {
          // The bearer token, the same token from the OAuth 2.0 password flow, and the route's query credential.
          const queryCredential = route.queryCredential ? [{ [route.queryCredential.scheme]: [] }] : [];
          assert.deepEqual(operation.security, [{ bearerAuth: [] }, { oauth2: [] }, ...queryCredential], route.name);
          assert.deepEqual(operation["x-roles"], [...rolesAllowed(route.access)], route.name);
        }
      }
      const protectedRoutes = table.filter((route) => route.access !== "public");
      if (table.some((route) => route.name === "testTeacherOnly")) {
        assert.ok(protectedRoutes.length > 0, "the fixtures include a protected route");
        const teachers = document.paths["/test/teachers"]?.get;
        assert.deepEqual(teachers?.["x-roles"], ["teacher", "admin"]);
        assert.ok(teachers?.responses["401"] && teachers.responses["403"]);
      }
    });

    it("documents every error the route can answer with, each referencing the Error schema", () => {
      for (const route of table) {
        const operation = operationOf(route);
        const documented = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
        if (route.oauth2) {
          // RFC 6749 §5.2 errors, by the statuses oauth2ErrorOf answers.
          assert.deepEqual(
            Object.fromEntries(documented.map(([status, response]) => [status, response["x-oauth2-errors"]])),
            {
              "400": ["invalid_request", "invalid_grant", "unsupported_grant_type", "invalid_scope"],
              "429": ["invalid_grant"],
              "500": ["server_error"],
              "503": ["temporarily_unavailable"],
            },
            route.name,
          );
          for (const [status, response] of documented) {
            assert.deepEqual(Object.keys(response.content ?? {}), ["application/json"], `${route.name} ${status}`);
            assert.equal(response.content?.["application/json"]?.schema?.$ref, OAUTH2_ERROR_REF, route.name);
          }
          continue;
        }
        const codes = documented.flatMap(([, response]) => response["x-error-codes"] ?? []);
        assert.deepEqual([...codes].sort(), [...errorsOf(route)].sort(), route.name);
        for (const [status, response] of documented) {
          assert.equal(response.content?.["application/json"]?.schema?.$ref, ERROR_REF, `${route.name} ${status}`);
          for (const type of protobufMediaTypes) {
            assert.equal(response.content?.[type]?.["x-proto-message"], "shtp.v1.Error", `${route.name} ${status}`);
          }
        }
        assert.ok(operation.responses["500"] && operation.responses["503"], route.name);
      }
      const error = document.components.schemas.Error;
      assert.equal(error?.type, "object");
      assert.deepEqual(Object.keys(error.properties ?? {}).sort(), ["code", "detail", "fieldViolations", "requestId"]);
    });

    it("declares bearerAuth as HTTP bearer (JWT)", () => {
      assert.deepEqual(document.components.securitySchemes.bearerAuth, {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
      });
    });

    it("declares the OAuth 2.0 password flow at /api/v1/auth/token, so Swagger UI's Authorize takes email and password", () => {
      const oauth2 = document.components.securitySchemes.oauth2;
      assert.equal(oauth2?.type, "oauth2");
      assert.deepEqual(oauth2?.flows, {
        password: { tokenUrl: "/api/v1/auth/token", refreshUrl: "/api/v1/auth/token", scopes: {} },
      });
      const token = document.paths["/auth/token"]?.post;
      assert.ok(token, "the token endpoint is documented");
      assert.deepEqual(token.security, []);
      // Form-encoded in, JSON out: never protobuf.
      assert.deepEqual(Object.keys(token.requestBody?.content ?? {}), ["application/x-www-form-urlencoded"]);
      const form = token.requestBody?.content["application/x-www-form-urlencoded"]?.schema;
      assert.deepEqual(form?.required, ["grant_type"]);
      assert.deepEqual(Object.keys(form?.properties ?? {}).sort(), [
        "grant_type",
        "password",
        "refresh_token",
        "scope",
        "username",
      ]);
      const answer = token.responses["200"]?.content?.["application/json"]?.schema;
      assert.deepEqual(answer?.required?.sort(), ["access_token", "expires_in", "refresh_token", "token_type"]);
      assert.deepEqual(document.components.schemas.OAuth2Error?.required, ["error"]);
    });

    it("declares the stream ticket as a query credential of the notification stream only", () => {
      assert.deepEqual(
        { ...document.components.securitySchemes.streamTicket, description: undefined },
        { type: "apiKey", in: "query", name: "ticket", description: undefined },
      );
      const withTicket = Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, operation]) => operation.security.some((requirement) => "streamTicket" in requirement))
          .map(([method]) => `${method} ${path}`),
      );
      assert.deepEqual(withTicket, ["get /notifications/stream"]);
    });
  });
}

/**
 * Corners no route of today's table reaches, on a table of the test's own: the document must follow the
 * declarations wherever a module takes them next.
 */
describe("buildOpenApiDocument on a route table of its own", () => {
  const protectedRoute = defineRoute({
    name: "ownProtected",
    method: "post",
    path: "/own/events",
    summary: "A protected route with a body that adds no rules and a free-form query.",
    access: "signedIn",
    query: z.record(z.string(), z.string()),
    body: requestBody(ErrorMessage),
    response: ErrorMessage,
    handler: async () => ({ code: "", detail: "", fieldViolations: [], requestId: "" }),
  });
  const requiredOnly = defineRoute({
    name: "ownRequiredOnly",
    method: "put",
    path: "/own/events",
    summary: "A body whose only rule is that a field is set.",
    access: "public",
    body: requestBody(CreateEventRequest, { startsAt: required() }),
    handler: async () => undefined,
  });
  const requiredItems = defineRoute({
    name: "ownRequiredItems",
    method: "patch",
    path: "/own/events",
    summary: "A list rule over required nested items.",
    access: "public",
    body: requestBody(ErrorMessage, { fieldViolations: each(required({ field: z.string().min(3) }), { max: 4 }) }),
    handler: async () => undefined,
  });
  const root = defineRoute({
    name: "ownRoot",
    method: "get",
    path: "/",
    summary: "The API's root.",
    access: "public",
    response: VersionInfo,
    handler: async () => ({ name: "", version: "", apiVersion: "" }),
  });
  type Document = OpenApiDocument & { paths: Record<string, Record<string, Record<string, unknown>>> };
  const documentOf = (table: Route[]) => buildOpenApiDocument(table, "1.2.3") as unknown as Document;

  it("without a token endpoint, protects with the bearer token alone and declares no OAuth 2.0 parts", () => {
    const document = documentOf([protectedRoute, root]);
    assert.deepEqual(Object.keys(document.components.securitySchemes), ["bearerAuth"]);
    assert.equal("OAuth2Error" in document.components.schemas, false);
    assert.deepEqual(document.paths["/own/events"]?.post?.security, [{ bearerAuth: [] }]);
    assert.equal(document.info.version, "1.2.3");
  });

  it("references the bare message when a body adds no rules, and lists no parameters for a free-form query", () => {
    const operation = documentOf([protectedRoute]).paths["/own/events"]?.post as unknown as Operation & {
      parameters: unknown[];
    };
    assert.deepEqual(operation.requestBody?.content["application/json"]?.schema, { $ref: ERROR_REF });
    assert.deepEqual(operation.parameters, []);
  });

  it("lists a field that is only required, with no properties of its own", () => {
    const operation = documentOf([requiredOnly]).paths["/own/events"]?.put as unknown as Operation;
    assert.deepEqual(operation.requestBody?.content["application/json"]?.schema, {
      allOf: [
        { $ref: "#/components/schemas/CreateEventRequest" },
        { type: "object", properties: {}, required: ["startsAt"] },
      ],
    });
  });

  it("describes required items of a list by their own rules, under the list's bound", () => {
    const operation = documentOf([requiredItems]).paths["/own/events"]?.patch as unknown as Operation;
    const schema = operation.requestBody?.content["application/json"]?.schema as unknown as {
      allOf: [unknown, { properties: { fieldViolations: Record<string, unknown> } }];
    };
    assert.deepEqual(schema.allOf[1].properties.fieldViolations, {
      type: "array",
      maxItems: 4,
      items: { type: "object", properties: { field: { type: "string", minLength: 3 } } },
    });
  });

  it("tags a route at the API's root as meta", () => {
    assert.deepEqual(documentOf([root]).paths["/"]?.get?.tags, ["meta"]);
  });

  it("gives a token endpoint without a description none, and signs protected routes in with it", () => {
    const { description: _description, ...undescribed } = tokenRoute;
    const document = documentOf([undescribed, protectedRoute]);
    const operation = document.paths["/auth/token"]?.post;
    assert.ok(operation);
    assert.equal("description" in operation, false);
    assert.equal(operation.summary, tokenRoute.summary);
    assert.deepEqual(document.paths["/own/events"]?.post?.security, [{ bearerAuth: [] }, { oauth2: [] }]);
    assert.ok("OAuth2Error" in document.components.schemas);
  });
});

describe("permissionTable", () => {
  it("has one row per route, derived from its declaration", () => {
    const table = [...routes, ...fixtureRoutes];
    const rows = permissionTable(table);
    assert.equal(rows.length, table.length);
    assert.deepEqual(
      rows.map((row) => row.operation),
      table.map((route) => route.name),
    );
    for (const row of rows) assert.match(row.path, /^\/api\/v1\//);
    assert.deepEqual(
      rows.find((row) => row.operation === "testTeacherOnly"),
      { operation: "testTeacherOnly", method: "GET", path: "/api/v1/test/teachers", access: "teacher, admin" },
    );
    assert.equal(rows.find((row) => row.operation === "testEcho")?.access, "anyone");
    assert.equal(rows.find((row) => row.operation === "getVersion")?.method, "GET");
  });
});

describe("Swagger UI and .proto files over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const get = (target: string) => rawRequest(`${server.url}${target}`);

  it("serves the Swagger UI page, loading its bundle and init script from /api/docs", async () => {
    const response = await get("/api/docs");
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^text\/html/);
    const html = bodyText(response);
    assert.ok(html.includes('src="/api/docs/swagger-ui-bundle.js"'), html);
    assert.ok(html.includes('src="/api/docs/init.js"'), html);
    assert.match(String(response.headers["content-security-policy"]), /script-src 'self'/);
  });

  it("serves the Swagger UI assets from the npm package", async () => {
    const bundle = await get("/api/docs/swagger-ui-bundle.js");
    assert.equal(bundle.status, 200);
    assert.match(String(bundle.headers["content-type"]), /javascript/);
    assert.ok(bodyText(bundle).includes("SwaggerUIBundle"));
    const css = await get("/api/docs/swagger-ui.css");
    assert.equal(css.status, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
  });

  it("points the init script at /api/v1/openapi.json", async () => {
    const response = await get("/api/docs/init.js");
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /javascript/);
    assert.ok(bodyText(response).includes('url: "/api/v1/openapi.json"'));
  });

  it("answers 404 not_found for assets that are not on the list", async () => {
    for (const target of ["/api/docs/index.html", "/api/docs/package.json", "/api/docs/oauth2-redirect.js"]) {
      const response = await get(target);
      assert.equal(response.status, 404, target);
      assert.equal(errorOf(response).code, "not_found", target);
    }
  });

  it("lists the .proto files, each one fetchable", async () => {
    const response = await get("/api/v1/proto");
    assert.equal(response.status, 200);
    const { files } = JSON.parse(bodyText(response)) as { files: string[] };
    assert.ok(files.includes("/api/v1/proto/shtp/v1/error.proto"), JSON.stringify(files));
    for (const file of files) {
      assert.match(file, /^\/api\/v1\/proto\/.+\.proto$/);
      const proto = await get(file);
      assert.equal(proto.status, 200, file);
      assert.match(bodyText(proto), /syntax = "proto3";/, file);
    }
  });

  it("serves a .proto file's text as it is on disk", async () => {
    const response = await get("/api/v1/proto/shtp/v1/error.proto");
    assert.equal(response.status, 200);
    assert.match(String(response.headers["content-type"]), /^text\/plain/);
    assert.equal(bodyText(response), fs.readFileSync(path.join(protoDir, "shtp/v1/error.proto"), "utf8"));
    assert.match(bodyText(response), /message Error \{/);
  });

  it("does not let a path escape the .proto or docs directories", async () => {
    const packageJson = fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    for (const target of [
      "/api/v1/proto/../../package.json",
      "/api/v1/proto/%2e%2e%2fpackage.json",
      "/api/v1/proto/%2e%2e%2f%2e%2e%2fpackage.json",
      "/api/v1/proto/shtp/v1/..%2F..%2F..%2Fpackage.json",
      "/api/v1/proto//etc/passwd",
      "/api/docs/..%2Fpackage.json",
      "/api/docs/..%2F..%2F..%2Fpackage.json",
      "/api/docs/%2e%2e%2f%2e%2e%2fpackage.json",
    ]) {
      const response = await requestTarget(server, target);
      assert.equal(response.status, 404, target);
      assert.equal(errorOf(response).code, "not_found", target);
      const text = bodyText(response);
      assert.ok(!text.includes('"devDependencies"') && !text.includes(packageJson.slice(0, 40)), target);
      assert.ok(!text.includes("root:"), target);
    }
  });
});
