import type { z } from "zod";
import type { Access, Actor } from "../auth/roles.js";
import type { Db, TransactionDb } from "../db/db.js";
import type { ErrorCode } from "../errors/index.js";
import type { Services } from "../services.js";
import type { UploadedFile } from "../storage/files.js";
import type { RequestBody } from "../validation/rules.js";
import type { MessageCodec } from "./messages.js";
import type { UploadSpec } from "./uploads.js";

/**
 * A live event that is not stored (judging progress, say): sent as its own event type, without an id,
 * so it is never replayed and never moves a client's Last-Event-ID.
 */
export interface LiveEvent {
  codec: MessageCodec<unknown>;
  message: unknown;
}

/**
 * Where a module's live events come from: a PostgreSQL NOTIFY channel, heard by every server process,
 * the message its events carry (their SSE event type, which the typed client is generated for), and
 * how to read a payload into the user it is for and the message (undefined for a payload of another
 * shape).
 */
export interface LiveEventSource {
  channel: string;
  codec: MessageCodec<unknown>;
  parse(payload: string): { userId: string; message: unknown } | undefined;
}

/**
 * What an events route's handler returns, until closed: messages of the route's `events` type with their
 * ids (resumable with Last-Event-ID), and live events of other types without. An iteration the server
 * ends for a reason of its own throws a StreamEnded, whose reason and delay the client is told.
 */
export interface EventStream<Message> extends AsyncIterable<
  { id: string; message: Message; live?: undefined } | { live: LiveEvent }
> {
  close(): void;
}

/** Ends an event stream with a reason and a reconnect delay for the client (sent as a comment and `retry:`). */
export class StreamEnded extends Error {
  override name = "StreamEnded";

  /**
   * @param reason - one line for the client, why its stream ends
   * @param retryMs - how long the client should wait before it reconnects
   */
  constructor(
    readonly reason: string,
    readonly retryMs: number,
  ) {
    super(reason);
  }
}

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** What every handler receives: typed, validated input and the caller; never bytes, headers or `ctx`. */
export interface RouteRequest<Body, Query, Params, Headers, Caller> {
  body: Body;
  query: Query;
  params: Params;
  /** The request headers the route declares, checked by its `headers` schema. */
  headers: Headers;
  actor: Caller;
  /** The client's address (from `X-Forwarded-For` only behind a trusted proxy), for throttles. */
  address: string;
  /** The database, the one way data access receives it; in the route's transaction when it has one. */
  db: Db;
  /** Configuration, database and process services. */
  services: Services;
  requestId: string;
}

/**
 * A credential a protected route also takes from the query string, for clients that cannot set
 * headers (a browser's EventSource). The parameter never reaches the route's `query`; a request that
 * sends it together with an `Authorization` header is refused, as RFC 6750 §2 asks (one way per request).
 */
export interface QueryCredential {
  /** The OpenAPI security scheme's name. */
  scheme: string;
  /** The query parameter that carries it. */
  parameter: string;
  /**
   * The path of the POST route that issues one (its answer carries it in a field named as the
   * parameter), so the typed client fetches a fresh one for each connection.
   */
  issuedBy: string;
  /** What it is and where a client gets one (the OpenAPI scheme's description). */
  description: string;
  /**
   * Resolves the caller, on the database outside any transaction.
   * @throws AppError unauthenticated when the credential does not hold
   */
  authenticate(db: Db, value: string): Promise<Actor>;
}

/**
 * An OAuth 2.0 token endpoint (RFC 6749 §3.2) instead of a message endpoint: its body is
 * `application/x-www-form-urlencoded`, checked by `request` into the handler's `body`; it answers
 * `response` as plain JSON whatever `Accept` says, never cached, and its errors are RFC 6749 §5.2
 * `{error, error_description}` (`src/http/oauth2.ts`).
 */
export interface OAuth2TokenEndpoint<Body, Out> {
  /** The form's parameters (unknown ones are dropped, as RFC 6749 §3.2 asks), into the handler's body. */
  request: z.ZodType<Body>;
  /** Each `grant_type` it issues tokens for, with that grant's own parameters (the typed client's forms). */
  grants: Readonly<Record<string, z.ZodType>>;
  /** The JSON answer. */
  response: z.ZodType<Out>;
}

/** A signed-in caller on protected routes, maybe nobody on public ones. */
export type CallerOf<A extends Access> = A extends "public" ? Actor | undefined : Actor;

/**
 * The route's transaction, for the handlers that run in one: `db` then carries it, so every statement
 * of a mutation runs in it and the request commits or rolls back whole. Mutations run in one unless
 * they say `transactional: false`; reads only when they say `transactional: true`.
 */
export type TransactionOf<M extends HttpMethod, T extends boolean | undefined> = [T] extends [true]
  ? { db: TransactionDb }
  : [T] extends [false]
    ? unknown
    : M extends "get"
      ? unknown
      : { db: TransactionDb };

/**
 * The received file, for upload routes (checked by content, still in its temporary folder); maybe
 * none on a route whose upload is optional.
 */
export type FileOf<U extends UploadSpec | undefined> = [U] extends [UploadSpec]
  ? U extends { optional: true }
    ? { file?: UploadedFile }
    : { file: UploadedFile }
  : unknown;

/**
 * The one declaration of a route. The router entry, negotiation, validation, the role gate, the
 * OpenAPI operation and the permission table are all derived from it.
 */
export interface RouteDefinition<
  Body,
  Out,
  Query,
  Params,
  Headers,
  A extends Access,
  M extends HttpMethod,
  T extends boolean | undefined,
  U extends UploadSpec | undefined,
> {
  /** Unique, lowerCamelCase; the OpenAPI operationId. */
  name: string;
  method: M;
  /** Koa-style path below /api/v1, such as `/users/:id`. */
  path: string;
  summary: string;
  description?: string;
  access: A;
  /** Path parameters, checked by zod. */
  params?: z.ZodType<Params>;
  /** Query-string filters and paging, camelCase, checked by zod. */
  query?: z.ZodType<Query>;
  /** The request headers the handler reads (lowercase names), checked by zod; others never reach it. */
  headers?: z.ZodType<Headers>;
  /** The request message and its business rules; its shape comes from the contract. */
  body?: RequestBody<Body>;
  /** A protected route that also accepts this credential in the query string (a stream a browser opens). */
  queryCredential?: QueryCredential;
  /** An OAuth 2.0 token endpoint: form-encoded in, plain JSON out (instead of `body` and `response`). */
  oauth2?: OAuth2TokenEndpoint<Body, Out>;
  /** A multipart upload route: its file part, size cap and accepted kinds. */
  upload?: U;
  /** The largest message body this route takes, when it is not the configured MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /** The response message; absent for 204 No Content. */
  response?: MessageCodec<Out>;
  /** A Server-Sent Events route: the handler returns an EventStream of these messages. */
  events?: MessageCodec<unknown>;
  /** A download route: the handler returns a Download of one of these media types. */
  download?: { mediaTypes: readonly string[] };
  /** 200 unless the route creates something (201) or only accepts work for later (202). */
  successStatus?: 200 | 201 | 202;
  /** Error codes this route answers beyond those every route may (documented in OpenAPI). */
  errors?: readonly ErrorCode[];
  /** Whether the handler runs in a transaction; defaults to true for everything but GET. */
  transactional?: T;
  handler(
    request: RouteRequest<Body, Query, Params, Headers, CallerOf<A>> & TransactionOf<M, T> & FileOf<U>,
  ): Promise<Out>;
}

/**
 * A declared route, whatever its types, as the router, OpenAPI and the tests see it. The handler is a
 * method, so each route's narrower request type still fits.
 */
export interface Route extends Omit<
  RouteDefinition<unknown, unknown, unknown, unknown, unknown, Access, HttpMethod, boolean | undefined, UploadSpec>,
  "handler" | "upload"
> {
  upload?: UploadSpec;
  handler(
    request: RouteRequest<unknown, unknown, unknown, unknown, Actor | undefined> & { file?: UploadedFile },
  ): Promise<unknown>;
}

/**
 * Declares a route; types flow from the codecs, rules and zod schemas into the handler, and whether it
 * gets a transaction or a file follows from its method, `transactional` and `upload`.
 * @param definition - the route's facts and its handler
 * @returns the same declaration, typed for the route table
 */
export function defineRoute<
  Body = undefined,
  Out = void,
  Query = undefined,
  Params = undefined,
  Headers = undefined,
  const A extends Access = Access,
  const M extends HttpMethod = HttpMethod,
  const T extends boolean | undefined = undefined,
  const U extends UploadSpec | undefined = undefined,
>(definition: RouteDefinition<Body, Out, Query, Params, Headers, A, M, T, U>): Route {
  return definition;
}

/** @returns whether a route's handler runs in a transaction */
export const isTransactional = (route: Pick<Route, "method" | "transactional">): boolean =>
  route.transactional ?? route.method !== "get";

/** @returns the OpenAPI form of a Koa path: `/users/:id` becomes `/users/{id}` */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
