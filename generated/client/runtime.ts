// Copied by `npm run gen` from src/clients/runtime.ts. Do not edit here.
/**
 * The runtime of the generated ShTP API client (generated/client/api.ts): requests in either encoding,
 * typed errors, the session and its automatic refresh, uploads, downloads and the notification stream.
 *
 * It uses only what browsers and Node 20+ both have (fetch, Headers, Blob, FormData, AbortController,
 * TextDecoder, atob), so the same file runs in the web app and in Node. `npm run gen` copies it to
 * generated/client/runtime.ts: edit it here, never there.
 */
import { errorStatuses, type ErrorCode } from "./error-codes.js";

export type { ErrorCode };

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
  override readonly name = "ApiError";

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
}

/** Per-call choices. */
export interface CallOptions {
  /** This call's encoding, overriding the client's. */
  encoding?: Encoding;
  signal?: AbortSignal;
  /** Extra request headers, such as `X-Request-Id`. */
  headers?: Record<string, string>;
}

/** Per-stream choices. */
export interface StreamOptions extends CallOptions {
  /** Resume after this event id (one the stream sent earlier); later ones arrive first. */
  lastEventId?: string;
  /** Reconnect after a dropped connection, resuming after the last event, as EventSource does. Default true. */
  reconnect?: boolean;
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

/** A Server-Sent Events operation and the message of its events. */
export interface StreamOperation<T> extends Operation {
  events: MessageCodec<T>;
  /** The query parameter that asks for base64 protobuf event data, when the route has one. */
  encodingQuery?: string;
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

/** One event of a stream: its id (to resume after) and its message. */
export interface StreamEvent<T> {
  id: string;
  message: T;
}

/** An open stream; iterate it with `for await`, and close it (or break out of the loop) to hang up. */
export interface EventSubscription<T> extends AsyncIterable<StreamEvent<T>> {
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
   * Opens a Server-Sent Events stream over fetch, with the session's bearer token (so it needs no
   * ticket), and reconnects after a dropped connection with Last-Event-ID, as EventSource would.
   * @throws ApiError from the iteration when the server refuses the stream
   */
  stream<T>(operation: StreamOperation<T>, input: Addressing, options: StreamOptions = {}): EventSubscription<T> {
    return new EventStreamReader(this, operation, input, options);
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
      const error = await this.errorOf(response);
      if (error.code !== "token_expired" || !session || attempt > 1) throw error;
      await this.renew(session);
    }
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

  private urlOf(operation: Operation, input: Addressing): string {
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
      message?.detail || `The server answered ${response.status} ${response.statusText}`.trim() + ".",
      message?.fieldViolations ?? [],
      message?.requestId || (response.headers.get("x-request-id") ?? ""),
    );
  }
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
          if (data.length > 0) yield { id, data: data.join("\n") };
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** A stream read over fetch; see ClientCore.stream. */
class EventStreamReader<T> implements EventSubscription<T> {
  private readonly controller = new AbortController();
  private last: string | undefined;
  private retryMs = 2000;

  constructor(
    private readonly core: ClientCore,
    private readonly operation: StreamOperation<T>,
    private readonly input: Addressing,
    private readonly options: StreamOptions,
  ) {
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

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamEvent<T>> {
    const encoding = this.core.encodingOf(this.options);
    const { signal } = this.controller;
    try {
      while (!signal.aborted) {
        let response: Response;
        try {
          response = await this.connect(encoding);
        } catch (error) {
          // The server refused the stream (401, 403...): reconnecting would be refused again.
          if (signal.aborted) return;
          if (error instanceof ApiError || this.options.reconnect === false) throw error;
          await this.pause();
          continue;
        }
        // Only a connection that drops is worth reconnecting; data this client cannot read is thrown.
        let decoding = false;
        try {
          if (!response.body) throw new Error("The event stream has no body.");
          for await (const event of sseEvents(response.body, (ms) => (this.retryMs = ms))) {
            decoding = true;
            const message =
              encoding === "protobuf"
                ? this.operation.events.decode(base64Bytes(event.data))
                : this.operation.events.fromJSON(JSON.parse(event.data));
            decoding = false;
            if (event.id !== undefined) this.last = event.id;
            yield { id: event.id ?? "", message };
          }
        } catch (error) {
          if (signal.aborted) return;
          if (decoding || this.options.reconnect === false) throw error;
        }
        if (this.options.reconnect === false) return;
        await this.pause();
      }
    } finally {
      this.controller.abort();
    }
  }

  /**
   * Opens one connection, resuming after the last event. (A ticket-based stream for EventSource would
   * fetch its ticket here, before each connection.)
   */
  private connect(encoding: Encoding): Promise<Response> {
    const { encodingQuery } = this.operation;
    return this.core.send(
      this.operation,
      {
        ...this.input,
        query: { ...this.input.query, ...(encodingQuery && encoding === "protobuf" && { [encodingQuery]: encoding }) },
        headers: { ...this.input.headers, ...(this.last !== undefined && { "Last-Event-ID": this.last }) },
      },
      { ...this.options, signal: this.controller.signal },
      { accept: "text/event-stream" },
    );
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.retryMs);
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
