import fs from "node:fs";
import path from "node:path";
import Router from "@koa/router";
import { createRequire } from "node:module";
import type { AppState } from "./context.js";
import { listProtoFiles, protoDir } from "../contract/descriptors.js";
import { API_PREFIX } from "./router.js";

/** The Swagger UI assets we serve; a fixed list, so no request path ever reaches the file system. */
/** The contract's documents, served under the API prefix beside the API's routes: their first path segments. */
export const CONTRACT_DOCUMENTS = { openApi: "openapi.json", proto: "proto" } as const;

const swaggerAssets: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const swaggerPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ShTP API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="icon" href="/api/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
`;

// Kept out of the page so the Content-Security-Policy needs no 'unsafe-inline' for scripts.
const swaggerInit = `window.ui = SwaggerUIBundle({
  url: "${API_PREFIX}/${CONTRACT_DOCUMENTS.openApi}",
  dom_id: "#swagger-ui",
  persistAuthorization: true,
  deepLinking: true,
});
`;

const docsPolicy =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'";

/**
 * The documentation routes: OpenAPI JSON, Swagger UI from the npm package (no CDN) and the .proto files.
 * @param openApiDocument - the document built from the route declarations
 */
export function buildDocsRouter(openApiDocument: object): Router<AppState> {
  const router = new Router<AppState>();
  const openApiJson = JSON.stringify(openApiDocument);
  // Only the folder is needed: importing the package would evaluate its 1.5 MB browser bundle in the
  // server (about 10 MB of heap and startup time for files we only ever send).
  const assetsDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const protoFiles = new Map(listProtoFiles().map((file) => [file, fs.readFileSync(path.join(protoDir, file))]));

  router.get(`${API_PREFIX}/${CONTRACT_DOCUMENTS.openApi}`, (ctx) => {
    ctx.type = "application/json; charset=utf-8";
    ctx.body = openApiJson;
  });
  const protoPath = `${API_PREFIX}/${CONTRACT_DOCUMENTS.proto}`;
  router.get(protoPath, (ctx) => {
    ctx.type = "application/json; charset=utf-8";
    ctx.body = JSON.stringify({ files: [...protoFiles.keys()].map((file) => `${protoPath}/${file}`) });
  });
  router.get(`${protoPath}/*file`, (ctx) => {
    const name = ctx.path.slice(`${protoPath}/`.length);
    const file = protoFiles.get(name);
    if (!file) return;
    ctx.type = "text/plain; charset=utf-8";
    ctx.set("Content-Disposition", `inline; filename="${path.basename(name)}"`);
    ctx.body = file;
  });
  router.get("/api/docs", (ctx) => {
    ctx.set("Content-Security-Policy", docsPolicy);
    ctx.type = "text/html; charset=utf-8";
    ctx.body = swaggerPage;
  });
  router.get("/api/docs/init.js", (ctx) => {
    ctx.type = "text/javascript; charset=utf-8";
    ctx.body = swaggerInit;
  });
  router.get("/api/docs/:asset", (ctx) => {
    const type = swaggerAssets[ctx.params.asset ?? ""];
    if (!type) return;
    ctx.type = type;
    ctx.set("Cache-Control", "public, max-age=86400");
    ctx.body = fs.createReadStream(path.join(assetsDir, ctx.params.asset ?? ""));
  });
  return router;
}
