/**
 * Writes the typed TypeScript client of the API into generated/client/, from the route declarations
 * (src/modules/index.ts) and the ts-proto messages: `npm run gen` runs it after `buf generate`, and
 * `npm run proto:check` fails when its output is stale.
 *
 * - api.ts: `createApi(options)`, one function per operation, typed by the route's messages, path
 *   parameters, query and headers. Query types are derived from the zod schemas here, at generation
 *   time, so a renamed or removed filter stops the app's build instead of meeting a 400.
 * - runtime.ts: a copy of src/clients/runtime.ts (fetch, encodings, ApiError, session refresh).
 * - error-codes.ts: the server's error codes and statuses, as literals.
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
import { errorsOf } from "../http/openapi.js";
import type { Route } from "../http/route.js";
import { API_PREFIX } from "../http/router.js";
import { routes as apiRoutes } from "../modules/index.js";

const runtimeSource = path.join(root, "src", "clients", "runtime.ts");

/** The path of the refresh operation, which the client calls itself when a token has expired. */
const REFRESH_PATH = "/auth/refresh";
/** Answers that are a new token pair to keep, and requests whose success ends the session. */
const SESSION_START_RESPONSE = "shtp.v1.TokenPair";
const SESSION_END_REQUEST = "shtp.v1.LogoutRequest";
/** Members of the generated object that are not operations. */
const RESERVED_NAMES = new Set(["session"]);

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

function docComment(route: Route, answer: string): string {
  const lines = [
    route.summary,
    ...(route.description ? ["", route.description] : []),
    "",
    `\`${route.method.toUpperCase()} ${API_PREFIX}${route.path}\` · ${accessText(route)} · ${answer}`,
    `@throws ApiError ${errorsOf(route).join(", ")}`,
  ];
  return `/**\n${lines.map((line) => ` * ${line.replace(/\*\//g, "*\\/")}`.trimEnd()).join("\n")}\n */`;
}

/** One operation: its descriptor constant and its member of the object createApi returns. */
function operationOf(route: Route, imports: Imports): { descriptor: string; member: string } {
  if (RESERVED_NAMES.has(route.name)) throw new Error(`gen-client: the operation name "${route.name}" is reserved.`);
  const constant = `${route.name}Operation`;
  const method = JSON.stringify(route.method.toUpperCase());
  const fullPath = JSON.stringify(`${API_PREFIX}${route.path}`);
  const request = route.body ? imports.message(route.body.message.$type) : undefined;
  const response = route.response ? imports.message(route.response.$type) : undefined;
  const where = route.name;

  const parts: { name: string; type: string; required: boolean }[] = [];
  const params = paramsType(route);
  if (params) parts.push({ name: "params", ...params });

  if (route.events) {
    const events = imports.message(route.events.$type);
    const encodingQuery = zodJson(route.query ?? z.object({})).properties as Record<string, JsonSchema> | undefined;
    const hasEncoding = Boolean(encodingQuery?.encoding);
    const query = objectType(route.query, `${where}.query`, ["encoding"]);
    if (query) parts.push({ name: "query", ...query });
    const headers = objectType(route.headers, `${where}.headers`, ["last-event-id"]);
    if (headers) parts.push({ name: "headers", ...headers });
    const input = inputType(parts);
    return {
      descriptor: `const ${constant}: StreamOperation<${events}> = { method: ${method}, path: ${fullPath}, events: ${events}${hasEncoding ? `, encodingQuery: "encoding"` : ""} };`,
      member: `${docComment(route, `Server-Sent Events of \`${route.events.$type}\``)}\n${route.name}: (${input.parameter}, options?: StreamOptions): EventSubscription<${events}> => core.stream(${constant}, input, options),`,
    };
  }

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
export async function renderClient(routes: readonly Route[] = apiRoutes): Promise<Map<string, string>> {
  const imports = new Imports();
  const refresh = routes.find((route) => route.path === REFRESH_PATH && route.method === "post");
  if (!refresh?.body || !refresh.response) {
    throw new Error(`gen-client: the client renews sessions through POST ${REFRESH_PATH}, which is not declared.`);
  }
  const errorMessage = imports.message("shtp.v1.Error");
  const operations = routes.map((route) => operationOf(route, imports));
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
      type MessageOperation,
      type NoContentOperation,
      type Operation,
      type StreamOperation,
      type StreamOptions,
      type UploadOperation,
    } from "./runtime.js";`,
    `export * from "./runtime.js";`,
    ...operations.map((operation) => operation.descriptor),
    `/**
      * The ShTP API client: one function per operation of the API, in either encoding.
      *
      * Functions take \`{ params, query, headers, body }\` as the operation needs them (uploads take \`file\`
      * or \`form\`), and \`options\` (\`encoding\`, \`signal\`, \`headers\`). Failures throw ApiError. Signing in keeps
      * the tokens in \`session\`; an expired access token is renewed once through \`${refresh.name}\` and the
      * call retried.
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

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const outDir = path.resolve(process.argv[2] ?? path.join(root, "generated", "client"));
  await writeClient(outDir);
  process.stdout.write(`gen-client: wrote ${path.relative(process.cwd(), outDir) || "."}\n`);
}
