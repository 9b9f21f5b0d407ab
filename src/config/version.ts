import fs from "node:fs";
import path from "node:path";
import { appRoot } from "./paths.js";

/** The release version from package.json, read once. */
export const serverVersion: string = (
  JSON.parse(fs.readFileSync(path.join(appRoot, "package.json"), "utf8")) as { version: string }
).version;
