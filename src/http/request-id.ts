import { randomUUID } from "node:crypto";
import type { AppMiddleware } from "./context.js";

/** A caller-supplied id is kept only if it cannot smuggle anything into logs or headers. */
const acceptableId = /^[A-Za-z0-9._:-]{8,128}$/;

/** Gives every request an id (the client's X-Request-Id when usable) and echoes it on every response. */
export const requestId = (): AppMiddleware => async (ctx, next) => {
  const incoming = ctx.get("x-request-id");
  ctx.state.requestId = acceptableId.test(incoming) ? incoming : randomUUID();
  ctx.set("X-Request-Id", ctx.state.requestId);
  await next();
};
