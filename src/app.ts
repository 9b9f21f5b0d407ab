import { constants as zlib } from "node:zlib";
import Koa from "koa";
import compress from "koa-compress";
import type { Sequelize } from "sequelize";
import type { Config } from "./config/index.js";
import { serverVersion } from "./config/version.js";
import { accessLog } from "./http/access-log.js";
import { limitRequestsPerAddress } from "./http/address-limit.js";
import type { AppState } from "./http/context.js";
import { cors } from "./http/cors.js";
import { buildDocsRouter, CONTRACT_DOCUMENTS } from "./http/docs.js";
import { errorBoundary } from "./http/error-boundary.js";
import { buildHealthRouter } from "./http/health.js";
import { messageMediaTypes } from "./http/media.js";
import { buildOpenApiDocument } from "./http/openapi.js";
import { apiDispatcher, apiSegmentOf, buildApiRouter } from "./http/router.js";
import { requestId } from "./http/request-id.js";
import type { Route } from "./http/route.js";
import type { Logger } from "./logging/logger.js";
import { createServices, type Services } from "./services.js";
import { buildPublicFilesRouter } from "./http/public-files.js";
import { publicFolders, routes as allRoutes } from "./modules/index.js";

export interface AppDeps {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  isReady: () => Promise<boolean>;
  /** Process services, when the caller owns them (to stop them at shutdown); made here otherwise. */
  services?: Services;
  /** The route table; tests may pass their own. */
  routes?: readonly Route[];
}

/** Compressible beyond what mime-db knows: protobuf is not text, but repeated messages shrink well. */
const compressible = new Set([...messageMediaTypes, "text/html", "text/css", "text/javascript", "text/plain"]);

/**
 * Builds the Koa application without listening, so tests mount the same app on port 0.
 * @param deps - configuration, logger and database
 */
export function buildApp(deps: AppDeps): Koa<AppState> {
  const routes = deps.routes ?? allRoutes;
  const app = new Koa<AppState>({ proxy: deps.config.http.trustProxy });
  // Koa prints errors itself unless told otherwise; ours are logged once, by the error boundary.
  app.silent = true;

  const services = deps.services ?? createServices(deps);
  const api = buildApiRouter(routes, services);
  const docs = buildDocsRouter(buildOpenApiDocument(routes, serverVersion));
  const health = buildHealthRouter(deps.isReady);

  app.use(requestId());
  app.use(async (ctx, next) => {
    ctx.set("X-Content-Type-Options", "nosniff");
    // Every answer may depend on both (the encoding negotiated, the compression); set once as one header.
    ctx.set("Vary", "Accept, Accept-Encoding");
    await next();
  });
  app.use(accessLog(deps.logger));
  app.use(compressLargeBodies());
  // Above the error boundary, so errors carry its headers too; preflights end here, before any route.
  app.use(cors(deps.config.cors));
  app.use(errorBoundary(deps.logger));
  // Without a proxy the server counts connections per address as it accepts them (src/server.ts).
  const { connectionsPerAddress } = deps.config.limits;
  if (deps.config.http.trustProxy && connectionsPerAddress > 0) {
    app.use(limitRequestsPerAddress(connectionsPerAddress, deps.logger));
  }
  // An API request goes straight to the API router: the routers in front would only try their routes on it.
  const frontRouters = [health, docs, ...publicFolders.map((folder) => buildPublicFilesRouter(services.files, folder))];
  app.use(unlessApiRoute(inSequence(frontRouters.map((router) => router.routes()))));
  app.use(apiDispatcher(api));
  return app;
}

/** Middleware run one after the other, as `app.use` would run them. */
function inSequence<Context>(
  middleware: readonly ((ctx: Context, next: Koa.Next) => Promise<unknown>)[],
): (ctx: Context, next: Koa.Next) => Promise<unknown> {
  return (ctx, next) => {
    const step = (index: number): Promise<unknown> => {
      const current = middleware[index];
      return current ? current(ctx, () => step(index + 1)) : next();
    };
    return step(0);
  };
}

/** Compression of what is worth it, by the body's size: a small answer skips koa-compress's checks. */
function compressLargeBodies(): Koa.Middleware<AppState> {
  const threshold = 1024;
  const compressor = compress({
    threshold,
    filter: (type) =>
      compressible.has(type.split(";")[0]?.trim().toLowerCase() ?? "") || type.startsWith("application/json"),
    // Level 4 brotli and level 6 gzip keep the CPU cost per response low; 11 would cost far more for little.
    br: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
    gzip: { level: 6 },
    deflate: false,
  });
  const nothingBelow = () => Promise.resolve();
  return async (ctx, next) => {
    await next();
    // A stream's length is unknown (undefined); koa-compress decides about it.
    const length = ctx.body ? ctx.response.length : 0;
    if (length === undefined || length >= threshold) await compressor(ctx, nothingBelow);
  };
}

const contractDocuments = new Set<string>(Object.values(CONTRACT_DOCUMENTS));

/**
 * A router in front of the API router, skipped for paths under the API prefix but the contract's
 * documents (the API's own first-segment test, case-insensitive as routers match).
 */
function unlessApiRoute<Context extends { path: string }>(
  middleware: (ctx: Context, next: Koa.Next) => Promise<unknown>,
): (ctx: Context, next: Koa.Next) => Promise<unknown> {
  return (ctx, next) => {
    const segment = apiSegmentOf(ctx.path);
    const apiRoute = segment !== undefined && !contractDocuments.has(segment);
    return apiRoute ? next() : middleware(ctx, next);
  };
}
