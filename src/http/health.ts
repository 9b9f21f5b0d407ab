import Router from "@koa/router";
import type { AppState } from "./context.js";

/**
 * `/healthz` answers while the process runs; `/readyz` only while the database answers and is migrated,
 * so a load balancer stops sending traffic to an instance that cannot serve it.
 * @param isReady - the database's readiness check
 */
export function buildHealthRouter(isReady: () => Promise<boolean>): Router<AppState> {
  const router = new Router<AppState>();
  router.get("/healthz", (ctx) => {
    ctx.set("Cache-Control", "no-store");
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async (ctx) => {
    const ready = await isReady();
    ctx.set("Cache-Control", "no-store");
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? "ready" : "unavailable" };
  });
  return router;
}
