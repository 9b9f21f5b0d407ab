/**
 * `npm run build`: compiles what production runs to dist/, so no TypeScript loader runs in production.
 *
 * - `dist/server.js` (the API), `dist/judge.js` (a judge worker), `dist/cli.js` (admin CLI) and
 *   `dist/db.js` (migrations by hand): ESM bundles of our code (generated/ included) with shared code
 *   in `dist/chunk-*.js`; packages stay imports, resolved from node_modules at run time (production
 *   dependencies only).
 * - `dist/migrations/*.js`: each migration on its own, under the name umzug records, loaded by path.
 * - Source maps beside each file, for `node --enable-source-maps`: positions only, no sources' text.
 *
 * Types are not checked here (`npm run typecheck` does that), so a build takes a second or two.
 * Everything sits directly under dist/ and finds proto/ and package.json by looking upwards
 * (src/config/paths.ts), so dist/ must stay a folder of the application and hold no package.json.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, type BuildOptions } from "esbuild";
import { appRoot } from "../config/paths.js";

/** The entry points: output name → source. A new process (a worker) is one more line here. */
export const entryPoints = {
  server: "src/server.ts",
  judge: "src/judge/main.ts",
  cli: "src/tools/cli.ts",
  db: "src/db/cli.ts",
} as const;

const common: BuildOptions = {
  absWorkingDir: appRoot,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  // Positions are all a stack trace needs; the sources' text sat in every process's heap (1.2 MB of the
  // server's, after a full GC) only to print the code frame of a crash.
  sourcesContent: false,
  // Sequelize takes a model's name from its class; bundling must not rename classes to avoid clashes.
  keepNames: true,
  logLevel: "warning",
};

/**
 * Builds into `outdir` (emptied first).
 * @param outdir - the output folder; dist/ of the application by default
 */
export async function buildDist(outdir = path.join(appRoot, "dist")): Promise<void> {
  await fs.rm(outdir, { recursive: true, force: true });
  const migrations = (await fs.readdir(path.join(appRoot, "migrations")))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .map((file) => path.join("migrations", file));
  await Promise.all([
    build({ ...common, entryPoints, outdir, splitting: true }),
    build({ ...common, entryPoints: migrations, outdir: path.join(outdir, "migrations") }),
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await buildDist();
  process.stdout.write(`built ${Object.keys(entryPoints).join(", ")} and the migrations into dist/\n`);
}
