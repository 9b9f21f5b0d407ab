/**
 * Runs the suite a second time against the PostgreSQL at TEST_DATABASE_URL, when one answers there,
 * so the code is proven on a separately run server as well as on the embedded one. Without a
 * reachable server it says so and succeeds: the embedded run already covered everything.
 */
import { spawnSync } from "node:child_process";
import pg from "pg";

const url = process.env.TEST_DATABASE_URL;

async function answers(target: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: target, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (!url) {
  process.stdout.write("external database run skipped: TEST_DATABASE_URL is not set\n");
} else {
  const version = await answers(url);
  if (!version) {
    process.stdout.write(`external database run skipped: no PostgreSQL answers at ${new URL(url).host}\n`);
  } else {
    process.stdout.write(`external database run: PostgreSQL ${version} at ${new URL(url).host}\n`);
    const result = spawnSync("npx", ["mocha"], {
      stdio: "inherit",
      env: { ...process.env, TEST_USE_EXTERNAL_DATABASE: "1" },
    });
    process.exit(result.status ?? 1);
  }
}
