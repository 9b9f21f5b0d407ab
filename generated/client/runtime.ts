// Copied by `npm run gen` from src/clients/runtime.ts. Do not edit here.
/**
 * The runtime of the generated ShTP API client (generated/client/api.ts): requests in either encoding,
 * typed errors, the session and its automatic refresh, the OAuth 2.0 token endpoint, uploads, downloads
 * and the notification stream.
 *
 * It uses only what browsers and Node 20+ both have (fetch, Headers, Blob, FormData, AbortController,
 * TextDecoder, atob, URLSearchParams), and EventSource where there is one, so the same file runs in the
 * web app and in Node. `npm run gen` copies it to generated/client/runtime.ts: edit it here, never there.
 */
import { errorStatuses, oauth2ErrorCodes, type ErrorCode, type OAuth2ErrorCode } from "./error-codes.js";

export type { ErrorCode, OAuth2ErrorCode };

/** The two wire encodings of every message endpoint. */
export type Encoding = "json" | "protobuf";

/** What the client uses of a ts-proto message codec. */
export interface MessageCodec<T> {
  readonly $type: string;
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

/** The fields of `shtp.v1.Error` the client reads. */
export interface ErrorMessage {
  code: string;
  detail: string;
  fieldViolations: readonly FieldViolation[];
  requestId: string;
}

/** One refused field: its lowerCamelCase path (`audience.groupIds.2`) and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** The protobuf media type the client sends and asks for. */
export const PROTOBUF_MEDIA_TYPE = "application/protobuf";
const protobufMediaTypes = new Set([PROTOBUF_MEDIA_TYPE, "application/x-protobuf", "application/vnd.google.protobuf"]);
const mediaTypeOf = (encoding: Encoding) => (encoding === "json" ? "application/json" : PROTOBUF_MEDIA_TYPE);

const isErrorCode = (code: string): code is ErrorCode => Object.prototype.hasOwnProperty.call(errorStatuses, code);

/** The code of an answer that carries no `shtp.v1.Error` (a proxy's page): the first one of its status. */
function codeForStatus(status: number): ErrorCode {
  const codes = Object.keys(errorStatuses).filter(isErrorCode);
  const exact = codes.find((code) => errorStatuses[code] === status);
  if (exact) return exact;
  if (status === 502 || status === 504) return "unavailable";
  return status >= 500 ? "internal" : "invalid_argument";
}

/**
 * A failed call: the server's `shtp.v1.Error`, whichever encoding carried it. `detail` is a sentence for
 * people; `code` is for programs; `requestId` is what to quote in a bug report.
 */
export class ApiError extends Error {
  override readonly name: string = "ApiError";

  /**
   * @param status - the HTTP status
   * @param code - one of the API's closed set of codes
   * @param detail - the human sentence (also the error's message)
   * @param fieldViolations - the refused fields, for forms
   * @param requestId - the request's id (X-Request-Id)
   */
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly fieldViolations: readonly FieldViolation[],
    readonly requestId: string,
  ) {
    super(detail);
  }
}

/** The API's code nearest to each RFC 6749 §5.2 code, so that handling every ApiError covers token calls. */
const apiCodeOfOAuth2: Readonly<Record<OAuth2ErrorCode, ErrorCode>> = {
  invalid_request: "invalid_argument",
  invalid_grant: "unauthenticated",
  unsupported_grant_type: "invalid_argument",
  invalid_scope: "invalid_argument",
  server_error: "internal",
  temporarily_unavailable: "unavailable",
};

const isOAuth2ErrorCode = (code: unknown): code is OAuth2ErrorCode =>
  typeof code === "string" && (oauth2ErrorCodes as readonly string[]).includes(code);

/**
 * A refusal of the OAuth 2.0 token endpoint (RFC 6749 §5.2). `error` is the standard code
 * (`invalid_grant` for a wrong password or a used refresh token, `invalid_request`,
 * `unsupported_grant_type`...); `code` is the API's nearest one (a throttled sign-in is `rate_limited`),
 * so an app that handles every ApiError handles this one too.
 */
export class OAuth2TokenError extends ApiError {
  override readonly name: string = "OAuth2TokenError";

  /**
   * @param status - the HTTP status
   * @param error - the RFC 6749 §5.2 code
   * @param detail - `error_description`
   * @param requestId - the request's id (X-Request-Id)
   */
  constructor(
    status: number,
    readonly error: OAuth2ErrorCode,
    detail: string,
    requestId: string,
  ) {
    super(status, status === 429 ? "rate_limited" : apiCodeOfOAuth2[error], detail, [], requestId);
  }
}

/** The answer of the OAuth 2.0 token endpoint (RFC 6749 §5.1). */
export interface OAuth2Token {
  /** A JWT for `Authorization: Bearer`. */
  access_token: string;
  token_type: string;
  /** Seconds until the access token expires. */
  expires_in: number;
  /** Single use: trade it with `grant_type=refresh_token` for a new pair. */
  refresh_token: string;
}

/** The tokens of a sign-in: what login and refresh answer. */
export interface Session {
  accessToken: string;
  refreshToken: string;
}

/** Where the client keeps its session, for the app to read, seed or forget. */
export interface SessionStore {
  /** The current tokens, or undefined when signed out. */
  readonly current: Session | undefined;
  /** Replaces the tokens (after a sign-in elsewhere, or from storage at start-up); undefined signs out locally. */
  set(session: Session | undefined): void;
}

/** The client's SessionStore: tokens in memory, each change reported to the app. */
class SessionKeeper implements SessionStore {
  private tokens: Session | undefined;

  constructor(
    initial: Session | undefined,
    private readonly changed: (session: Session | undefined) => void,
  ) {
    this.tokens = initial;
  }

  get current(): Session | undefined {
    return this.tokens;
  }

  set(session: Session | undefined): void {
    this.tokens = session;
    this.changed(session);
  }
}

/** How a client is made. */
export interface ClientOptions {
  /** The server's origin, such as `https://api.school.example`; empty for the page's own origin. */
  baseUrl: string;
  /** The encoding of every call that does not choose its own; JSON by default. */
  encoding?: Encoding;
  /** Tokens to start with (kept from an earlier visit). */
  session?: Session;
  /** Called whenever the session changes: sign-in, refresh, sign-out, or a refresh the server refused. */
  onSessionChange?(session: Session | undefined): void;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /** The EventSource streams open; the global one (browsers) by default. Without one, streams use fetch. */
  EventSource?: EventSourceClass;
}

/** Per-call choices. */
export interface CallOptions {
  /** This call's encoding, overriding the client's. */
  encoding?: Encoding;
  signal?: AbortSignal;
  /** Extra request headers, such as `X-Request-Id`. */
  headers?: Record<string, string>;
}

/** What the client needs of a browser's EventSource (or one the app passes in, such as a polyfill's). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: { data?: unknown; lastEventId?: string }) => void): void;
  close(): void;
}

/** An EventSource class: `globalThis.EventSource` in browsers. */
export type EventSourceClass = new (url: string) => EventSourceLike;

/** How a stream is read: a browser's EventSource, or fetch reading the response body. */
export type StreamTransport = "eventsource" | "fetch";

/** Per-stream choices. */
export interface StreamOptions extends CallOptions {
  /** Resume after this event id (one the stream sent earlier); later ones arrive first. */
  lastEventId?: string;
  /**
   * Reconnect after a dropped connection, with a fresh ticket where the stream takes one, resuming after
   * the last event. Default true.
   */
  reconnect?: boolean;
  /**
   * EventSource when there is one (the client's `EventSource` option or the global one) and the stream
   * takes a ticket; fetch otherwise. Each reads the same events.
   */
  transport?: StreamTransport;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A query-string value; lists repeat the key, dates are sent as RFC 3339, flags as `true`/`false`. */
export type QueryValue = string | number | boolean | Date;

/** Path parameters, query and headers of a call. */
export interface Addressing {
  params?: Readonly<Record<string, string>>;
  query?: Readonly<Record<string, QueryValue | readonly QueryValue[] | undefined>>;
  headers?: Readonly<Record<string, string | undefined>>;
}

/** An operation as the generated client declares it: method and path (with `:name` parameters). */
export interface Operation {
  method: HttpMethod;
  path: string;
}

/** An operation that answers 204 No Content, with its request message if it takes one. */
export interface NoContentOperation<Req> extends Operation {
  request?: MessageCodec<Req>;
  /** `start`: the answer is a new token pair to keep; `end`: success ends the session. */
  session?: "start" | "end";
}

/** An operation that answers a message. */
export interface MessageOperation<Req, Res> extends NoContentOperation<Req> {
  response: MessageCodec<Res>;
}

/** A multipart upload: the file part and, when the route takes one, the message part. */
export interface UploadOperation<Req, Res> extends Operation {
  field: string;
  messagePart?: string;
  request?: MessageCodec<Req>;
  response: MessageCodec<Res>;
}

/** A stored event of a stream: its id (to resume after) and its message. */
export interface StoredEvent<Type extends string, T> {
  type: Type;
  id: string;
  message: T;
}

/** A live event of a stream (judging progress, say): never stored or replayed, so it has no id. */
export interface LiveEvent<Type extends string, T> {
  type: Type;
  id?: undefined;
  message: T;
}

/** Any event of any stream. */
export type AnyStreamEvent = StoredEvent<string, unknown> | LiveEvent<string, unknown>;

/**
 * A Server-Sent Events operation: the message of its stored events, those of its live ones (each its
 * own SSE event type, the message's full name) and how it is authenticated and resumed.
 */
export interface StreamOperation extends Operation {
  events: MessageCodec<unknown>;
  liveEvents?: readonly MessageCodec<unknown>[];
  /** The query parameter that asks for base64 protobuf event data, when the route has one. */
  encodingQuery?: string;
  /** The query parameter of the last event id, for a connection that cannot send Last-Event-ID. */
  lastEventIdQuery?: string;
  /**
   * A single-use ticket the stream takes in the query instead of the Authorization header (which an
   * EventSource cannot send): the parameter and the operation that issues one per connection.
   */
  ticket?: { parameter: string; issue: MessageOperation<never, { ticket: string }> };
}

/** The file of an upload: a Blob (or File) with the message, or a FormData built by the app. */
export type UploadParts<Req> = { file: Blob; fileName?: string; body?: Req } | { form: FormData };

/** A downloaded file. */
export interface Download {
  blob: Blob;
  /** The name the server suggests (Content-Disposition). */
  fileName: string | undefined;
  mediaType: string;
}

/**
 * An open stream; iterate it with `for await`, and close it (or break out of the loop) to hang up. Its
 * events are stored ones (with an id) and live ones (without), told apart by `type`.
 */
export interface EventSubscription<E extends AnyStreamEvent> extends AsyncIterable<E> {
  /** The id of the last event received: pass it as `lastEventId` to resume later. */
  readonly lastEventId: string | undefined;
  close(): void;
}

type RequestBody = RequestInit["body"];

/**
 * What every generated operation calls: builds the URL, sends the body in the chosen encoding with the
 * session's bearer token, renews an expired token once through the refresh operation and retries, and
 * turns failures into ApiError.
 */
export class ClientCore {
  private readonly baseUrl: string;
  private readonly fetcher: typeof fetch;
  /** @internal The EventSource streams open, when there is one. */
  readonly eventSource: EventSourceClass | undefined;
  private renewal: Promise<void> | undefined;

  /** The session, for the app. */
  readonly session: SessionStore;

  /**
   * @param options - the app's choices
   * @param contract - the Error codec and the refresh operation, from the generated client
   */
  constructor(
    private readonly options: ClientOptions,
    private readonly contract: {
      error: MessageCodec<ErrorMessage>;
      refresh: MessageOperation<{ refreshToken: string }, Session>;
    },
  ) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.eventSource = options.EventSource ?? (globalThis as { EventSource?: EventSourceClass }).EventSource;
    this.session = new SessionKeeper(options.session, (session) => options.onSessionChange?.(session));
  }

  /**
   * Calls an operation that answers a message.
   * @returns the decoded message, from whichever encoding the server answered in
   * @throws ApiError for any error answer
   */
  async call<Req, Res>(
    operation: MessageOperation<Req, Res>,
    input: Addressing & { body?: Req },
    options?: CallOptions,
  ): Promise<Res> {
    const encoding = this.encodingOf(options);
    const response = await this.send(operation, input, options, {
      accept: mediaTypeOf(encoding),
      body: this.messageBody(operation, input.body, encoding),
    });
    const message = await decodeMessage(operation.response, response);
    if (operation.session === "start") this.session.set(sessionOf(message));
    return message;
  }

  /**
   * Calls the OAuth 2.0 token endpoint (RFC 6749): the grant's parameters go form-encoded, whatever the
   * client's encoding, and the standard token JSON comes back; its tokens become the session, as a
   * sign-in's do.
   * @throws OAuth2TokenError for a refusal (`invalid_grant`, `invalid_request`...), ApiError for an
   *   answer that is no RFC 6749 error (a proxy's page)
   */
  async token<Form extends Readonly<Record<string, string | undefined>> & { readonly grant_type: string }>(
    operation: Operation,
    input: { body: Form },
    options?: CallOptions,
  ): Promise<OAuth2Token> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(input.body)) if (value !== undefined) form.set(name, value);
    const response = await this.send(operation, {}, options, {
      accept: "application/json",
      body: () => ({ body: form.toString(), contentType: "application/x-www-form-urlencoded" }),
      authorize: false,
      errorOf: oauth2ErrorOf,
    });
    const answer: unknown = await response.json();
    if (!isOAuth2Token(answer)) throw new Error("The token endpoint answered no token.");
    this.session.set({ accessToken: answer.access_token, refreshToken: answer.refresh_token });
    return answer;
  }

  /**
   * Calls an operation that answers 204 No Content.
   * @throws ApiError for any error answer
   */
  async callNoContent<Req>(
    operation: NoContentOperation<Req>,
    input: Addressing & { body?: Req },
    options?: CallOptions,
  ): Promise<void> {
    const encoding = this.encodingOf(options);
    await this.send(operation, input, options, {
      accept: mediaTypeOf(encoding),
      body: this.messageBody(operation, input.body, encoding),
    });
    if (operation.session === "end") this.session.set(undefined);
  }

  /**
   * Sends a multipart upload: the file under the route's field and the message as its own part, in the
   * call's encoding; or the app's FormData as it is.
   * @throws ApiError for any error answer
   */
  async upload<Req, Res>(
    operation: UploadOperation<Req, Res>,
    input: Addressing & UploadParts<Req>,
    options?: CallOptions,
  ): Promise<Res> {
    const encoding = this.encodingOf(options);
    const form = () => {
      if ("form" in input) return input.form;
      const parts = new FormData();
      if (operation.messagePart && operation.request && input.body !== undefined) {
        const bytes = encodeMessage(operation.request, input.body, encoding);
        parts.append(operation.messagePart, new Blob([bytes], { type: mediaTypeOf(encoding) }), operation.messagePart);
      }
      const named = (input.file as Blob & { name?: unknown }).name;
      parts.append(
        operation.field,
        input.file,
        input.fileName ?? (typeof named === "string" ? named : operation.field),
      );
      return parts;
    };
    // No Content-Type of ours: fetch writes multipart/form-data with its boundary.
    const response = await this.send(operation, input, options, {
      accept: mediaTypeOf(encoding),
      body: () => ({ body: form() }),
    });
    return decodeMessage(operation.response, response);
  }

  /**
   * Downloads a file the route answers with.
   * @throws ApiError for any error answer
   */
  async download(operation: Operation, input: Addressing, options?: CallOptions): Promise<Download> {
    const response = await this.send(operation, input, options, {
      accept: `*/*;q=0.5, ${mediaTypeOf(this.encodingOf(options))}`,
    });
    const blob = await response.blob();
    return {
      blob,
      fileName: fileNameOf(response.headers.get("content-disposition")),
      mediaType: blob.type || (response.headers.get("content-type") ?? ""),
    };
  }

  /**
   * Opens a Server-Sent Events stream. A stream that takes a ticket gets a fresh one for every connection
   * and is read by EventSource where there is one, else by fetch; any other is read by fetch with the
   * session's bearer token. After a dropped connection it reconnects, resuming after the last event id,
   * so no stored event is lost or repeated.
   * @throws ApiError from the iteration when the server refuses the stream or its ticket
   */
  stream<E extends AnyStreamEvent>(
    operation: StreamOperation,
    input: Addressing,
    options: StreamOptions = {},
  ): EventSubscription<E> {
    return new EventStreamReader<E>(this, operation, input, options);
  }

  /** @internal Sends one request (and retries it once after renewing an expired token). */
  async send(
    operation: Operation,
    input: Addressing,
    options: CallOptions | undefined,
    request: {
      accept: string;
      body?: () => { body: RequestBody; contentType?: string };
      authorize?: boolean;
      /** Reads an error answer; the API's `shtp.v1.Error` by default. */
      errorOf?: (response: Response) => Promise<ApiError>;
    },
  ): Promise<Response> {
    const url = this.urlOf(operation, input);
    for (let attempt = 1; ; attempt += 1) {
      const session = request.authorize === false ? undefined : this.session.current;
      const headers = new Headers();
      for (const [name, value] of Object.entries({ ...input.headers, ...options?.headers })) {
        if (value !== undefined) headers.set(name, value);
      }
      headers.set("Accept", request.accept);
      if (session) headers.set("Authorization", `Bearer ${session.accessToken}`);
      const payload = request.body?.();
      if (payload?.contentType) headers.set("Content-Type", payload.contentType);
      const response = await this.fetcher(url, {
        method: operation.method,
        headers,
        body: payload?.body,
        signal: options?.signal,
      });
      if (response.ok) return response;
      const error = await (request.errorOf ?? ((answer) => this.errorOf(answer)))(response);
      if (error.code !== "token_expired" || !session || attempt > 1) throw error;
      await this.renew(session);
    }
  }

  /** @internal The absolute URL of a call. */
  urlOf(operation: Operation, input: Addressing): string {
    const path = operation.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => {
      const value = input.params?.[name];
      if (value === undefined || value === "") {
        throw new TypeError(`${operation.method} ${operation.path}: the path parameter "${name}" is missing.`);
      }
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(input.query ?? {})) {
      for (const item of listOf(value)) query.append(name, queryText(item));
    }
    const search = query.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ""}`;
  }

  /** @internal The call's encoding. */
  encodingOf(options: CallOptions | undefined): Encoding {
    return options?.encoding ?? this.options.encoding ?? "json";
  }

  private messageBody<Req>(operation: NoContentOperation<Req>, body: Req | undefined, encoding: Encoding) {
    const { request } = operation;
    if (!request) return undefined;
    let message = body;
    if (message === undefined && operation.session === "end") {
      const refreshToken = this.session.current?.refreshToken;
      if (refreshToken === undefined) throw new Error("There is no session to end.");
      message = request.fromJSON({ refreshToken });
    }
    if (message === undefined) return undefined;
    const encoded = encodeMessage(request, message, encoding);
    return () => ({ body: encoded, contentType: mediaTypeOf(encoding) });
  }

  /**
   * Trades the refresh token for a new pair, once for all the calls that found the same token expired.
   * A refresh the server refuses ends the session and is what those calls throw.
   */
  private async renew(expired: Session): Promise<void> {
    // Another call renewed it (or the app signed in again) while this one was in flight.
    if (this.session.current !== expired) return;
    this.renewal ??= (async () => {
      try {
        const encoding = this.encodingOf(undefined);
        const { refresh } = this.contract;
        const response = await this.send(refresh, {}, undefined, {
          accept: mediaTypeOf(encoding),
          body: this.messageBody(refresh, { refreshToken: expired.refreshToken }, encoding),
          authorize: false,
        });
        this.session.set(sessionOf(await decodeMessage(refresh.response, response)));
      } catch (error) {
        if (error instanceof ApiError && this.session.current === expired) this.session.set(undefined);
        throw error;
      } finally {
        this.renewal = undefined;
      }
    })();
    await this.renewal;
  }

  private async errorOf(response: Response): Promise<ApiError> {
    let message: ErrorMessage | undefined;
    try {
      message = await decodeMessage(this.contract.error, response);
    } catch {
      message = undefined;
    }
    const code = message && isErrorCode(message.code) ? message.code : codeForStatus(response.status);
    return new ApiError(
      response.status,
      code,
      message?.detail || answeredSentence(response),
      message?.fieldViolations ?? [],
      message?.requestId || (response.headers.get("x-request-id") ?? ""),
    );
  }
}

/** The detail of an error answer that says nothing itself. */
const answeredSentence = (response: Response) =>
  `The server answered ${response.status} ${response.statusText}`.trim() + ".";

/** An RFC 6749 §5.2 error answer as an OAuth2TokenError; anything else as an ApiError by its status. */
async function oauth2ErrorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const requestId = response.headers.get("x-request-id") ?? "";
  const error = typeof body === "object" && body !== null && "error" in body ? body.error : undefined;
  if (!isOAuth2ErrorCode(error)) {
    return new ApiError(response.status, codeForStatus(response.status), answeredSentence(response), [], requestId);
  }
  const description =
    typeof body === "object" && body !== null && "error_description" in body ? body.error_description : undefined;
  return new OAuth2TokenError(response.status, error, typeof description === "string" ? description : error, requestId);
}

function isOAuth2Token(answer: unknown): answer is OAuth2Token {
  return (
    typeof answer === "object" &&
    answer !== null &&
    "access_token" in answer &&
    typeof answer.access_token === "string" &&
    "refresh_token" in answer &&
    typeof answer.refresh_token === "string" &&
    "token_type" in answer &&
    typeof answer.token_type === "string" &&
    "expires_in" in answer &&
    typeof answer.expires_in === "number"
  );
}

/** The tokens of an operation's answer that starts a session (a token pair). */
function sessionOf(message: unknown): Session {
  if (
    typeof message === "object" &&
    message !== null &&
    "accessToken" in message &&
    "refreshToken" in message &&
    typeof message.accessToken === "string" &&
    typeof message.refreshToken === "string"
  ) {
    return { accessToken: message.accessToken, refreshToken: message.refreshToken };
  }
  throw new Error("An operation that starts a session answered no token pair.");
}

function encodeMessage<T>(codec: MessageCodec<T>, message: T, encoding: Encoding): string | Uint8Array<ArrayBuffer> {
  // A copy, so the bytes sit in a plain ArrayBuffer, which every BodyInit and BlobPart typing accepts.
  return encoding === "json" ? JSON.stringify(codec.toJSON(message)) : new Uint8Array(codec.encode(message).finish());
}

async function decodeMessage<T>(codec: MessageCodec<T>, response: Response): Promise<T> {
  const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json") return codec.fromJSON(await response.json());
  if (protobufMediaTypes.has(type)) return codec.decode(new Uint8Array(await response.arrayBuffer()));
  throw new Error(`Expected a ${codec.$type}, but the server answered ${type || "no Content-Type"}.`);
}

function listOf(value: QueryValue | readonly QueryValue[] | undefined): readonly QueryValue[] {
  if (value === undefined) return [];
  return typeof value === "object" && !(value instanceof Date) ? value : [value];
}

const queryText = (value: QueryValue): string =>
  value instanceof Date ? value.toISOString() : typeof value === "string" ? value : String(value);

/** The file name of a Content-Disposition header: `filename*` (RFC 5987) first, then `filename`. */
function fileNameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended.trim());
    } catch {
      // Fall back to the plain parameter.
    }
  }
  return /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)?.[1]?.replace(/\\(.)/g, "$1") ?? undefined;
}

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** One dispatched Server-Sent Event, as the HTML standard's parser defines it. */
interface SseEvent {
  /** The `event` field; `message` when there was none. */
  type: string;
  /** The `id` field of this event, when it had one. */
  id: string | undefined;
  data: string;
}

/**
 * The events of an SSE body, parsed as the HTML standard says: lines end in CR, LF or CRLF; a blank line
 * dispatches; `:` starts a comment; `retry` changes the reconnection delay.
 */
async function* sseEvents(body: ReadableStream<Uint8Array>, onRetry: (ms: number) => void): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let type = "";
  let id: string | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: RegExpExecArray | null;
      // A trailing CR may be half of a CRLF still in transit, so it waits for the next chunk.
      while ((newline = /\r\n|\n|\r(?=[^\n])/.exec(buffer)) !== null) {
        const line = buffer.slice(0, newline.index);
        buffer = buffer.slice(newline.index + newline[0].length);
        if (line === "") {
          if (data.length > 0) yield { type: type || "message", id, data: data.join("\n") };
          [data, type, id] = [[], "", undefined];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(value);
        else if (field === "event") type = value;
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Items pushed by callbacks (an EventSource's listeners), pulled by one `for await`. */
class PushedItems<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const [item] = this.items.splice(0, 1);
      if (item !== undefined) yield item;
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * Opens an EventSource and resolves once it is open, with its events of the given types, which end when
 * the connection drops (or `signal` aborts). The EventSource is closed then rather than left to retry on
 * its own, which would send the same, used ticket.
 * @throws Error when it cannot open (an EventSource does not tell why)
 */
function openEventSource(
  EventSourceOf: EventSourceClass,
  url: string,
  types: readonly string[],
  signal: AbortSignal,
): Promise<AsyncIterable<SseEvent>> {
  return new Promise((resolve, reject) => {
    const source = new EventSourceOf(url);
    const events = new PushedItems<SseEvent>();
    let opened = false;
    const finish = () => {
      signal.removeEventListener("abort", finish);
      source.close();
      events.end();
      if (!opened) reject(new Error("The event stream could not be opened."));
    };
    signal.addEventListener("abort", finish);
    source.addEventListener("open", () => {
      opened = true;
      resolve(events);
    });
    source.addEventListener("error", finish);
    for (const type of types) {
      source.addEventListener(type, (event) =>
        events.push({
          type,
          id: event.lastEventId || undefined,
          data: typeof event.data === "string" ? event.data : "",
        }),
      );
    }
  });
}

/** The longest wait between attempts to reconnect, unless the server asks for longer. */
const MAX_RECONNECT_DELAY_MS = 30_000;
/** A connection that lasted this long was not a failure, however it ended. */
const STABLE_CONNECTION_MS = 10_000;

/** A stream; see ClientCore.stream. */
class EventStreamReader<E extends AnyStreamEvent> implements EventSubscription<E> {
  private readonly controller = new AbortController();
  private readonly transport: StreamTransport;
  /** The codec of each SSE event type, and whether its events are stored ones (with ids). */
  private readonly kinds = new Map<string, { codec: MessageCodec<unknown>; stored: boolean }>();
  private last: string | undefined;
  /** The server's reconnection delay (its `retry:` field, which only a fetch-read stream sees). */
  private retryMs = 2000;

  /** @throws TypeError when the stream cannot use the transport asked for */
  constructor(
    private readonly core: ClientCore,
    private readonly operation: StreamOperation,
    private readonly input: Addressing,
    private readonly options: StreamOptions,
  ) {
    const { events, liveEvents = [], ticket } = operation;
    this.transport = options.transport ?? (ticket && core.eventSource ? "eventsource" : "fetch");
    if (this.transport === "eventsource" && !(ticket && core.eventSource)) {
      throw new TypeError(
        ticket
          ? "There is no EventSource here: pass one as the client's EventSource option, or use transport: 'fetch'."
          : `${operation.path} takes no ticket, so an EventSource cannot open it; use transport: 'fetch'.`,
      );
    }
    // Data without an event type is the stream's own message, as the SSE default type says.
    for (const [type, codec, stored] of [
      ["message", events, true] as const,
      [events.$type, events, true] as const,
      ...liveEvents.map((codec) => [codec.$type, codec, false] as const),
    ]) {
      this.kinds.set(type, { codec, stored });
    }
    this.last = options.lastEventId;
    if (options.signal?.aborted) this.close();
    else options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  get lastEventId(): string | undefined {
    return this.last;
  }

  close(): void {
    this.controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<E> {
    const encoding = this.core.encodingOf(this.options);
    const { signal } = this.controller;
    let failures = 0;
    try {
      while (!signal.aborted) {
        let events: AsyncIterable<SseEvent>;
        try {
          events = await this.connect(encoding);
        } catch (error) {
          // The server refused the stream or its ticket (401, 403...): reconnecting would be refused again.
          if (signal.aborted) return;
          if (error instanceof ApiError || this.options.reconnect === false) throw error;
          failures += 1;
          await this.pause(this.reconnectDelay(failures));
          continue;
        }
        const openedAt = Date.now();
        // Only a connection that drops is worth reconnecting; data this client cannot read is thrown.
        let decoding = false;
        try {
          for await (const event of events) {
            // A type this client does not know (a newer server's live event) is skipped.
            const kind = this.kinds.get(event.type);
            if (!kind) continue;
            decoding = true;
            const message =
              encoding === "protobuf"
                ? kind.codec.decode(base64Bytes(event.data))
                : kind.codec.fromJSON(JSON.parse(event.data));
            decoding = false;
            const type = kind.codec.$type;
            if (!kind.stored) {
              yield { type, message } as E;
              continue;
            }
            if (event.id !== undefined) this.last = event.id;
            yield { type, id: event.id ?? "", message } as E;
          }
        } catch (error) {
          if (signal.aborted) return;
          if (decoding || this.options.reconnect === false) throw error;
        }
        if (this.options.reconnect === false) return;
        // A connection that ends soon after it opened counts as a failure too: the server closing it for a
        // user's newer stream asks for a long `retry:`, which an EventSource does not pass on.
        failures = Date.now() - openedAt < STABLE_CONNECTION_MS ? failures + 1 : 0;
        await this.pause(this.reconnectDelay(failures));
      }
    } finally {
      this.controller.abort();
    }
  }

  /**
   * Opens one connection, resuming after the last event: with a fresh ticket when the stream takes one
   * (so the last id goes in the query, which is all an EventSource can send), else with the bearer token
   * and Last-Event-ID.
   */
  private async connect(encoding: Encoding): Promise<AsyncIterable<SseEvent>> {
    const { encodingQuery, lastEventIdQuery, ticket } = this.operation;
    const { signal } = this.controller;
    const options = { ...this.options, signal };
    const query = {
      ...this.input.query,
      ...(encodingQuery && encoding === "protobuf" && { [encodingQuery]: encoding }),
    };
    const resume = this.last;
    if (!ticket) {
      const headers = { ...this.input.headers, ...(resume !== undefined && { "Last-Event-ID": resume }) };
      return this.bodyEvents(
        await this.core.send(this.operation, { ...this.input, query, headers }, options, {
          accept: "text/event-stream",
        }),
      );
    }
    const issued = await this.core.call(ticket.issue, {}, { encoding, signal, headers: this.options.headers });
    const resumeInQuery = resume !== undefined && lastEventIdQuery !== undefined;
    const address = {
      ...this.input,
      query: { ...query, ...(resumeInQuery && { [lastEventIdQuery]: resume }), [ticket.parameter]: issued.ticket },
      headers: { ...this.input.headers, ...(resume !== undefined && !resumeInQuery && { "Last-Event-ID": resume }) },
    };
    if (this.transport === "eventsource" && this.core.eventSource) {
      return openEventSource(
        this.core.eventSource,
        this.core.urlOf(this.operation, address),
        [...this.kinds.keys()],
        signal,
      );
    }
    return this.bodyEvents(
      await this.core.send(this.operation, address, options, { accept: "text/event-stream", authorize: false }),
    );
  }

  private bodyEvents(response: Response): AsyncIterable<SseEvent> {
    if (!response.body) throw new Error("The event stream has no body.");
    return sseEvents(response.body, (ms) => (this.retryMs = ms));
  }

  /**
   * The wait before the next connection: the server's delay, doubled for each failure after the first
   * in a row, up to 30 s (or the server's delay when that is longer).
   */
  private reconnectDelay(failures: number): number {
    const cap = Math.max(MAX_RECONNECT_DELAY_MS, this.retryMs);
    return Math.min(this.retryMs * 2 ** Math.max(0, failures - 1), cap);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.controller.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
