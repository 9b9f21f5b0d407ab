import Router from "@koa/router";
import type { FileStore } from "../storage/store.js";
import type { AppState } from "./context.js";

/**
 * Serves the public stored files, at /storage/<folder>/<name>: avatars only. Names are random and
 * never reused, so the files may be cached for good. Nothing else in storage is reachable.
 *
 * On both storage drivers the API streams the file itself, never a redirect to a signed bucket URL:
 * the URL a profile carries then stays valid for as long as the avatar does, so browsers, the app and
 * a CDN in front of the API may cache it as immutable, and the bucket stays private with no public
 * policy. A signed URL expires (a week at most), which breaks every cached page and stored profile
 * that embeds it, and costs clients a redirect per avatar. The price is the bytes passing through the
 * API: small images, fetched rarely once cached.
 * @param files - the file store
 * @param folder - the public folder (the users module's avatars)
 */
export function buildPublicFilesRouter(files: FileStore, folder: string): Router<AppState> {
  const router = new Router<AppState>();
  router.get(`/storage/${folder}/:name`, async (ctx) => {
    const stored = await files.read(folder, ctx.params.name ?? "");
    if (!stored || !stored.mediaType.startsWith("image/")) {
      stored?.body.destroy();
      return;
    }
    ctx.type = stored.mediaType;
    ctx.length = stored.size;
    ctx.set("Cache-Control", "public, max-age=31536000, immutable");
    ctx.set("Content-Security-Policy", "default-src 'none'");
    ctx.body = stored.body;
  });
  return router;
}
