import { z } from "zod";
import { rolesAllowed } from "../auth/roles.js";
import { errorCodes, statusOf, type ErrorCode } from "../errors/index.js";
import { messageMediaTypes } from "./media.js";
import { contract } from "../contract/descriptors.js";
import { ProtoSchemaBuilder, type JsonSchema } from "../contract/openapi-schemas.js";
import { EachRule, RequiredRule, isNested, type RequestBody, type Rule } from "../validation/rules.js";
import { OAuth2ErrorBodySchema } from "./oauth2.js";
import { API_PREFIX } from "./router.js";
import { isTransactional, openApiPath, type Route } from "./route.js";

const ERROR_MESSAGE = "shtp.v1.Error";

/** One row of the permission table: who may call which operation. */
export interface Permission {
  operation: string;
  method: string;
  path: string;
  access: string;
}

/**
 * The permission table, derived from the route declarations alone.
 * @param routes - the route table
 */
export function permissionTable(routes: readonly Route[]): Permission[] {
  return routes.map((route) => ({
    operation: route.name,
    method: route.method.toUpperCase(),
    path: `${API_PREFIX}${openApiPath(route.path)}`,
    access:
      route.access === "public"
        ? "anyone"
        : route.access === "signedIn"
          ? "any signed-in user"
          : route.access.join(", "),
  }));
}

/**
 * The errors a route can answer with: those its chain can raise, plus the ones it declares.
 * @param route - a declared route
 */
export function errorsOf(route: Route): ErrorCode[] {
  const codes = new Set<ErrorCode>(["not_acceptable", "internal", "unavailable"]);
  if (route.params || route.query || route.body) codes.add("invalid_argument");
  if (route.body || route.upload) {
    ["unsupported_media_type", "payload_too_large", "invalid_argument"].forEach((code) => codes.add(code as ErrorCode));
  }
  if (route.access !== "public") ["unauthenticated", "token_expired"].forEach((code) => codes.add(code as ErrorCode));
  if (Array.isArray(route.access)) codes.add("permission_denied");
  // Uploads in flight and event streams are limited per user and per process (src/limits/leases.ts).
  if (route.upload || route.events) codes.add("rate_limited");
  for (const code of route.errors ?? []) codes.add(code);
  return errorCodes.filter((code) => codes.has(code));
}

const messageContent = (schema: JsonSchema, protoMessage: string) =>
  Object.fromEntries(
    messageMediaTypes.map((type) => [
      type,
      type === "application/json"
        ? { schema }
        : {
            schema: { type: "string", format: "binary", description: `A serialized ${protoMessage}.` },
            "x-proto-message": protoMessage,
          },
    ]),
  );

const zodSchema = (schema: z.ZodType): JsonSchema => {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return json;
};

function parametersOf(schema: z.ZodType | undefined, location: "path" | "query"): JsonSchema[] {
  if (!schema) return [];
  const json = zodSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || required.has(name),
    schema: property,
    ...(typeof property.description === "string" ? { description: property.description } : {}),
  }));
}

/**
 * A request message's schema: its shape from the contract, and the rules its route adds (bounds,
 * formats, required fields), so a client reads both in one place.
 */
function requestSchema(schemas: ProtoSchemaBuilder, body: RequestBody<unknown>): JsonSchema {
  const shape = schemas.refTo(body.message.$type);
  const rules = rulesSchema(body.fields);
  return rules ? { allOf: [shape, rules] } : shape;
}

function rulesSchema(fields: Record<string, Rule>): JsonSchema | undefined {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(fields)) {
    let inner: Rule | undefined = rule;
    if (inner instanceof RequiredRule) {
      required.push(name);
      inner = inner.rule;
    }
    const schema = ruleSchema(inner);
    if (schema) properties[name] = schema;
  }
  if (Object.keys(properties).length === 0 && required.length === 0) return undefined;
  return { type: "object", properties, ...(required.length > 0 && { required }) };
}

function ruleSchema(rule: Rule | undefined): JsonSchema | undefined {
  if (rule === undefined) return undefined;
  if (rule instanceof RequiredRule) return ruleSchema(rule.rule);
  if (rule instanceof EachRule) {
    const items = ruleSchema(rule.rule);
    return { type: "array", ...(rule.max !== undefined && { maxItems: rule.max }), ...(items && { items }) };
  }
  if (isNested(rule)) return rulesSchema(rule);
  return zodSchema(rule);
}

/**
 * Builds the OpenAPI 3.1 document from the route declarations and the .proto files.
 * @param routes - the route table
 * @param version - the server's release version
 */
export function buildOpenApiDocument(routes: readonly Route[], version: string): JsonSchema {
  const schemas = new ProtoSchemaBuilder(contract());
  const errorSchema = schemas.refTo(ERROR_MESSAGE);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const securitySchemes = securitySchemesOf(routes);
  const tokenRoute = routes.find((route) => route.oauth2);

  for (const route of routes) {
    if (route.oauth2) {
      const path = openApiPath(route.path);
      paths[path] = { ...paths[path], [route.method]: oauth2Operation(route, route.oauth2) };
      continue;
    }
    const responses: Record<string, JsonSchema> = {};
    const successStatus = String(route.response || route.events || route.download ? (route.successStatus ?? 200) : 204);
    responses[successStatus] = route.download
      ? {
          description: "The file, as an attachment (Content-Disposition), never rendered inline.",
          content: Object.fromEntries(
            route.download.mediaTypes.map((type) => [type, { schema: { type: "string", format: "binary" } }]),
          ),
        }
      : route.events
        ? {
            description: `A Server-Sent Events stream; each event's data is a ${route.events.$type} (ProtoJSON, or base64 protobuf with encoding=protobuf).`,
            content: { "text/event-stream": { schema: { type: "string" }, "x-proto-message": route.events.$type } },
            "x-proto-message": route.events.$type,
          }
        : route.response
          ? {
              description: "Success.",
              content: messageContent(schemas.refTo(route.response.$type), route.response.$type),
              "x-proto-message": route.response.$type,
            }
          : { description: "Success, no content." };
    for (const code of errorsOf(route)) {
      const status = String(statusOf(code));
      const existing = responses[status];
      const codes = [...((existing?.["x-error-codes"] as string[] | undefined) ?? []), code];
      responses[status] = {
        description: `Error: ${codes.join(" or ")}.`,
        content: messageContent(errorSchema, ERROR_MESSAGE),
        "x-error-codes": codes,
      };
    }

    const operation: JsonSchema = {
      operationId: route.name,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [tagOf(route.path)],
      security:
        route.access === "public"
          ? []
          : [
              { bearerAuth: [] },
              ...(tokenRoute ? [{ oauth2: [] }] : []),
              ...(route.queryCredential ? [{ [route.queryCredential.scheme]: [] }] : []),
            ],
      "x-roles": route.access === "public" ? ["anyone"] : rolesAllowed(route.access),
      "x-transactional": isTransactional(route),
      parameters: [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")],
      responses,
    };
    if (route.upload) {
      const { field, kinds, maxBytes, messagePart } = route.upload;
      const message = messagePart && route.body ? { name: messagePart, ...route.body } : undefined;
      const plainMessage =
        route.upload.optional && route.body
          ? messageContent(requestSchema(schemas, route.body), route.body.message.$type)
          : undefined;
      operation.requestBody = {
        required: true,
        ...(plainMessage && {
          description: `The ${route.body?.message.$type} alone as the body, or multipart/form-data with the \`${field}\` file beside it.`,
        }),
        content: {
          ...plainMessage,
          "multipart/form-data": {
            schema: {
              type: "object",
              required: message ? [message.name, field] : [field],
              properties: {
                ...(message && {
                  [message.name]: {
                    ...requestSchema(schemas, message),
                    description: `A ${message.message.$type}: JSON, or protobuf bytes with the part's Content-Type set to a protobuf media type.`,
                  },
                }),
                [field]: {
                  type: "string",
                  format: "binary",
                  description: `${kinds.join(", ")} (by content), at most ${maxBytes} bytes.`,
                },
              },
            },
            ...(message && {
              encoding: { [message.name]: { contentType: messageMediaTypes.join(", ") } },
            }),
          },
        },
        ...(message && { "x-proto-message": message.message.$type }),
      };
    } else if (route.body) {
      operation.requestBody = {
        required: false,
        description: "An absent body is the empty message.",
        content: messageContent(requestSchema(schemas, route.body), route.body.message.$type),
        "x-proto-message": route.body.message.$type,
      };
    }
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "ShTP API",
      version,
      description: [
        "The ShTP school platform API. Every message endpoint speaks JSON (ProtoJSON: lowerCamelCase keys,",
        "enum names, RFC 3339 timestamps, 64-bit integers as strings) and Protocol Buffers",
        "(`application/protobuf`, `application/x-protobuf` or `application/vnd.google.protobuf`), chosen by",
        "`Content-Type` and `Accept`. Errors are `shtp.v1.Error` in the negotiated encoding. JSON requests may use",
        "everything the proto3 JSON mapping allows (original field names, enum numbers, 64-bit integers as numbers,",
        "any timestamp offset, null for a default); answers are canonical. Unknown JSON keys are refused, with",
        "their paths. Lists take `limit` (1..100, default 20)",
        "and an opaque `cursor`. The .proto files are served at /api/v1/proto/.",
      ].join(" "),
    },
    servers: [{ url: API_PREFIX }],
    paths,
    components: {
      schemas: {
        ...schemas.components,
        ...(tokenRoute && { OAuth2Error: zodSchema(OAuth2ErrorBodySchema) }),
      },
      securitySchemes,
    },
  };
}

/**
 * The bearer token every protected route takes; the OAuth 2.0 password flow when a token endpoint is
 * declared (Swagger UI's Authorize then signs in with email and password); and each query credential
 * a route declares.
 */
function securitySchemesOf(routes: readonly Route[]): Record<string, JsonSchema> {
  const schemes: Record<string, JsonSchema> = {
    bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
  };
  const tokenRoute = routes.find((route) => route.oauth2);
  if (tokenRoute) {
    const tokenUrl = `${API_PREFIX}${openApiPath(tokenRoute.path)}`;
    schemes.oauth2 = {
      type: "oauth2",
      description: "Sign in with email (as username) and password; the access token is sent as a bearer token.",
      flows: { password: { tokenUrl, refreshUrl: tokenUrl, scopes: {} } },
    };
  }
  for (const route of routes) {
    const credential = route.queryCredential;
    if (credential) {
      schemes[credential.scheme] = {
        type: "apiKey",
        in: "query",
        name: credential.parameter,
        description: credential.description,
      };
    }
  }
  return schemes;
}

const OAUTH2_ERROR_REF = "#/components/schemas/OAuth2Error";

/** RFC 6749 §5.2 errors by status, as `oauth2ErrorOf` (`src/http/oauth2.ts`) maps ours onto them. */
const oauth2ErrorStatuses: Record<string, string[]> = {
  "400": ["invalid_request", "invalid_grant", "unsupported_grant_type", "invalid_scope"],
  "429": ["invalid_grant"],
  "500": ["server_error"],
  "503": ["temporarily_unavailable"],
};

/** An OAuth 2.0 token endpoint's operation: a form in, plain JSON out, RFC 6749 §5.2 errors; no protobuf. */
function oauth2Operation(route: Route, endpoint: NonNullable<Route["oauth2"]>): JsonSchema {
  const json = (schema: JsonSchema) => ({ "application/json": { schema } });
  const responses: Record<string, JsonSchema> = {
    "200": {
      description: "The tokens (RFC 6749 §5.1), as JSON whatever Accept says.",
      content: json(zodSchema(endpoint.response)),
    },
  };
  for (const [status, codes] of Object.entries(oauth2ErrorStatuses)) {
    responses[status] = {
      description: `Error (RFC 6749 §5.2): ${codes.join(" or ")}.${status === "429" ? " With Retry-After." : ""}`,
      content: json({ $ref: OAUTH2_ERROR_REF }),
      "x-oauth2-errors": codes,
    };
  }
  return {
    operationId: route.name,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [tagOf(route.path)],
    security: [],
    "x-roles": ["anyone"],
    "x-transactional": isTransactional(route),
    parameters: [],
    requestBody: {
      required: true,
      content: { "application/x-www-form-urlencoded": { schema: zodSchema(endpoint.request) } },
    },
    responses,
  };
}

/** The first path segment names the resource: `/users/:id` is tagged `users`. */
const tagOf = (path: string): string => path.split("/").find(Boolean) ?? "meta";
