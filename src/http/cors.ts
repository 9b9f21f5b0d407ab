import koaCors from "@koa/cors";
import type { Config } from "../config/index.js";
import type { AppMiddleware } from "./context.js";

/** The methods the API's routes use; HEAD is safelisted and needs no mention. */
export const CORS_ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The request headers clients send beyond the safelisted ones (the event stream resumes with Last-Event-ID). */
export const CORS_ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Accept",
  "X-Request-Id",
  "Last-Event-ID",
] as const;

/** Response headers a page may read: the request id to quote, the 429 back-off and a download's file name. */
export const CORS_EXPOSED_HEADERS = ["X-Request-Id", "Retry-After", "Content-Disposition"] as const;

/** How long a browser may reuse a preflight answer: Chromium's own ceiling, so one per two hours and origin. */
export const CORS_MAX_AGE_SECONDS = 7200;

/**
 * Cross-origin access for the browser origins the configuration lists (`@koa/cors`). An allowed origin
 * gets its own origin back (`*` when any is allowed), the exposed headers on every answer, and a preflight
 * answered here, before authentication or a route runs. Any other origin, or a request without `Origin`,
 * gets no CORS header at all, so the browser refuses to hand the answer to the page. The API reads bearer
 * tokens from `Authorization`, which needs no credentials mode, so `Access-Control-Allow-Credentials` is
 * sent only when configured.
 * @param settings - the allowed origins and whether credentials are allowed
 */
export function cors(settings: Config["cors"]): AppMiddleware {
  const allowed = new Set(settings.origins);
  return koaCors({
    origin: (ctx) => {
      const origin = ctx.get("origin");
      if (!origin) return "";
      if (settings.origins === "*") return "*";
      return allowed.has(origin) ? origin : "";
    },
    allowMethods: [...CORS_ALLOWED_METHODS],
    allowHeaders: [...CORS_ALLOWED_HEADERS],
    exposeHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: CORS_MAX_AGE_SECONDS,
    credentials: settings.allowCredentials,
    // Errors are rendered below this middleware (error-boundary.ts), never thrown past it, and the
    // renderer keeps these headers itself.
    keepHeadersOnError: false,
  });
}
