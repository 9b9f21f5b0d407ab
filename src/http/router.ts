import Router, { type RouterMiddleware } from "@koa/router";
import type { z } from "zod";
import { authenticate } from "../auth/authenticate.js";
import type { Actor } from "../auth/roles.js";
import type { Logger } from "../logging/logger.js";
import type { Services } from "../services.js";
import { AppError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "../errors/index.js";
import { inTransaction } from "../db/db.js";
import { toAppError } from "../errors/translate.js";
import { violationsOf } from "../errors/zod.js";
import type { Download, UploadedFile } from "../storage/files.js";
import { compileRequestBody, type RequestBody, type RequestParser } from "../validation/rules.js";
import type { AppContext, AppMiddleware, AppState } from "./context.js";
import { JSON_MEDIA, mediaOfType, requestMedia, responseMedia } from "./media.js";
import { PassThrough } from "node:stream";
import type { MessageCodec } from "./messages.js";
import { bodyToProtoJson, contentTypeOf, encodeResponseBody, protoJsonText, readBody } from "./messages.js";
import { readForm } from "./oauth2.js";
import { isTransactional, StreamEnded, type EventStream, type Route, type RouteRequest } from "./route.js";
import { receiveUpload, type MessagePart } from "./uploads.js";

export const API_PREFIX = "/api/v1";

/**
 * Registers every declared route under /api/v1 with the same chain: negotiation and body limits,
 * authentication, role gate, validation, transaction, handler, encoding.
 * @param routes - the route table
 * @param services - configuration, database and the other process services
 */
export function buildApiRouter(routes: readonly Route[], services: Services): Router<AppState> {
  const router = new Router<AppState>({ prefix: API_PREFIX });
  const seen = new Set<string>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key) || seen.has(route.name)) throw new Error(`Route declared twice: ${key} (${route.name})`);
    seen.add(key).add(route.name);
    if (route.queryCredential && route.access === "public") {
      throw new Error(`${route.name}: a query credential is for protected routes; public ones need none`);
    }
    const middleware = route.oauth2 ? oauth2Middleware(route, services) : routeMiddleware(route, services);
    router.register(route.path, [route.method], middleware, { name: route.name });
  }
  return router;
}

type ApiLayer = Router<AppState>["stack"][number];

/**
 * The API router as one middleware, with the route found by an index rather than by the router's walk.
 * `@koa/router` tests every layer's pattern on every request and builds a middleware chain for the match,
 * which cost more than the rest of a cheap request; here the layers are grouped by their first path
 * segment after the prefix (in registration order, so the first match is the router's first match) and
 * a match runs its route directly. Whatever the index does not match (an unknown path, a method a path
 * lacks, OPTIONS) goes through the router itself, so 404, 405 with Allow and OPTIONS answer as before.
 * @param router - the API router (buildApiRouter)
 */
export function apiDispatcher(router: Router<AppState>): RouterMiddleware<AppState> {
  const byFirstSegment = new Map<string, ApiLayer[]>();
  // A layer whose first segment is a parameter could match any path: it joins every group, in order.
  const anySegment: ApiLayer[] = [];
  for (const layer of router.stack) {
    if (layer.stack.length !== 1) throw new Error(`${String(layer.path)}: an API route has one middleware`);
    const segment = typeof layer.path === "string" ? apiSegmentOf(layer.path) : undefined;
    if (segment !== undefined && /^[a-z0-9._~-]+$/.test(segment)) {
      const group = byFirstSegment.get(segment) ?? [...anySegment];
      group.push(layer);
      byFirstSegment.set(segment, group);
    } else {
      anySegment.push(layer);
      for (const group of byFirstSegment.values()) group.push(layer);
    }
  }
  const routes = router.routes();
  const allowedMethods = router.allowedMethods();
  const dispatch: RouterMiddleware<AppState> = async (ctx, next) => {
    const { path, method } = ctx;
    const segment = apiSegmentOf(path);
    const candidates = segment === undefined ? undefined : (byFirstSegment.get(segment) ?? anySegment);
    const layer = candidates?.find((candidate) => candidate.methods.includes(method) && candidate.match(path));
    const [middleware] = layer?.stack ?? [];
    if (!layer || !middleware) {
      await routes(ctx, async () => {
        await allowedMethods(ctx, next);
      });
      return;
    }
    ctx.request.params = ctx.params = layer.params(path, layer.captures(path), ctx.params);
    await middleware(ctx, next);
  };
  return dispatch;
}

const segmentsFrom = API_PREFIX.length + 1;

/** The first path segment after `/api/v1/`, lowercased as the router matches; undefined outside the prefix. */
export function apiSegmentOf(path: string): string | undefined {
  if (path.length <= segmentsFrom || path.slice(0, segmentsFrom).toLowerCase() !== `${API_PREFIX}/`) return undefined;
  const end = path.indexOf("/", segmentsFrom);
  return path.slice(segmentsFrom, end === -1 ? undefined : end).toLowerCase();
}

function routeMiddleware(route: Route, services: Services): AppMiddleware {
  const { maxBodyBytes } = services.config.http;
  // Compiled now, so a rule naming a field its message lacks stops the boot rather than a request.
  const message = route.body && { spec: route.body, parse: compileRequestBody(route.body) };
  const messageLimit = route.maxBodyBytes ?? maxBodyBytes;
  return async (ctx) => {
    // Upload routes take multipart (an optional upload also a plain message); the response encoding
    // of a multipart request comes from Accept alone. Event streams and downloads answer their own
    // media types; their errors fall back to JSON.
    const multipart = route.upload && (!route.upload.optional || Boolean(ctx.is("multipart/form-data")));
    // Multipart framing adds a little to the file itself.
    const limit = multipart && route.upload ? route.upload.maxBytes + 64 * 1024 : messageLimit;
    const bodyMedia = multipart ? undefined : requestMedia(ctx);
    const answersMessages = !route.events && !route.download;
    const media = answersMessages ? responseMedia(ctx, bodyMedia) : JSON_MEDIA;
    if (answersMessages) ctx.state.responseMedia = media;
    assertDeclaredLengthWithin(ctx, limit);

    const actor = await resolveCaller(ctx, route, services);
    const params = parseWith(route.params, ctx.params);
    const query = parseWith(route.query, queryOf(ctx, route));
    const headers = parseWith(route.headers, ctx.headers);
    // Counted before a byte of the body is read: a refused upload leaves nothing behind.
    const uploadLease = multipart ? await services.leases.acquire("upload", actor?.id, "refuse") : undefined;

    let upload: Awaited<ReturnType<typeof receiveUpload>> | undefined;
    let result: unknown;
    try {
      upload =
        multipart && route.upload
          ? await receiveUpload(ctx, route.upload, services.config.storage.uploadsTmpDir)
          : undefined;
      const body = message
        ? upload
          ? decodeMessagePart(message.parse, message.spec, upload.message, route.upload?.messagePart)
          : await readMessage(ctx, message.parse, message.spec, bodyMedia, limit)
        : undefined;
      result = await runHandler(ctx, route, services, {
        body,
        query,
        params,
        headers,
        actor,
        ...(upload && { file: upload.file }),
      });
    } finally {
      // Whatever the handler did not move into storage goes, on success and on failure alike.
      await upload?.cleanup();
      await uploadLease?.release();
    }

    if (route.events) {
      streamEvents(
        ctx,
        result as EventStream<unknown>,
        route.events,
        query,
        services.config.notifications.heartbeatSeconds,
        services.logger,
      );
      return;
    }
    ctx.set("Cache-Control", "no-store");
    if (route.download) {
      sendDownload(ctx, result as Download);
      return;
    }
    if (!route.response) {
      ctx.status = 204;
      return;
    }
    ctx.status = route.successStatus ?? 200;
    ctx.type = contentTypeOf(media);
    ctx.body = encodeResponseBody(result, route.response, media);
  };
}

/**
 * Refuses a body whose declared length is over the limit before reading any of it.
 * @throws AppError payload_too_large
 */
function assertDeclaredLengthWithin(ctx: AppContext, limit: number): void {
  if (Number(ctx.get("content-length") || 0) > limit) {
    throw new AppError("payload_too_large", `The request body is larger than ${limit} bytes.`);
  }
}

/** The route's own input to its handler; `runHandler` adds the address, the database and the services. */
type HandlerInput = Pick<
  RouteRequest<unknown, unknown, unknown, unknown, Actor | undefined>,
  "body" | "query" | "params" | "headers" | "actor"
> & { file?: UploadedFile };

/** Runs a route's handler, in a transaction of its own when the route is transactional. */
function runHandler(ctx: AppContext, route: Route, services: Services, input: HandlerInput): Promise<unknown> {
  const request = {
    ...input,
    address: ctx.ip,
    db: { sequelize: services.sequelize },
    services,
    requestId: ctx.state.requestId,
  };
  return isTransactional(route)
    ? inTransaction(request.db, (db) => route.handler({ ...request, db }))
    : route.handler(request);
}

/**
 * An OAuth 2.0 token endpoint (`oauth2` in the declaration): the same authentication step, a
 * form-encoded body checked by the declared schema, the answer as plain JSON whatever `Accept` says,
 * never cached (RFC 6749 §5.1), and errors rendered by the boundary as RFC 6749 §5.2 JSON.
 */
function oauth2Middleware(route: Route, services: Services): AppMiddleware {
  const { maxBodyBytes } = services.config.http;
  const endpoint = route.oauth2;
  if (!endpoint) throw new Error(`${route.name} is not an OAuth 2.0 endpoint`);
  return async (ctx) => {
    ctx.state.errorStyle = "oauth2";
    assertDeclaredLengthWithin(ctx, maxBodyBytes);
    const actor = await resolveCaller(ctx, route, services);
    const body = parseWith(endpoint.request, await readForm(ctx, maxBodyBytes));
    const result = await runHandler(ctx, route, services, {
      body,
      query: undefined,
      params: undefined,
      headers: undefined,
      actor,
    });
    ctx.status = 200;
    ctx.set("Cache-Control", "no-store");
    ctx.set("Pragma", "no-cache");
    ctx.type = contentTypeOf(JSON_MEDIA);
    ctx.body = JSON.stringify(result);
  };
}

/** The query string a route's `query` schema checks: everything but its query credential. */
function queryOf(ctx: AppContext, route: Route): Record<string, unknown> {
  const parameter = route.queryCredential?.parameter;
  if (parameter === undefined) return ctx.query;
  return Object.fromEntries(Object.entries(ctx.query).filter(([name]) => name !== parameter));
}

/**
 * Authentication and the role gate, both before any database work of the route itself. On public
 * routes a credential that does not hold is ignored rather than refused: a stale token must not
 * stop anyone from reading a public page or signing in again. A route with a query credential takes
 * it instead of the `Authorization` header, never with it.
 */
async function resolveCaller(ctx: AppContext, route: Route, services: Services): Promise<Actor | undefined> {
  const authorization = ctx.get("authorization");
  const credential = route.queryCredential;
  const presented = credential ? ctx.query[credential.parameter] : undefined;
  if (credential && presented !== undefined) {
    if (authorization !== "") {
      throw InvalidArgumentError(`Send either the Authorization header or \`${credential.parameter}\`, not both.`);
    }
    if (typeof presented !== "string") {
      throw InvalidArgumentError(`Give \`${credential.parameter}\` once.`, [
        { field: credential.parameter, description: "Given more than once." },
      ]);
    }
    return admit(ctx, route, await credential.authenticate({ sequelize: services.sequelize }, presented));
  }
  const check = () => authenticate(authorization, services.config.auth, services.sequelize, services.sessionCache);
  if (route.access === "public") {
    // A credential that does not hold is ignored; a database that cannot check it is not (the route
    // would only wait on it again).
    const actor = await check().catch((error: unknown) => {
      if (toAppError(error).code === "unavailable") throw error;
      return undefined;
    });
    if (actor) ctx.state.actor = actor;
    return actor;
  }
  const actor = await check();
  if (!actor) throw UnauthenticatedError();
  return admit(ctx, route, actor);
}

/** The role gate for a caller whose credential held. */
function admit(ctx: AppContext, route: Route, actor: Actor): Actor {
  ctx.state.actor = actor;
  if (route.access !== "public" && route.access !== "signedIn" && !route.access.includes(actor.role)) {
    throw PermissionDeniedError(`This endpoint is for ${route.access.join(", ")} accounts.`);
  }
  return actor;
}

function parseWith(schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw InvalidArgumentError("Some parameters are invalid.", violationsOf(parsed.error));
  return parsed.data;
}

/** Reads, converts to ProtoJSON, validates and types the body; an absent body is the empty message. */
async function readMessage(
  ctx: AppContext,
  parse: RequestParser<unknown>,
  body: RequestBody<unknown>,
  media: ReturnType<typeof requestMedia>,
  limit: number,
): Promise<unknown> {
  return parse(media ? bodyToProtoJson(await readBody(ctx, limit), media, body.message) : {});
}

/**
 * The request message of an upload route, from its own multipart part. A part without a Content-Type
 * (a browser's plain form field, which busboy reports as text/plain) is read as JSON.
 * @throws AppError invalid_argument when the part is missing, unsupported_media_type for another type
 */
function decodeMessagePart(
  parse: RequestParser<unknown>,
  body: RequestBody<unknown>,
  part: MessagePart | undefined,
  name = "message",
): unknown {
  if (!part) {
    throw InvalidArgumentError(`The \`${name}\` part is missing.`, [{ field: name, description: "Required." }]);
  }
  const media =
    part.mediaType === "text/plain" ? JSON_MEDIA : mediaOfType(part.mediaType, undefined, `\`${name}\` part`);
  return parse(bodyToProtoJson(part.bytes, media, body.message));
}

/** Reconnect delays told to clients whose stream the server ends, spread so they do not all come back at once. */
const RECONNECT_AFTER_END_MS = { min: 1000, spread: 4000 };

/**
 * Writes an event stream as Server-Sent Events: `id` is the event id (for Last-Event-ID), `data` is
 * the message as ProtoJSON, or base64 protobuf when the query asked for `encoding=protobuf`. A comment
 * line every `heartbeatSeconds` keeps proxies from closing the stream; when the client goes away, or
 * the stream ends (shutdown), everything is released. A stream the server ends closes with a `retry:`
 * hint, so the client reconnects (to another instance, behind a load balancer) after a short random
 * delay, and with its connection: `Connection: close` is sent up front, so the end of a stream never
 * leaves an idle keep-alive socket that a reconnect could race the server's close on. A stream ended
 * with a StreamEnded (a user's oldest, closed for a newer one) tells its reason and its own delay.
 */
function streamEvents(
  ctx: AppContext,
  stream: EventStream<unknown>,
  codec: MessageCodec<unknown>,
  query: unknown,
  heartbeatSeconds: number,
  logger: Logger,
): void {
  const protobuf = (query as { encoding?: string } | undefined)?.encoding === "protobuf";
  const body = new PassThrough();
  ctx.compress = false;
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.type = "text/event-stream";
  ctx.set("Cache-Control", "no-cache, no-transform");
  ctx.set("X-Accel-Buffering", "no");
  ctx.res.shouldKeepAlive = false;
  ctx.body = body;
  body.write("retry: 2000\n: connected\n\n");
  const heartbeat = setInterval(() => body.write(": heartbeat\n\n"), heartbeatSeconds * 1000);
  let ended = false;
  /** @param byServer - the server's reason and delay when it ends the stream; none when the client went away */
  const end = (byServer: { reason: string; retryMs: number } | undefined) => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    stream.close();
    if (byServer) body.write(`retry: ${byServer.retryMs}\n: ${byServer.reason.replace(/[\r\n]+/g, " ")}\n\n`);
    body.end();
  };
  ctx.req.once("close", () => end(undefined));
  void (async () => {
    for await (const item of stream) {
      const [eventCodec, message, idLine] = item.live
        ? [item.live.codec, item.live.message, ""]
        : [codec, item.message, `id: ${item.id}\n`];
      const data = protobuf
        ? Buffer.from(eventCodec.encode(message).finish()).toString("base64")
        : protoJsonText(message, eventCodec);
      body.write(`${idLine}event: ${eventCodec.$type}\ndata: ${data}\n\n`);
    }
  })().then(
    () =>
      end({
        reason: "the server is closing this stream; reconnect",
        retryMs: RECONNECT_AFTER_END_MS.min + Math.floor(Math.random() * RECONNECT_AFTER_END_MS.spread),
      }),
    (error: unknown) => {
      if (error instanceof StreamEnded) return end(error);
      // The response has begun; all that is left to do is to end it and say so in the log.
      logger.error({ err: error, requestId: ctx.state.requestId }, "event stream failed");
      end({ reason: "the stream failed; reconnect", retryMs: RECONNECT_AFTER_END_MS.min });
    },
  );
}

/**
 * Sends a download as an attachment: the stored media type, `nosniff` (set for every response), and
 * a name of ours. Archives and proofs are compressed already, so the compression layer leaves them be.
 */
function sendDownload(ctx: AppContext, download: Download): void {
  ctx.compress = false;
  ctx.status = 200;
  // attachment() guesses a type from the name's extension; the stored type wins.
  ctx.attachment(download.fileName, { type: "attachment" });
  ctx.type = download.mediaType;
  if (download.size !== undefined) ctx.length = download.size;
  ctx.body = download.body;
}
