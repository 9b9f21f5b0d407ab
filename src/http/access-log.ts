import type { Logger } from "../logging/logger.js";
import type { AppMiddleware } from "./context.js";

/**
 * One log line per request with its id, status and duration. Headers and bodies are left out, so
 * credentials cannot reach the log from here.
 * @param logger - the process logger
 */
export const accessLog =
  (logger: Logger): AppMiddleware =>
  async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      logger.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          userId: ctx.state.actor?.id,
        },
        "request",
      );
    }
  };
