import type { Transaction } from "sequelize";
import type { z } from "zod";
import type { Access, Actor } from "../auth/roles.js";
import type { ErrorCode } from "../errors/index.js";
import type { Services } from "../services.js";
import type { AppContext } from "./context.js";
import type { MessageCodec } from "./messages.js";
import type { UploadedFile, UploadSpec } from "./uploads.js";

/** What an events route's handler returns: messages with their event ids, until closed. */
export interface EventStream<Message> extends AsyncIterable<{ id: string; message: Message }> {
  close(): void;
}

/** What a download route's handler returns: the bytes, sent as an attachment, never rendered. */
export interface Download {
  body: NodeJS.ReadableStream;
  mediaType: string;
  /** The name the client saves it under; ours, never a name a client sent. */
  fileName: string;
  /** Known for stored files; absent for generated streams (sent chunked). */
  size?: number;
}

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** What a handler receives: typed, validated input and the caller; never bytes or headers. */
export interface RouteRequest<Body, Query, Params, Caller> {
  body: Body;
  query: Query;
  params: Params;
  actor: Caller;
  /** The route's transaction: every query of a mutation passes it, so the request commits or rolls back whole. */
  transaction: Transaction | undefined;
  /** The received file of an upload route (checked by content, still in its temporary folder). */
  file: UploadedFile | undefined;
  /** Configuration, database and process services. */
  services: Services;
  requestId: string;
  /** For the few handlers that own a stream (downloads, uploads); message routes leave it alone. */
  ctx: AppContext;
}

/** A signed-in caller on protected routes, maybe nobody on public ones. */
export type CallerOf<A extends Access> = A extends "public" ? Actor | undefined : Actor;

/**
 * The one declaration of a route. The router entry, negotiation, validation, the role gate, the
 * OpenAPI operation and the permission table are all derived from it.
 */
export interface RouteDefinition<
  Body = unknown,
  Out = unknown,
  Query = unknown,
  Params = unknown,
  A extends Access = Access,
> {
  /** Unique, lowerCamelCase; the OpenAPI operationId. */
  name: string;
  method: HttpMethod;
  /** Koa-style path below /api/v1, such as `/users/:id`. */
  path: string;
  summary: string;
  description?: string;
  access: A;
  /** Path parameters, checked by zod. */
  params?: z.ZodType<Params>;
  /** Query-string filters and paging, camelCase, checked by zod. */
  query?: z.ZodType<Query>;
  /** The request message and the zod schema of its ProtoJSON form. */
  body?: { message: MessageCodec<Body>; schema: z.ZodType };
  /** A multipart upload route: its file part, size cap and accepted kinds. */
  upload?: UploadSpec;
  /** The response message; absent for 204 No Content. */
  response?: MessageCodec<Out>;
  /** A Server-Sent Events route: the handler returns an EventStream of these messages. */
  events?: MessageCodec<unknown>;
  /** A download route: the handler returns a Download of one of these media types. */
  download?: { mediaTypes: readonly string[] };
  /** 200 unless the route creates something. */
  successStatus?: 200 | 201;
  /** Error codes this route answers beyond those every route may (documented in OpenAPI). */
  errors?: readonly ErrorCode[];
  /** Runs the handler in a transaction; defaults to true for everything but GET. */
  transactional?: boolean;
  handler(request: RouteRequest<Body, Query, Params, CallerOf<A>>): Promise<Out>;
}

/** Any declared route, whatever its types, as the router and OpenAPI builder see it. */
export interface AnyRoute {
  name: string;
  method: HttpMethod;
  path: string;
  summary: string;
  description?: string;
  access: Access;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: { message: MessageCodec<unknown>; schema: z.ZodType };
  upload?: UploadSpec;
  response?: MessageCodec<unknown>;
  events?: MessageCodec<unknown>;
  download?: { mediaTypes: readonly string[] };
  successStatus?: 200 | 201;
  errors?: readonly ErrorCode[];
  transactional?: boolean;
  handler(request: RouteRequest<unknown, unknown, unknown, Actor | undefined>): Promise<unknown>;
}

/**
 * Declares a route; types flow from the codecs and zod schemas into the handler.
 * @param definition - the route's facts and its handler
 * @returns the same declaration, typed for the route table
 */
export function defineRoute<
  Body = undefined,
  Out = void,
  Query = undefined,
  Params = undefined,
  const A extends Access = Access,
>(definition: RouteDefinition<Body, Out, Query, Params, A>): AnyRoute {
  return definition;
}

/** @returns whether a route's handler runs in a transaction */
export const isTransactional = (route: AnyRoute): boolean => route.transactional ?? route.method !== "get";

/** @returns the OpenAPI form of a Koa path: `/users/:id` becomes `/users/{id}` */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
