import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the application's files are, found once from this module's own location. The same code runs
 * from its sources (through tsx, this file at `src/config/paths.ts`) and compiled (bundled into a file
 * directly under `dist/`), so no path may assume how deep the running file sits: the root is the
 * nearest folder above it that holds `package.json`.
 */
const here = path.dirname(fileURLToPath(import.meta.url));

function findAppRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package.json above ${start}`);
  }
}

/** The folder holding package.json and proto/: the repository, or /app in the container image. */
export const appRoot = findAppRoot(here);

/** True when this is the compiled build (`npm run build`), false when the sources run through tsx. */
export const compiled = path.extname(fileURLToPath(import.meta.url)) === ".js";

/** The .proto files of the wire contract, read at boot for the OpenAPI document and `/api/v1/proto`. */
export const protoDir = path.join(appRoot, "proto");

/**
 * The migrations umzug runs: the TypeScript sources, or their compiled copies beside the bundle
 * (`dist/migrations/*.js`), with the same names either way so the recorded history matches.
 */
export const migrationsDir = compiled ? path.join(here, "migrations") : path.join(appRoot, "migrations");

/** `.ts` for the sources, `.js` for the compiled copies. */
export const migrationExtension = compiled ? ".js" : ".ts";
