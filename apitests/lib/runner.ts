import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { actors, loadCases, type ActorName, type ApiCase, type EncodingName } from "./cases.js";
import { normalise, partialMatch, substitute, valueAt } from "./match.js";
import { ProtoCodec, type Json } from "./protojson.js";

const API = "/api/v1";
const ERROR_MESSAGE = "shtp.v1.Error";
const PROTOBUF = "application/protobuf";
const EVENT_STREAM = "text/event-stream";
/** How long the runner reads an event stream for its first block before it hangs up. */
const STREAM_WAIT_MS = 1000;
const protobufTypes = new Set([PROTOBUF, "application/x-protobuf", "application/vnd.google.protobuf"]);

/** One operation of the OpenAPI document, as the runner needs it. */
export interface Operation {
  id: string;
  method: string;
  template: string;
  requestMessage?: string;
  responseMessage?: string;
  /**
   * It answers JSON that no proto message defines, whatever Accept says (an OAuth 2.0 token endpoint):
   * its answers are read as they are, and its errors carry their code as `error` (RFC 6749 §5.2).
   */
  plainJson: boolean;
}

/** The outcome of one case in one encoding, or of the comparison of the two. */
export interface CaseResult {
  title: string;
  file: string;
  encoding: EncodingName | "both" | "coverage";
  failures: string[];
  ms: number;
}

export interface RunnerOptions {
  baseUrl: string;
  casesDir: string;
  protoDir: string;
  fixturesDir: string;
  admin: { email: string; password: string };
  /**
   * The server's SCHOOL_TIME_ZONE (default Europe/Moscow): `{{today}}` is the date there, as day
   * challenges are dated.
   */
  schoolTimeZone?: string;
  /** Seed the actors and groups through the API (default true); without it every case runs anonymous. */
  seed?: boolean;
  /** Called with one line per result as soon as it is known. */
  onResult?: (result: CaseResult) => void;
}

type JsonObject = { [key: string]: Json };

const optionalText = (value: Json | undefined): string | undefined => (typeof value === "string" ? value : undefined);

/** The string at a place of an answer the runner relies on; anything else is a broken answer. */
function text(value: Json | undefined, what: string): string {
  if (typeof value !== "string") throw new Error(`expected a string for ${what}, got ${JSON.stringify(value)}`);
  return value;
}

/** Reads the operations, with their proto messages, from the server's own OpenAPI document. */
export async function loadOperations(baseUrl: string): Promise<Map<string, Operation>> {
  const response = await fetch(`${baseUrl}${API}/openapi.json`);
  if (!response.ok) throw new Error(`GET ${API}/openapi.json answered ${response.status}`);
  const document = (await response.json()) as { paths: Record<string, Record<string, JsonObject>> };
  const operations = new Map<string, Operation>();
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const success = Object.entries((operation.responses ?? {}) as JsonObject).find(([status]) =>
        status.startsWith("2"),
      );
      const requestBody = operation.requestBody as JsonObject | undefined;
      const id = text(operation.operationId, "operationId");
      const successResponse = success?.[1] as JsonObject | undefined;
      const responseMessage = optionalText(successResponse?.["x-proto-message"]);
      const successTypes = Object.keys((successResponse?.content ?? {}) as JsonObject);
      operations.set(id, {
        id,
        method: method.toUpperCase(),
        template,
        requestMessage:
          typeof requestBody?.["x-proto-message"] === "string" ? requestBody["x-proto-message"] : undefined,
        responseMessage,
        plainJson: !responseMessage && successTypes.length === 1 && successTypes[0] === "application/json",
      });
    }
  }
  return operations;
}

/** @returns today's date (YYYY-MM-DD) in a time zone */
export const todayIn = (timeZone: string): string =>
  new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());

/** Every operation needs a case that succeeds and a case that fails; this names those that lack one. */
export function coverageGaps(operations: Map<string, Operation>, cases: ApiCase[]): string[] {
  const gaps: string[] = [];
  for (const operation of operations.values()) {
    const mine = cases.filter((apiCase) => apiCase.op === operation.id);
    if (!mine.some((apiCase) => apiCase.expect.status < 300))
      gaps.push(`${operation.id} (${operation.method} ${operation.template}) has no success case`);
    if (!mine.some((apiCase) => apiCase.expect.status >= 400))
      gaps.push(`${operation.id} (${operation.method} ${operation.template}) has no failure case`);
  }
  return gaps;
}

const templatePattern = (template: string) => new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);

interface Answer {
  /** The Accept the request carried: the answer must come in exactly that type (JSON for a plain-JSON operation). */
  accepted: string;
  plainJson: boolean;
  status: number;
  contentType: string;
  requestId: string;
  json: Json | undefined;
}

/**
 * Runs every case in JSON, then in protobuf, then compares the two answers of each case.
 * @returns every result, the coverage gaps included as failures
 */
export async function runApiTests(options: RunnerOptions): Promise<CaseResult[]> {
  const operations = await loadOperations(options.baseUrl);
  const cases = loadCases(options.casesDir);
  const protoFiles = fs
    .readdirSync(options.protoDir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".proto"));
  const codec = ProtoCodec.load(options.protoDir, protoFiles);
  const results: CaseResult[] = [];
  const report = (result: CaseResult) => {
    results.push(result);
    options.onResult?.(result);
  };

  for (const gap of coverageGaps(operations, cases))
    report({ title: gap, file: "openapi.json", encoding: "coverage", failures: [gap], ms: 0 });
  for (const apiCase of cases) {
    const operation = operations.get(apiCase.op);
    const problem = !operation
      ? `no operation ${apiCase.op} in the OpenAPI document`
      : !templatePattern(operation.template).test(apiCase.path.split("?")[0] ?? "")
        ? `path ${apiCase.path} does not fit ${operation.template}`
        : undefined;
    if (problem) report({ title: apiCase.name, file: apiCase.file, encoding: "coverage", failures: [problem], ms: 0 });
  }

  const seeded =
    options.seed === false
      ? { tokens: Object.fromEntries(actors.map((actor) => [actor, undefined])) as Seeded["tokens"], variables: {} }
      : await seed(options);
  const answers = new Map<
    ApiCase,
    Partial<Record<EncodingName, { answer: Json | undefined; variables: Record<string, string> }>>
  >();
  for (const encoding of ["json", "protobuf"] as const) {
    const variables: Record<string, string> = {
      ...seeded.variables,
      today: todayIn(options.schoolTimeZone ?? "Europe/Moscow"),
      run: `${encoding}${randomBytes(3).toString("hex")}`,
    };
    for (const apiCase of cases) {
      const operation = operations.get(apiCase.op);
      if (!operation || (apiCase.encodings && !apiCase.encodings.includes(encoding))) continue;
      const started = performance.now();
      let failures: string[];
      try {
        const answer = await send(options, codec, operation, apiCase, encoding, variables, seeded.tokens);
        failures = check(apiCase, answer, variables);
        for (const [name, dotted] of Object.entries(apiCase.capture ?? {})) {
          const value = valueAt(answer.json, dotted);
          if (typeof value === "string" && value !== "") variables[name] = value;
          else failures.push(`capture ${name}: nothing at ${dotted}`);
        }
        answers.set(apiCase, {
          ...answers.get(apiCase),
          [encoding]: { answer: answer.json, variables: { ...variables } },
        });
      } catch (error) {
        failures = [error instanceof Error ? error.message : String(error)];
      }
      report({ title: apiCase.name, file: apiCase.file, encoding, failures, ms: performance.now() - started });
    }
  }

  for (const [apiCase, both] of answers) {
    if (!both.json || !both.protobuf) continue;
    const json = normalise(both.json.answer, both.json.variables);
    const protobuf = normalise(both.protobuf.answer, both.protobuf.variables);
    const failures = isDeepStrictEqual(json, protobuf)
      ? []
      : [
          `JSON and protobuf answers differ:\n      json:     ${JSON.stringify(json)}\n      protobuf: ${JSON.stringify(protobuf)}`,
        ];
    report({ title: apiCase.name, file: apiCase.file, encoding: "both", failures, ms: 0 });
  }
  return results;
}

async function send(
  options: RunnerOptions,
  codec: ProtoCodec,
  operation: Operation,
  apiCase: ApiCase,
  encoding: EncodingName,
  variables: Record<string, string>,
  tokens: Record<ActorName, string | undefined>,
): Promise<Answer> {
  const accept = encoding === "json" ? "application/json" : PROTOBUF;
  const headers: Record<string, string> = { accept };
  const token = tokens[apiCase.actor];
  if (token) headers.authorization = `Bearer ${token}`;
  let body: Uint8Array | string | undefined;
  if (apiCase.rawBody) {
    headers["content-type"] = apiCase.rawBody.contentType;
    body = substitute(apiCase.rawBody.text, variables);
  } else if (apiCase.upload) {
    const { upload } = apiCase;
    const boundary = `apitests${randomBytes(8).toString("hex")}`;
    headers["content-type"] = `multipart/form-data; boundary=${boundary}`;
    const raw = fs.readFileSync(path.join(options.fixturesDir, upload.file));
    const file = upload.substitute ? Buffer.from(substitute(raw.toString("utf8"), variables)) : raw;
    const part = (head: string, data: Uint8Array | string) => [
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; ${head}\r\n\r\n`),
      Buffer.from(data),
      Buffer.from("\r\n"),
    ];
    const message =
      upload.messagePart && apiCase.body !== undefined
        ? encodeBody(codec, operation, substitute(apiCase.body, variables) as Json, encoding)
        : undefined;
    body = Buffer.concat([
      ...(message ? part(`name="${upload.messagePart}"\r\nContent-Type: ${message.contentType}`, message.bytes) : []),
      ...part(
        `name="${upload.field}"; filename="${path.basename(upload.file)}"\r\nContent-Type: ${upload.contentType}`,
        file,
      ),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
  } else if (apiCase.body !== undefined) {
    const message = encodeBody(codec, operation, substitute(apiCase.body, variables) as Json, encoding);
    headers["content-type"] = message.contentType;
    body = message.bytes;
  }
  const query = apiCase.query
    ? `?${new URLSearchParams(Object.entries(substitute(apiCase.query, variables)).map(([key, value]): [string, string] => [key, String(value)])).toString()}`
    : "";
  for (const [name, value] of Object.entries(apiCase.headers ?? {}))
    headers[name.toLowerCase()] = substitute(value, variables);
  const controller = new AbortController();
  const response = await fetch(`${options.baseUrl}${API}${substitute(apiCase.path, variables)}${query}`, {
    method: operation.method,
    headers,
    body,
    signal: controller.signal,
  });
  const contentType = response.headers.get("content-type") ?? "";
  const answer = (json: Json | undefined): Answer => ({
    accepted: headers.accept ?? accept,
    plainJson: operation.plainJson,
    status: response.status,
    contentType,
    requestId: response.headers.get("x-request-id") ?? "",
    json,
  });
  if (contentType.startsWith(EVENT_STREAM)) {
    await readFirstEventBlock(response, controller);
    return answer(undefined);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (operation.plainJson) {
    if (!contentType.startsWith("application/json")) {
      throw new Error(`${operation.id} answers JSON, not ${contentType || "(no Content-Type)"}`);
    }
    return answer(JSON.parse(Buffer.from(bytes).toString("utf8")) as Json);
  }
  // A download: its bytes are a file, not a message; a case checks its status and Content-Type.
  if (response.ok && !operation.responseMessage && bytes.length > 0) return answer(undefined);
  const messageName = response.status >= 400 ? ERROR_MESSAGE : operation.responseMessage;
  let json: Json | undefined;
  if (bytes.length > 0 || (messageName && response.status !== 204)) {
    if (!messageName) throw new Error(`${response.status} with a body, but ${operation.id} answers no message`);
    const read = (what: string, decode: () => Json): Json => {
      try {
        return decode();
      } catch (error) {
        throw new Error(
          `the ${what} answer is not a ${messageName}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    };
    if (contentType.startsWith("application/json")) {
      json = read("JSON", () =>
        codec.canonicalJson(messageName, JSON.parse(Buffer.from(bytes).toString("utf8")) as Json),
      );
    } else if (protobufTypes.has(contentType)) {
      json = read("protobuf", () => codec.decode(messageName, bytes));
    } else {
      throw new Error(`unexpected Content-Type ${contentType || "(none)"} with status ${response.status}`);
    }
  }
  return answer(json);
}

/** A request message in the run's encoding: ProtoJSON text, or protobuf bytes by the proto/ definitions. */
function encodeBody(
  codec: ProtoCodec,
  operation: Operation,
  json: Json,
  encoding: EncodingName,
): { contentType: string; bytes: Uint8Array | string } {
  if (encoding === "json") return { contentType: "application/json", bytes: JSON.stringify(json) };
  if (!operation.requestMessage) throw new Error(`${operation.id} takes no message body`);
  return { contentType: PROTOBUF, bytes: codec.encode(operation.requestMessage, json) };
}

/**
 * A Server-Sent Events answer never ends by itself: read it until its first complete event or comment
 * block (text up to a blank line) or for at most STREAM_WAIT_MS, then abort the request. The runner
 * treats such an answer as having no message body; a case checks only its status and headers.
 */
async function readFirstEventBlock(response: Response, controller: AbortController): Promise<void> {
  const timer = setTimeout(() => controller.abort(), STREAM_WAIT_MS);
  const decoder = new TextDecoder();
  let seen = "";
  try {
    const reader = response.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
    while (reader && !/\r?\n\r?\n|\r\r/.test(seen)) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    // Reading fails with an AbortError once the time is up; anything else is a real failure.
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function check(apiCase: ApiCase, answer: Answer, variables: Record<string, string>): string[] {
  const failures: string[] = [];
  const { expect } = apiCase;
  if (answer.status !== expect.status) {
    failures.push(
      `status ${answer.status}, expected ${expect.status}${answer.json ? ` (${JSON.stringify(answer.json)})` : ""}`,
    );
  }
  if (!answer.requestId) failures.push("no X-Request-Id header");
  if (expect.contentType !== undefined && answer.contentType !== expect.contentType) {
    failures.push(`Content-Type ${answer.contentType}, expected ${expect.contentType}`);
  }
  if (answer.json !== undefined && expect.contentType === undefined) {
    const wanted = protobufTypes.has(answer.accepted) && !answer.plainJson ? answer.accepted : "application/json";
    const fits = wanted === "application/json" ? answer.contentType.startsWith(wanted) : answer.contentType === wanted;
    if (!fits) failures.push(`Content-Type ${answer.contentType}, expected ${wanted}`);
  }
  if (answer.status >= 400 && answer.json !== undefined) {
    const code = valueAt(answer.json, answer.plainJson ? "error" : "code");
    if (expect.code !== undefined && code !== expect.code)
      failures.push(`code ${JSON.stringify(code)}, expected ${expect.code}`);
    // An RFC 6749 error has no place for the request id; the header carries it.
    if (!answer.plainJson && valueAt(answer.json, "requestId") !== answer.requestId)
      failures.push("the error's requestId is not the X-Request-Id header");
  } else if (expect.code !== undefined) {
    failures.push(`expected error code ${expect.code}, got status ${answer.status}`);
  }
  if (expect.body !== undefined) failures.push(...partialMatch(substitute(expect.body, variables), answer.json));
  return failures;
}

interface Seeded {
  tokens: Record<ActorName, string | undefined>;
  variables: Record<string, string>;
}

/** Actors and the seed group, made through the public API with the admin's credentials. */
async function seed(options: RunnerOptions): Promise<Seeded> {
  const call = async (
    method: string,
    route: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<JsonObject> => {
    const response = await fetch(`${options.baseUrl}${API}${route}`, {
      method,
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`seeding: ${method} ${route} answered ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as JsonObject;
  };
  const login = async (email: string, password: string) =>
    text((await call("POST", "/auth/login", undefined, { email, password })).accessToken, "accessToken");
  const admin = await login(options.admin.email, options.admin.password);
  const tag = randomBytes(4).toString("hex");
  const group = await call("POST", "/groups", admin, { name: `apitests ${tag}` });
  const otherGroup = await call("POST", "/groups", admin, { name: `apitests other ${tag}` });
  const people: [ActorName, string, string][] = [
    ["teacher", "ROLE_TEACHER", text(group.id, "group id")],
    ["student", "ROLE_STUDENT", text(group.id, "group id")],
    ["otherStudent", "ROLE_STUDENT", text(otherGroup.id, "group id")],
  ];
  const password = `apitests-${tag}-password`;
  const tokens: Record<ActorName, string | undefined> = {
    anonymous: undefined,
    admin,
    teacher: undefined,
    student: undefined,
    otherStudent: undefined,
  };
  const variables: Record<string, string> = {
    groupId: text(group.id, "group id"),
    otherGroupId: text(otherGroup.id, "group id"),
    tag,
    password,
  };
  variables.adminId = text(((await call("GET", "/auth/me", admin)).user as JsonObject).id, "user id");
  for (const [actor, role, groupId] of people) {
    const nickName = `${actor.toLowerCase()}_${tag}`;
    const email = `${nickName}@apitests.example`;
    const user = await call("POST", "/users", admin, {
      email,
      nickName,
      firstName: actor,
      lastName: `Apitests ${tag}`,
      role,
      groupId,
      learningClass: actor === "otherStudent" ? "11B" : "10A",
      password,
    });
    tokens[actor] = await login(email, password);
    variables[`${actor}Id`] = text(user.id, "user id");
    variables[`${actor}Email`] = email;
    variables[`${actor}NickName`] = nickName;
  }
  return { tokens, variables };
}
