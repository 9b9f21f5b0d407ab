import fs from "node:fs";
import path from "node:path";
import Router from "@koa/router";
import type { AppState } from "../http/context.js";
import { mediaTypeOf, storedNamePattern, type FileKind } from "./files.js";

const kindOfExtension: Record<string, FileKind> = { png: "png", jpg: "jpeg", gif: "gif", webp: "webp" };

/**
 * Serves avatars, the only public stored files, at /storage/avatars/<name>. Names are random and never
 * reused, so the files may be cached for good. Nothing else under the storage root is reachable.
 * @param avatarsDir - the avatars folder
 */
export function buildPublicFilesRouter(avatarsDir: string): Router<AppState> {
  const router = new Router<AppState>();
  router.get("/storage/avatars/:name", async (ctx) => {
    const name = ctx.params.name ?? "";
    const kind = kindOfExtension[name.split(".").pop() ?? ""];
    if (!storedNamePattern.test(name) || !kind) return;
    const file = path.join(avatarsDir, name);
    const stat = await fs.promises.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return;
    ctx.type = mediaTypeOf[kind];
    ctx.length = stat.size;
    ctx.set("Cache-Control", "public, max-age=31536000, immutable");
    ctx.set("Content-Security-Policy", "default-src 'none'");
    ctx.body = fs.createReadStream(file);
  });
  return router;
}
