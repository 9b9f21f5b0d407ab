import Router from "@koa/router";
import type { Sequelize } from "sequelize";
import type { z } from "zod";
import { authenticate } from "../auth/authenticate.js";
import type { Actor } from "../auth/roles.js";
import type { Config } from "../config/index.js";
import { AppError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "../errors/index.js";
import { violationsOf } from "../validation/violations.js";
import type { AppContext, AppMiddleware, AppState } from "./context.js";
import { requestMedia, responseMedia } from "./media.js";
import { bodyToProtoJson, contentTypeOf, encodeMessage, protoJsonToMessage, readBody } from "./messages.js";
import { isTransactional, type AnyRoute } from "./route.js";

export const API_PREFIX = "/api/v1";

export interface RouterDeps {
  config: Config;
  sequelize: Sequelize;
}

/**
 * Registers every declared route under /api/v1 with the same chain: negotiation and body limits,
 * authentication, role gate, validation, transaction, handler, encoding.
 * @param routes - the route table
 * @param deps - configuration and database
 */
export function buildApiRouter(routes: readonly AnyRoute[], deps: RouterDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: API_PREFIX });
  const seen = new Set<string>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key) || seen.has(route.name)) throw new Error(`Route declared twice: ${key} (${route.name})`);
    seen.add(key).add(route.name);
    router.register(route.path, [route.method], routeMiddleware(route, deps), { name: route.name });
  }
  return router;
}

function routeMiddleware(route: AnyRoute, deps: RouterDeps): AppMiddleware {
  const limit = deps.config.http.maxBodyBytes;
  return async (ctx) => {
    const bodyMedia = requestMedia(ctx);
    const media = responseMedia(ctx, bodyMedia);
    ctx.state.responseMedia = media;
    if (Number(ctx.get("content-length") || 0) > limit) {
      throw new AppError("payload_too_large", `The request body is larger than ${limit} bytes.`);
    }

    const actor = await resolveCaller(ctx, route, deps.config);
    const params = parseWith(route.params, ctx.params);
    const query = parseWith(route.query, ctx.query);
    const body = route.body ? await readMessage(ctx, route.body, bodyMedia, limit) : undefined;

    const run = (transaction: Parameters<AnyRoute["handler"]>[0]["transaction"]) =>
      route.handler({ body, query, params, actor, transaction, requestId: ctx.state.requestId, ctx });
    const result = isTransactional(route)
      ? await deps.sequelize.transaction((transaction) => run(transaction))
      : await run(undefined);

    ctx.set("Cache-Control", "no-store");
    if (!route.response) {
      ctx.status = 204;
      return;
    }
    ctx.status = route.successStatus ?? 200;
    ctx.type = contentTypeOf(media);
    ctx.body = encodeMessage(result, route.response, media);
  };
}

/**
 * Authentication and the role gate, both before any database work of the route itself. On public
 * routes a credential that does not hold is ignored rather than refused: a stale token must not
 * stop anyone from reading a public page or signing in again.
 */
async function resolveCaller(ctx: AppContext, route: AnyRoute, config: Config): Promise<Actor | undefined> {
  const authorization = ctx.get("authorization");
  if (route.access === "public") {
    const actor = await authenticate(authorization, config.auth).catch(() => undefined);
    if (actor) ctx.state.actor = actor;
    return actor;
  }
  const actor = await authenticate(authorization, config.auth);
  if (!actor) throw UnauthenticatedError();
  ctx.state.actor = actor;
  if (route.access !== "signedIn" && !route.access.includes(actor.role)) {
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
  spec: NonNullable<AnyRoute["body"]>,
  media: ReturnType<typeof requestMedia>,
  limit: number,
): Promise<unknown> {
  const json = media ? bodyToProtoJson(await readBody(ctx, limit), media, spec.message) : {};
  const checked = spec.schema.safeParse(json);
  if (!checked.success) throw InvalidArgumentError("Some fields are invalid.", violationsOf(checked.error));
  return protoJsonToMessage(checked.data, spec.message);
}
