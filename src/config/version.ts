import fs from "node:fs";

/** The release version from package.json, read once. */
export const serverVersion: string = (
  JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
