/**
 * The contract gate run by `npm test`: buf lint, buf format, buf breaking (WIRE_JSON) against the
 * committed baseline image, and generated/ up to date with proto/. Exits non-zero on the first failure.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { appRoot as root } from "../config/paths.js";

const buf = path.join(root, "node_modules", ".bin", "buf");

function run(title: string, args: string[]): void {
  const result = spawnSync(buf, args, {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    },
  });
  if (result.status !== 0) {
    process.stderr.write(`proto:check failed: ${title}\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`proto:check ok: ${title}\n`);
}

run("buf lint", ["lint", "proto"]);
run("buf format", ["format", "proto", "--diff", "--exit-code"]);
run("buf breaking (WIRE_JSON) against proto/contract.binpb", [
  "breaking",
  "proto",
  "--against",
  "proto/contract.binpb",
]);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "shtp-gen-"));
try {
  run("buf generate", ["generate", "proto", "--template", "proto/buf.gen.yaml", "-o", scratch]);
  const differences = compareTrees(path.join(scratch, "generated"), path.join(root, "generated"));
  if (differences.length > 0) {
    process.stderr.write(
      `proto:check failed: generated/ is stale; run \`npm run gen\`. Differences:\n  ${differences.join("\n  ")}\n`,
    );
    process.exit(1);
  }
  process.stdout.write("proto:check ok: generated/ matches proto/\n");
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

function compareTrees(expected: string, actual: string): string[] {
  const list = (dir: string): string[] =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir, { recursive: true, encoding: "utf8" })
          .filter((file) => fs.statSync(path.join(dir, file)).isFile())
          .sort()
      : [];
  const expectedFiles = list(expected);
  const actualFiles = list(actual);
  const differences = [
    ...expectedFiles.filter((file) => !actualFiles.includes(file)).map((file) => `missing: generated/${file}`),
    ...actualFiles
      .filter((file) => !expectedFiles.includes(file))
      .map((file) => `not generated from proto/: generated/${file}`),
  ];
  for (const file of expectedFiles.filter((name) => actualFiles.includes(name))) {
    if (!fs.readFileSync(path.join(expected, file)).equals(fs.readFileSync(path.join(actual, file))))
      differences.push(`changed: generated/${file}`);
  }
  return differences;
}
