import type { Logger } from "../logging/logger.js";
import type { AppMiddleware } from "./context.js";

/**
 * One log line per request with its id, status and duration. Headers, bodies and query strings are left
 * out, so credentials cannot reach the log from here; its lines therefore skip the logger's redaction,
 * which walked every line for credential paths at about 15 µs a line against 2.5 µs without.
 * @param processLogger - the process logger
 */
export const accessLog = (processLogger: Logger): AppMiddleware => {
  const logger = processLogger.child({}, { redact: { paths: [] } });
  return async (ctx, next) => {
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
};
