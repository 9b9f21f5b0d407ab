import assert from "node:assert/strict";
import type { Sequelize } from "sequelize";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import type { ErrorCode } from "../errors/index.js";
import type { MessageCodec } from "../http/messages.js";
import { rawRequest, type RawResponse } from "./http.js";
import type { TestServer } from "./server.js";

/**
 * A client for module tests that run each case in both encodings (style.md rule 19): bodies know
 * their two wire forms, answers are decoded in the encoding they must have come in, and errors are
 * checked by code and field path.
 */

export type Encoding = "json" | "protobuf";
export const encodings: readonly Encoding[] = ["json", "protobuf"];

const JSON_TYPE = "application/json; charset=utf-8";
const PROTOBUF_TYPE = "application/protobuf";

/** A request body that knows its two wire forms. */
export interface Payload {
  bytes(encoding: Encoding): Buffer | string;
}

/**
 * @param codec - the request message's codec
 * @param value - the message
 * @returns a body sent as ProtoJSON or as protobuf, whichever the call's encoding is
 */
export const message = <T>(codec: MessageCodec<T>, value: T): Payload => ({
  bytes: (encoding) =>
    encoding === "json" ? JSON.stringify(codec.toJSON(value)) : Buffer.from(codec.encode(value).finish()),
});

/** A JSON-only body, for what protobuf cannot express (two members of one oneof, unknown keys). */
export const rawJson = (json: unknown): Payload => ({ bytes: () => JSON.stringify(json) });

/** Calls the API in one encoding: the body in it, and `Accept` asking for it. */
export interface Api {
  readonly encoding: Encoding;
  call(method: string, path: string, options?: { token?: string; body?: Payload }): Promise<RawResponse>;
}

/**
 * @param serverOf - the suite's server (started in a before hook, so read lazily)
 * @returns `apiFor(encoding)` and `bothEncodings(title, test)`, which declares the test once per encoding
 */
export function encodingClients(serverOf: () => TestServer) {
  const apiFor = (encoding: Encoding): Api => {
    const media = encoding === "json" ? "application/json" : PROTOBUF_TYPE;
    return {
      encoding,
      call(method, path, options = {}) {
        const headers: Record<string, string> = { accept: media };
        if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
        if (options.body) headers["content-type"] = media;
        return rawRequest(`${serverOf().url}/api/v1${path}`, { method, headers, body: options.body?.bytes(encoding) });
      },
    };
  };
  const bothEncodings = (title: string, test: (api: Api) => Promise<void>): void => {
    for (const encoding of encodings) it(`${title} (${encoding})`, () => test(apiFor(encoding)));
  };
  return { apiFor, bothEncodings };
}

/** @returns the status, type and start of a body, for assertion messages */
export const describeResponse = (response: RawResponse) =>
  `${response.status} ${String(response.headers["content-type"])} ${response.body.toString("utf8").slice(0, 400)}`;

function expectContentType(api: Api, response: RawResponse): void {
  assert.equal(response.headers["content-type"], api.encoding === "json" ? JSON_TYPE : PROTOBUF_TYPE);
}

/**
 * Checks the status and the content type, then decodes the message in the call's encoding.
 * @param status - the expected status (200 by default)
 */
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

/**
 * Checks an error answer: status, code, the call's encoding, and (if given) a violation of `field`.
 * @returns the decoded error
 */
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
  assert.equal(error.requestId, response.headers["x-request-id"], "the error carries the request id");
  if (field !== undefined) {
    const fields = error.fieldViolations.map((violation) => violation.field);
    assert.ok(fields.includes(field), `expected a violation of "${field}", got ${JSON.stringify(fields)}`);
  }
  return error;
}

/**
 * Runs `work` and counts the SQL statements the app issues meanwhile (transaction control included:
 * every statement goes through sequelize.query, so a beforeQuery hook sees each one).
 * @param sequelize - the suite's instance (the test server shares it)
 * @param work - typically one API call
 */
export async function countStatements<T>(
  sequelize: Sequelize,
  work: () => Promise<T>,
): Promise<{ result: T; statements: number }> {
  let statements = 0;
  const hook = `countStatements${Math.random().toString(36).slice(2)}`;
  sequelize.addHook("beforeQuery", hook, () => {
    statements += 1;
  });
  try {
    const result = await work();
    return { result, statements };
  } finally {
    sequelize.removeHook("beforeQuery", hook);
  }
}
