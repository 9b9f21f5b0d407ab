import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import { AppError } from "../errors/index.js";
import { toAppError } from "../errors/translate.js";
import type { Logger } from "../logging/logger.js";
import type { AppContext, AppMiddleware } from "./context.js";
import { errorMedia, JSON_MEDIA } from "./media.js";
import { contentTypeOf, encodeResponseBody } from "./messages.js";
import { oauth2ErrorOf } from "./oauth2.js";

/**
 * Turns every error below it into a `shtp.v1.Error` in the client's encoding, with the request id.
 * 5xx errors are logged once, here, with their cause; their text never reaches the client.
 * @param logger - the process logger
 */
export const errorBoundary =
  (logger: Logger): AppMiddleware =>
  async (ctx, next) => {
    try {
      await next();
      // Nothing answered: the router found no route for this path, or the route lacks this method.
      if (ctx.body === undefined && ctx.status === 404)
        throw new AppError("not_found", "There is no endpoint at this path.");
      if (ctx.body === undefined && ctx.status === 405) {
        throw new AppError("method_not_allowed", "This endpoint does not take that method.", {
          headers: { Allow: ctx.response.get("allow") },
        });
      }
    } catch (thrown) {
      const error = toAppError(thrown);
      if (error.status >= 500)
        logger.error({ err: error.cause ?? thrown, requestId: ctx.state.requestId }, "request failed");
      renderError(ctx, error);
    }
  };

const alwaysKept = new Set(["x-request-id", "vary", "x-content-type-options"]);
const keptOnError = (name: string) => alwaysKept.has(name) || name.startsWith("access-control-");

/**
 * Writes `error` as the response, keeping only headers every response must carry: a `shtp.v1.Error`
 * in the negotiated encoding, or RFC 6749 §5.2 JSON on an OAuth 2.0 endpoint.
 * @param ctx - the Koa context
 * @param error - a safe error
 */
export function renderError(ctx: AppContext, error: AppError): void {
  const media = ctx.state.responseMedia ?? errorMedia(ctx);
  const requestId = ctx.state.requestId;
  // Headers set for a success that did not happen (Content-Disposition, caching) must not leak into the
  // error; CORS headers stay, or a page on an allowed origin could not read why its call failed.
  for (const name of Object.keys(ctx.response.headers)) if (!keptOnError(name)) ctx.remove(name);
  if (ctx.state.errorStyle === "oauth2") {
    const answer = oauth2ErrorOf(error);
    for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
    ctx.status = answer.status;
    ctx.set("Cache-Control", "no-store");
    ctx.set("Pragma", "no-cache");
    ctx.type = contentTypeOf(JSON_MEDIA);
    ctx.body = JSON.stringify(answer.body);
    return;
  }
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.status = error.status;
  ctx.set("Cache-Control", "no-store");
  ctx.type = contentTypeOf(media);
  ctx.body = encodeResponseBody(
    { code: error.code, detail: error.message, fieldViolations: error.fieldViolations, requestId },
    ErrorMessage,
    media,
  );
}
