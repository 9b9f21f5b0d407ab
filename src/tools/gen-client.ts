/**
 * Writes the typed TypeScript client of the API into generated/client/, from the route declarations
 * (src/modules/index.ts) and the ts-proto messages: `npm run gen` runs it after `buf generate`, and
 * `npm run proto:check` fails when its output is stale.
 *
 * - api.ts: `createApi(options)`, one function per operation, typed by the route's messages, path
 *   parameters, query and headers. Query types are derived from the zod schemas here, at generation
 *   time, so a renamed or removed filter stops the app's build instead of meeting a 400. The OAuth 2.0
 *   token endpoint is typed by its grants' forms; an events route by its stored message and the
 *   modules' live events, and (when it takes a ticket) by the route that issues one.
 * - runtime.ts: a copy of src/clients/runtime.ts (fetch, encodings, ApiError, session refresh).
 * - error-codes.ts: the server's error codes and statuses, and the token endpoint's RFC 6749 codes, as
 *   literals.
 *
 * The output imports only generated/ and the runtime, never server code, and is formatted by Prettier,
 * so it is the same on every machine. Usage: `tsx src/tools/gen-client.ts [out-dir]`.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import prettier from "prettier";
import protobuf from "protobufjs";
import { z } from "zod";
import { rolesAllowed } from "../auth/roles.js";
import { appRoot as root, protoDir } from "../config/paths.js";
import { messageType } from "../contract/descriptors.js";
import { errorCodes, statusOf } from "../errors/index.js";
import { oauth2ErrorCodes } from "../http/oauth2.js";
import { errorsOf } from "../http/openapi.js";
import type { LiveEventSource, Route } from "../http/route.js";
import { API_PREFIX } from "../http/router.js";
import { routes as apiRoutes, liveEventSources } from "../modules/index.js";

const runtimeSource = path.join(root, "src", "clients", "runtime.ts");

/** The path of the refresh operation, which the client calls itself when a token has expired. */
const REFRESH_PATH = "/auth/refresh";
/** Answers that are a new token pair to keep, and requests whose success ends the session. */
const SESSION_START_RESPONSE = "shtp.v1.TokenPair";
const SESSION_END_REQUEST = "shtp.v1.LogoutRequest";
/** Members of the generated object that are not operations. */
const RESERVED_NAMES = new Set(["session"]);
/** Query parameters of an events route that the runtime fills itself (StreamOptions). */
const ENCODING_QUERY = "encoding";
const LAST_EVENT_ID_QUERY = "lastEventId";
/** The fields of the token answer the runtime reads (its OAuth2Token type). */
const OAUTH2_TOKEN_FIELDS = ["access_token", "expires_in", "refresh_token", "token_type"];

type JsonSchema = Record<string, unknown>;

/** The imports of api.ts: one namespace per generated proto module. */
class Imports {
  private readonly modules = new Map<string, string>();

  /** @returns the TypeScript expression naming a message's ts-proto type and codec (`authPb.LoginRequest`) */
  message(fullName: string): string {
    const type = messageType(fullName);
    const file = path.relative(protoDir, type.filename ?? "").replace(/\\/g, "/");
    if (!file.endsWith(".proto")) throw new Error(`gen-client: cannot tell which .proto file defines ${fullName}.`);
    const module = `../${file.replace(/\.proto$/, ".js")}`;
    let alias = this.modules.get(module);
    if (!alias) {
      alias = `${camel(path.posix.basename(file, ".proto"))}Pb`;
      if ([...this.modules.values()].includes(alias)) alias = `${camel(file.replace(/\.proto$/, ""))}Pb`;
      this.modules.set(module, alias);
    }
    return `${alias}.${tsProtoName(type)}`;
  }

  lines(): string[] {
    return [...this.modules.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([module, alias]) => `import * as ${alias} from "${module}";`);
  }
}

/** ts-proto names a nested message `Outer_Inner`. */
function tsProtoName(type: protobuf.Type): string {
  const names: string[] = [];
  for (let current: protobuf.ReflectionObject | null = type; current instanceof protobuf.Type; current = current.parent)
    names.unshift(current.name);
  return names.join("_");
}

const camel = (text: string) =>
  text.replace(/[^A-Za-z0-9]+([A-Za-z0-9])/g, (_match, letter: string) => letter.toUpperCase());

const zodJson = (schema: z.ZodType): JsonSchema => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

const quoteKey = (name: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name));

/** The TypeScript type a client passes for one query-string or header field. */
function tsTypeOf(schema: JsonSchema, where: string): string {
  if (typeof schema.const === "string") return JSON.stringify(schema.const);
  const values = schema.enum;
  if (Array.isArray(values) && values.every((value) => typeof value === "string")) {
    const sorted = [...values].sort();
    // A `true`/`false` flag in the query string is a boolean to the client.
    if (sorted.length === 2 && sorted[0] === "false" && sorted[1] === "true") return "boolean";
    return values.map((value) => JSON.stringify(value)).join(" | ");
  }
  if (Array.isArray(schema.anyOf)) {
    return (schema.anyOf as JsonSchema[]).map((member) => tsTypeOf(member, where)).join(" | ");
  }
  switch (schema.type) {
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "string":
      return schema.format === "date-time" ? "Date | string" : "string";
    case "array":
      return `readonly (${tsTypeOf((schema.items ?? {}) as JsonSchema, where)})[]`;
    default:
      throw new Error(
        `gen-client: ${where} has a shape the client cannot type (${JSON.stringify(schema)}); teach tsTypeOf in src/tools/gen-client.ts.`,
      );
  }
}

/** What the JSON schema says about a field beyond its type, for its doc comment. */
function fieldNotes(schema: JsonSchema): string[] {
  const notes: string[] = [];
  if (typeof schema.description === "string") notes.push(schema.description);
  const bound = (value: unknown) => (typeof value === "number" ? String(value) : undefined);
  const [minimum, maximum] = [bound(schema.minimum), bound(schema.maximum)];
  if (minimum !== undefined || maximum !== undefined) notes.push(`${minimum ?? "…"}..${maximum ?? "…"}`);
  if (typeof schema.maxLength === "number") notes.push(`at most ${schema.maxLength} characters`);
  if (schema.format === "uuid") notes.push("a UUID");
  if (schema.default !== undefined) notes.push(`default ${JSON.stringify(schema.default)}`);
  return notes;
}

/**
 * An object type for the fields of a zod schema.
 * @param omit - fields the runtime fills itself
 * @returns the type and whether any field is required, or undefined when no field is left
 */
function objectType(
  schema: z.ZodType | undefined,
  where: string,
  omit: readonly string[] = [],
): { type: string; required: boolean } | undefined {
  if (!schema) return undefined;
  const json = zodJson(schema);
  const properties = Object.entries((json.properties ?? {}) as Record<string, JsonSchema>).filter(
    ([name]) => !omit.includes(name),
  );
  if (properties.length === 0) return undefined;
  const required = new Set((json.required ?? []) as string[]);
  const members = properties.map(([name, property]) => {
    const notes = fieldNotes(property);
    const doc = notes.length > 0 ? `/** ${notes.join("; ")} */\n` : "";
    return `${doc}readonly ${quoteKey(name)}${required.has(name) ? "" : "?"}: ${tsTypeOf(property, `${where}.${name}`)};`;
  });
  return { type: `{\n${members.join("\n")}\n}`, required: properties.some(([name]) => required.has(name)) };
}

/** The path parameters, named by the path itself (`/users/:id`), each a string. */
function paramsType(route: Route): { type: string; required: boolean } | undefined {
  const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1] ?? "");
  if (names.length === 0) return undefined;
  return { type: `{ ${names.map((name) => `readonly ${quoteKey(name)}: string;`).join(" ")} }`, required: true };
}

const accessText = (route: Route) =>
  route.access === "public"
    ? "anyone"
    : route.access === "signedIn"
      ? "any signed-in user"
      : rolesAllowed(route.access).join(", ");

function docComment(route: Route, answer: string, throws = `ApiError ${errorsOf(route).join(", ")}`): string {
  const lines = [
    route.summary,
    ...(route.description ? ["", route.description] : []),
    "",
    `\`${route.method.toUpperCase()} ${API_PREFIX}${route.path}\` · ${accessText(route)} · ${answer}`,
    `@throws ${throws}`,
  ];
  return `/**\n${lines.map((line) => ` * ${line.replace(/\*\//g, "*\\/")}`.trimEnd()).join("\n")}\n */`;
}

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** What the generated file holds for one operation. */
interface Generated {
  /** Its descriptor constant. */
  descriptor: string;
  /** Whether the descriptor names other operations' (a stream's ticket issuer), so it must follow them. */
  namesOthers?: boolean;
  /** Its member of the object createApi returns. */
  member: string;
  /** Types it exports (a stream's events, the token endpoint's forms). */
  types?: string;
}

/** The OAuth 2.0 token endpoint: one form type per grant, the standard token answer, RFC 6749 errors. */
function tokenOperationOf(route: Route, endpoint: NonNullable<Route["oauth2"]>): Generated {
  const answered = Object.keys(zodJson(endpoint.response).properties ?? {}).sort();
  if (answered.join() !== OAUTH2_TOKEN_FIELDS.join()) {
    throw new Error(
      `gen-client: ${route.name} answers ${answered.join(", ")}; the runtime's OAuth2Token has ${OAUTH2_TOKEN_FIELDS.join(", ")}.`,
    );
  }
  const formType = `${pascal(route.name)}Form`;
  const forms = Object.entries(endpoint.grants).map(([grant, schema]) => {
    const fields = objectType(schema, `${route.name}.${grant}`);
    const grantType = `{ readonly grant_type: ${JSON.stringify(grant)} }`;
    return fields ? `(${grantType} & ${fields.type})` : grantType;
  });
  if (forms.length === 0) throw new Error(`gen-client: ${route.name} declares no grants.`);
  const constant = `${route.name}Operation`;
  return {
    descriptor: `const ${constant}: Operation = { method: ${JSON.stringify(route.method.toUpperCase())}, path: ${JSON.stringify(`${API_PREFIX}${route.path}`)} };`,
    types: `/** The form of each grant \`${route.name}\` takes (sent as application/x-www-form-urlencoded). */
export type ${formType} = ${forms.join(" | ")};`,
    member: `${docComment(route, "200 the token JSON (RFC 6749 §5.1), whose tokens become the session", `OAuth2TokenError ${oauth2ErrorCodes.join(", ")}`)}
${route.name}: (input: { body: ${formType} }, options?: CallOptions): Promise<OAuth2Token> => core.token(${constant}, input, options),`,
  };
}

/**
 * A Server-Sent Events operation: its events typed by the stored message and the live events, and,
 * when it takes a ticket, the operation that issues one.
 */
function streamOperationOf(
  route: Route,
  events: NonNullable<Route["events"]>,
  context: { imports: Imports; routes: readonly Route[]; liveSources: readonly LiveEventSource[] },
  parts: { name: string; type: string; required: boolean }[],
): Generated {
  const { imports } = context;
  const constant = `${route.name}Operation`;
  const queryFields = Object.keys(zodJson(route.query ?? z.object({})).properties ?? {});
  const query = objectType(route.query, `${route.name}.query`, [ENCODING_QUERY, LAST_EVENT_ID_QUERY]);
  if (query) parts.push({ name: "query", ...query });
  const headers = objectType(route.headers, `${route.name}.headers`, ["last-event-id"]);
  if (headers) parts.push({ name: "headers", ...headers });
  const input = inputType(parts);

  const stored = imports.message(events.$type);
  const live = context.liveSources.map((source) => ({
    type: source.codec.$type,
    ts: imports.message(source.codec.$type),
  }));
  const eventType = `${pascal(route.name)}Event`;
  const eventUnion = [
    `StoredEvent<${JSON.stringify(events.$type)}, ${stored}>`,
    ...live.map((event) => `LiveEvent<${JSON.stringify(event.type)}, ${event.ts}>`),
  ].join(" | ");

  const credential = route.queryCredential;
  let ticket = "";
  if (credential) {
    const issuer = context.routes.find((other) => other.path === credential.issuedBy && other.method === "post");
    const field = issuer?.response && messageType(issuer.response.$type).fields[credential.parameter];
    if (!issuer || field?.type !== "string") {
      throw new Error(
        `gen-client: ${route.name}'s \`${credential.parameter}\` is issued by POST ${credential.issuedBy}, which must answer a message with a string field \`${credential.parameter}\`.`,
      );
    }
    // An EventSource cannot send Last-Event-ID, so a ticketed stream must take the last id in the query.
    if (!queryFields.includes(LAST_EVENT_ID_QUERY)) {
      throw new Error(`gen-client: ${route.name} takes a ticket, so its query must take \`${LAST_EVENT_ID_QUERY}\`.`);
    }
    ticket = `, ticket: { parameter: ${JSON.stringify(credential.parameter)}, issue: ${issuer.name}Operation }`;
  }
  const fields = [
    `method: ${JSON.stringify(route.method.toUpperCase())}`,
    `path: ${JSON.stringify(`${API_PREFIX}${route.path}`)}`,
    `events: ${stored}`,
    ...(live.length > 0 ? [`liveEvents: [${live.map((event) => event.ts).join(", ")}]`] : []),
    ...(queryFields.includes(ENCODING_QUERY) ? [`encodingQuery: ${JSON.stringify(ENCODING_QUERY)}`] : []),
    ...(queryFields.includes(LAST_EVENT_ID_QUERY) ? [`lastEventIdQuery: ${JSON.stringify(LAST_EVENT_ID_QUERY)}`] : []),
  ].join(", ");
  const liveNames = live.map((event) => `\`${event.type}\``).join(", ");
  return {
    descriptor: `const ${constant}: StreamOperation = { ${fields}${ticket} };`,
    namesOthers: ticket !== "",
    types: `/** An event of \`${route.name}\`: a stored \`${events.$type}\` with its id${live.length > 0 ? `, or a live ${liveNames} without one` : ""}. */
export type ${eventType} = ${eventUnion};`,
    member: `${docComment(route, `Server-Sent Events of \`${events.$type}\`${live.length > 0 ? ` and ${liveNames}` : ""}${credential ? `, opened with a fresh \`${credential.parameter}\` from \`POST ${API_PREFIX}${credential.issuedBy}\` each time` : ""}`)}
${route.name}: (${input.parameter}, options?: StreamOptions): EventSubscription<${eventType}> => core.stream<${eventType}>(${constant}, input, options),`,
  };
}

/** One operation: its descriptor constant, its member of the object createApi returns, its types. */
function operationOf(
  route: Route,
  context: { imports: Imports; routes: readonly Route[]; liveSources: readonly LiveEventSource[] },
): Generated {
  const { imports } = context;
  if (RESERVED_NAMES.has(route.name)) throw new Error(`gen-client: the operation name "${route.name}" is reserved.`);
  if (route.oauth2) return tokenOperationOf(route, route.oauth2);
  const constant = `${route.name}Operation`;
  const method = JSON.stringify(route.method.toUpperCase());
  const fullPath = JSON.stringify(`${API_PREFIX}${route.path}`);
  const request = route.body ? imports.message(route.body.message.$type) : undefined;
  const response = route.response ? imports.message(route.response.$type) : undefined;
  const where = route.name;

  const parts: { name: string; type: string; required: boolean }[] = [];
  const params = paramsType(route);
  if (params) parts.push({ name: "params", ...params });

  if (route.events) return streamOperationOf(route, route.events, context, parts);

  const query = objectType(route.query, `${where}.query`);
  if (query) parts.push({ name: "query", ...query });
  const headers = objectType(route.headers, `${where}.headers`);
  if (headers) parts.push({ name: "headers", ...headers });

  if (route.download) {
    const input = inputType(parts);
    return {
      descriptor: `const ${constant}: Operation = { method: ${method}, path: ${fullPath} };`,
      member: `${docComment(route, `a file (${route.download.mediaTypes.join(", ")})`)}\n${route.name}: (${input.parameter}, options?: CallOptions): Promise<Download> => core.download(${constant}, input, options),`,
    };
  }

  if (route.upload) {
    if (!response) throw new Error(`gen-client: the upload route ${route.name} declares no response message.`);
    const { field, messagePart } = route.upload;
    if (messagePart && !request) throw new Error(`gen-client: ${route.name} has a message part but no body.`);
    const body = messagePart && request ? `; body: ${request}` : "";
    const files = `({ file: Blob; fileName?: string${body} } | { form: FormData })`;
    const input = inputType(parts, files);
    return {
      descriptor: `const ${constant}: UploadOperation<${request ?? "never"}, ${response}> = { method: ${method}, path: ${fullPath}, field: ${JSON.stringify(field)}${messagePart && request ? `, messagePart: ${JSON.stringify(messagePart)}, request: ${request}` : ""}, response: ${response} };`,
      member: `${docComment(route, `${route.successStatus ?? 200} \`${route.response?.$type ?? ""}\`; multipart: the file in \`${field}\`${messagePart ? `, the message in \`${messagePart}\`` : ""}`)}\n${route.name}: (${input.parameter}, options?: CallOptions): Promise<${response}> => core.upload(${constant}, input, options),`,
    };
  }

  const session =
    route.response?.$type === SESSION_START_RESPONSE
      ? "start"
      : route.body?.message.$type === SESSION_END_REQUEST
        ? "end"
        : undefined;
  // Ending the session sends the session's own refresh token unless the call names one.
  if (request) parts.push({ name: "body", type: request, required: session !== "end" });
  const input = inputType(parts);
  const fields = [
    `method: ${method}`,
    `path: ${fullPath}`,
    ...(request ? [`request: ${request}`] : []),
    ...(response ? [`response: ${response}`] : []),
    ...(session ? [`session: ${JSON.stringify(session)}`] : []),
  ].join(", ");
  if (response) {
    return {
      descriptor: `const ${constant}: MessageOperation<${request ?? "never"}, ${response}> = { ${fields} };`,
      member: `${docComment(route, `${route.successStatus ?? 200} \`${route.response?.$type ?? ""}\``)}\n${route.name}: (${input.parameter}, options?: CallOptions): Promise<${response}> => core.call(${constant}, input, options),`,
    };
  }
  return {
    descriptor: `const ${constant}: NoContentOperation<${request ?? "never"}> = { ${fields} };`,
    member: `${docComment(route, "204 No Content")}\n${route.name}: (${input.parameter}, options?: CallOptions): Promise<void> => core.callNoContent(${constant}, input, options),`,
  };
}

/** The operation's first parameter: optional (defaulting to `{}`) when nothing in it is required. */
function inputType(
  parts: readonly { name: string; type: string; required: boolean }[],
  files?: string,
): { parameter: string } {
  const members = parts.map((part) => `${part.name}${part.required ? "" : "?"}: ${part.type};`);
  const object = members.length > 0 ? `{\n${members.join("\n")}\n}` : "";
  const type = files ? (object ? `${object} & ${files}` : files) : object || "Record<string, never>";
  const required = Boolean(files) || parts.some((part) => part.required);
  return { parameter: required ? `input: ${type}` : `input: ${type} = {}` };
}

/** @returns the three files of the client, by name, formatted */
export async function renderClient(
  routes: readonly Route[] = apiRoutes,
  liveSources: readonly LiveEventSource[] = liveEventSources,
): Promise<Map<string, string>> {
  const imports = new Imports();
  const refresh = routes.find((route) => route.path === REFRESH_PATH && route.method === "post");
  if (!refresh?.body || !refresh.response) {
    throw new Error(`gen-client: the client renews sessions through POST ${REFRESH_PATH}, which is not declared.`);
  }
  const errorMessage = imports.message("shtp.v1.Error");
  const operations = routes.map((route) => operationOf(route, { imports, routes, liveSources }));
  const descriptors = [
    ...operations.filter((operation) => !operation.namesOthers),
    ...operations.filter((operation) => operation.namesOthers),
  ].map((operation) => operation.descriptor);
  const header = "// Generated by `npm run gen` (src/tools/gen-client.ts) from the route declarations. Do not edit.\n";

  const api = [
    header,
    `${imports.lines().join("\n")}
    import {
      ClientCore,
      type CallOptions,
      type ClientOptions,
      type Download,
      type EventSubscription,
      type LiveEvent,
      type OAuth2Token,
      type MessageOperation,
      type NoContentOperation,
      type Operation,
      type StreamOperation,
      type StoredEvent,
      type StreamOptions,
      type UploadOperation,
    } from "./runtime.js";`,
    `export * from "./runtime.js";`,
    ...descriptors,
    ...operations.flatMap((operation) => (operation.types ? [operation.types] : [])),
    `/**
      * The ShTP API client: one function per operation of the API, in either encoding.
      *
      * Functions take \`{ params, query, headers, body }\` as the operation needs them (uploads take \`file\`
      * or \`form\`), and \`options\` (\`encoding\`, \`signal\`, \`headers\`). Failures throw ApiError. Signing in
      * (or a token from the OAuth 2.0 endpoint) keeps the tokens in \`session\`; an expired access token is
      * renewed once through \`${refresh.name}\` and the call retried. Streams are async iterables of typed events.
      * @param options - the server's origin, the default encoding, the session to start with
      */
    export function createApi(options: ClientOptions) {
      const core = new ClientCore(options, { error: ${errorMessage}, refresh: ${refresh.name}Operation });
      return {
        /** The session's tokens: set by signing in and refreshing, cleared by signing out or a refused refresh. */
        session: core.session,
        ${operations.map((operation) => operation.member).join("\n")}
      };
    }`,
    `/** The client createApi makes. */
    export type ShtpApi = ReturnType<typeof createApi>;`,
  ].join("\n\n");

  const errorCodesFile = [
    header,
    `/** Every error code the API answers with, and its HTTP status (from src/errors/index.ts). */
    export const errorStatuses = {
      ${errorCodes.map((code) => `${code}: ${statusOf(code)},`).join("\n")}
    } as const;`,
    `/** The closed set of error codes. */
    export type ErrorCode = keyof typeof errorStatuses;`,
    `/** The error codes of the OAuth 2.0 token endpoint (RFC 6749 §5.2), from src/http/oauth2.ts. */
    export const oauth2ErrorCodes = [${oauth2ErrorCodes.map((code) => JSON.stringify(code)).join(", ")}] as const;`,
    `/** One of the token endpoint's error codes. */
    export type OAuth2ErrorCode = (typeof oauth2ErrorCodes)[number];`,
  ].join("\n\n");

  const runtime = `// Copied by \`npm run gen\` from src/clients/runtime.ts. Do not edit here.\n${await fs.readFile(runtimeSource, "utf8")}`;

  const files = new Map<string, string>([
    ["api.ts", api],
    ["error-codes.ts", errorCodesFile],
    ["runtime.ts", runtime],
  ]);
  const options = (await prettier.resolveConfig(path.join(root, "package.json"))) ?? {};
  for (const [name, text] of files) {
    files.set(name, await prettier.format(text, { ...options, parser: "typescript", filepath: name }));
  }
  return files;
}

/**
 * Writes the client into `outDir`, replacing what was there.
 * @param outDir - generated/client, or a scratch folder for the staleness check
 */
export async function writeClient(outDir: string): Promise<void> {
  const files = await renderClient();
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(outDir, { recursive: true });
  for (const [name, text] of files) await fs.writeFile(path.join(outDir, name), text);
}

// Not awaited at the top level: a module with top-level await loads only as ES module, and its test, which
// imports it, would then load a second copy of everything it imports (a failure still ends the process).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const outDir = path.resolve(process.argv[2] ?? path.join(root, "generated", "client"));
  void writeClient(outDir).then(() =>
    process.stdout.write(`gen-client: wrote ${path.relative(process.cwd(), outDir) || "."}\n`),
  );
}
