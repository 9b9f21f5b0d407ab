import assert from "node:assert/strict";
import { QueryTypes } from "sequelize";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import type { ErrorCode } from "../errors/index.js";
import type { MessageCodec } from "../http/messages.js";
import { preparedStatementWatchers } from "../db/db.js";
import { inPeriodicJob } from "../lifecycle/periodic.js";
import { testDatabase } from "./database.js";
import { rawRequest, type RawResponse } from "./http.js";

/**
 * A small API client for route tests: the same call in JSON and in protobuf, and assertions that
 * decode whatever encoding the response declares.
 */

export type Encoding = "json" | "protobuf";
export const encodings: readonly Encoding[] = ["json", "protobuf"];

export const JSON_TYPE = "application/json; charset=utf-8";
export const PROTOBUF_TYPE = "application/protobuf";

/** A request body that knows its two wire forms. */
export interface Payload {
  bytes(encoding: Encoding): Buffer | string;
}

/** @returns the message as a body in either encoding */
export const message = <T>(codec: MessageCodec<T>, value: T): Payload => ({
  bytes: (encoding) =>
    encoding === "json" ? JSON.stringify(codec.toJSON(value)) : Buffer.from(codec.encode(value).finish()),
});

/** A JSON-only body, for what protobuf cannot express. */
export const rawJson = (json: unknown): Payload => ({ bytes: () => JSON.stringify(json) });

export interface Api {
  readonly encoding: Encoding;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: Payload; headers?: Record<string, string>; rawBody?: Buffer },
  ): Promise<RawResponse>;
}

/**
 * @param baseUrl - the server's URL (read at call time, so a suite can create the client before its server)
 * @param encoding - what the client sends and asks for
 */
export function apiFor(baseUrl: () => string, encoding: Encoding): Api {
  const media = encoding === "json" ? "application/json" : PROTOBUF_TYPE;
  return {
    encoding,
    call(method, path, options = {}) {
      const headers: Record<string, string> = { accept: media, ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.body) headers["content-type"] = media;
      return rawRequest(`${baseUrl()}/api/v1${path}`, {
        method,
        headers,
        body: options.rawBody ?? options.body?.bytes(encoding),
      });
    },
  };
}

/**
 * @param serverOf - the suite's server (started in a before hook, so read lazily)
 * @returns `apiFor(encoding)` and `bothEncodings(title, test)` bound to that server
 */
export function encodingClients(serverOf: () => { url: string }) {
  const baseUrl = () => serverOf().url;
  return {
    apiFor: (encoding: Encoding): Api => apiFor(baseUrl, encoding),
    bothEncodings: (title: string, test: (api: Api) => Promise<void>): void => bothEncodings(baseUrl, title, test),
  };
}

/** Registers one mocha test per encoding. */
export function bothEncodings(baseUrl: () => string, title: string, test: (api: Api) => Promise<void>): void {
  for (const encoding of encodings) it(`${title} (${encoding})`, () => test(apiFor(baseUrl, encoding)));
}

export const describeResponse = (response: RawResponse): string =>
  `${response.status} ${String(response.headers["content-type"])} ${response.body.toString("utf8").slice(0, 400)}`;

function expectContentType(api: Api, response: RawResponse): void {
  assert.equal(response.headers["content-type"], api.encoding === "json" ? JSON_TYPE : PROTOBUF_TYPE);
}

/** Decodes a body of `codec` in whichever encoding the response declares. */
export function decodeAs<T>(codec: MessageCodec<T>, response: RawResponse): T {
  const type = String(response.headers["content-type"]);
  return type.startsWith("application/json")
    ? codec.fromJSON(JSON.parse(response.body.toString("utf8")))
    : codec.decode(response.body);
}

/** Asserts the status and encoding, and decodes the message. */
export function expectMessage<T>(api: Api, response: RawResponse, codec: MessageCodec<T>, status = 200): T {
  assert.equal(response.status, status, describeResponse(response));
  expectContentType(api, response);
  return api.encoding === "json"
    ? codec.fromJSON(JSON.parse(response.body.toString("utf8")))
    : codec.decode(response.body);
}

/** Checks a 204: no body at all. */
export function expectNoContent(response: RawResponse): void {
  assert.equal(response.status, 204, describeResponse(response));
  assert.equal(response.body.length, 0);
}

/** Asserts an error response in the client's encoding, its code and, if given, a violated field. */
export function expectError(
  api: Api,
  response: RawResponse,
  status: number,
  code: ErrorCode,
  field?: string,
): ErrorMessage {
  assert.equal(response.status, status, describeResponse(response));
  expectContentType(api, response);
  const error =
    api.encoding === "json"
      ? ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8")))
      : ErrorMessage.decode(response.body);
  assert.equal(error.code, code, describeResponse(response));
  assert.equal(error.requestId, response.headers["x-request-id"]);
  if (field !== undefined) {
    const fields = error.fieldViolations.map((violation) => violation.field);
    assert.ok(fields.includes(field), `expected a violation of "${field}", got ${JSON.stringify(fields)}`);
  }
  return error;
}

/** Runs a count(*) query against the suite's database. */
export async function countRows(query: string, replacements: Record<string, unknown> = {}): Promise<number> {
  const [row] = await testDatabase().database.sequelize.query<{ count: string }>(query, {
    replacements,
    type: QueryTypes.SELECT,
  });
  return Number(row?.count ?? 0);
}

/**
 * Counts every SQL statement the app issues while `work` runs (transaction control included: all of
 * it goes through sequelize.query, or is a prepared statement of `selectPrepared`), but for the
 * statements of periodic jobs running meanwhile.
 */
export async function countStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const { sequelize } = testDatabase().database;
  let statements = 0;
  const hook = `countStatements-${Math.random()}`;
  // A background job's statements (a lease heartbeat every 10 s) may land in the window; they are not the work's.
  const count = () => {
    if (!inPeriodicJob()) statements += 1;
  };
  sequelize.addHook("beforeQuery", hook, count);
  preparedStatementWatchers.add(count);
  try {
    const result = await work();
    return { result, statements };
  } finally {
    sequelize.removeHook("beforeQuery", hook);
    preparedStatementWatchers.delete(count);
  }
}
