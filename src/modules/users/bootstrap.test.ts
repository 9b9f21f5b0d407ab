import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { verifyPassword } from "../../auth/passwords.js";
import { createScratchDatabase } from "../../testing/database.js";
import { DEMO_GROUP_NAME, STAFF_GROUP_NAME, demoAccounts, type BootstrapOutcome } from "./bootstrap.js";

/**
 * bootstrapUsers and `npm run cli -- create-admin` against scratch databases. Both bind the global
 * models to the database they open, so they run in child processes: the suite's own models stay bound
 * to the suite's database.
 */

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const moduleUrl = (relative: string) => pathToFileURL(path.join(repoRoot, relative)).href;

/** A 40-character secret, as production requires one of 32 or more. */
const PRODUCTION_SECRET = "a-private-production-secret-0123456789ab";

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The mocha process's environment without any database or test switches of its own, plus `variables`. */
function childEnv(variables: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_|TEST_|INITIAL_ADMIN_|JWT_|NODE_ENV$|STORAGE_DIR$)/.test(name)) delete env[name];
  }
  return { ...env, LOG_LEVEL: "silent", ...variables };
}

/** Runs `node --import tsx ...args` from the repository root, feeding `stdin`, and waits for its exit. */
function runNode(args: string[], env: NodeJS.ProcessEnv, stdin = ""): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: repoRoot, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/**
 * The bootstrap, run in a child process: connects to `url` (binding the models there and migrating),
 * runs bootstrapUsers with the configuration of `environment`, prints the outcome as JSON.
 */
const bootstrapScript = `
import { loadConfig } from ${JSON.stringify(moduleUrl("src/config/index.ts"))};
import { connect } from ${JSON.stringify(moduleUrl("src/db/database.ts"))};
import { createLogger } from ${JSON.stringify(moduleUrl("src/logging/logger.ts"))};
import { bootstrapUsers } from ${JSON.stringify(moduleUrl("src/modules/users/bootstrap.ts"))};
import { initModels } from ${JSON.stringify(moduleUrl("src/modules/index.ts"))};
const input = JSON.parse(process.env.BOOTSTRAP_INPUT);
const database = await connect(input.url, { ...loadConfig({}).database, poolMax: 2 }, initModels);
try {
  const config = loadConfig(input.environment);
  const outcome = await bootstrapUsers({ sequelize: database.sequelize }, config, createLogger("silent"), { embedded: input.embedded });
  process.stdout.write(JSON.stringify({ outcome }) + "\\n");
} finally {
  await database.close();
}
`;

/**
 * Runs bootstrapUsers on `url` in a child process.
 * @param environment - the variables its configuration is loaded from
 * @param embedded - whether the process is to count as running its own PostgreSQL
 */
async function bootstrap(
  url: string,
  environment: Record<string, string>,
  embedded: boolean,
): Promise<BootstrapOutcome> {
  const exit = await runNode(
    ["--input-type=module", "-e", bootstrapScript],
    childEnv({ BOOTSTRAP_INPUT: JSON.stringify({ url, environment, embedded }) }),
  );
  assert.equal(exit.code, 0, `bootstrap failed:\n${exit.stdout}\n${exit.stderr}`);
  const line = exit.stdout.trim().split("\n").at(-1) ?? "";
  return (JSON.parse(line) as { outcome: BootstrapOutcome }).outcome;
}

interface UserRow {
  email: string;
  nick_name: string;
  first_name: string;
  last_name: string;
  role: string;
  password_hash: string;
  learning_class: string;
  group_name: string;
}

/** Every user of the database at `url` with their group's name, by email. */
async function usersOf(url: string): Promise<UserRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<UserRow>(
      `SELECT u.email, u.nick_name, u.first_name, u.last_name, u.role, u.password_hash, u.learning_class,
              g.name AS group_name
         FROM users u JOIN groups g ON g.id = u.group_id
        ORDER BY u.email`,
    );
    return result.rows;
  } finally {
    await client.end();
  }
}

describe("bootstrapUsers and the create-admin command on scratch databases", () => {
  const drops: (() => Promise<void>)[] = [];
  let storageDir: string;

  before(async () => {
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-bootstrap-test-"));
  });
  after(async () => {
    for (const drop of drops.splice(0)) await drop();
    await fs.rm(storageDir, { recursive: true, force: true });
  });

  const scratch = async () => {
    const database = await createScratchDatabase();
    drops.push(database.drop);
    return database.url;
  };

  describe("bootstrapUsers", () => {
    it("creates the initial admin on an empty database, and does nothing on a second run", async () => {
      const url = await scratch();
      const environment = {
        NODE_ENV: "production",
        JWT_SECRET: PRODUCTION_SECRET,
        INITIAL_ADMIN_EMAIL: "Head@School.example",
        INITIAL_ADMIN_PASSWORD: "initial-admin-password",
      };
      assert.equal(await bootstrap(url, environment, false), "initial-admin");
      const [admin, ...others] = await usersOf(url);
      assert.deepEqual(others, []);
      assert.ok(admin);
      assert.equal(admin.email, "head@school.example");
      assert.equal(admin.role, "admin");
      assert.equal(admin.group_name, STAFF_GROUP_NAME);
      assert.ok(await verifyPassword("initial-admin-password", admin.password_hash));
      assert.equal(await verifyPassword("wrong-password", admin.password_hash), false);

      assert.equal(await bootstrap(url, environment, false), "not-empty");
      assert.deepEqual(
        (await usersOf(url)).map((user) => user.email),
        ["head@school.example"],
      );
    });

    it("fills an empty embedded development database with the demo accounts, once", async () => {
      const url = await scratch();
      assert.equal(await bootstrap(url, { NODE_ENV: "development" }, true), "demo-data");
      const users = await usersOf(url);
      assert.deepEqual(
        users.map((user) => [user.email, user.role, user.nick_name, user.learning_class, user.group_name]),
        [...demoAccounts]
          .sort((a, b) => a.email.localeCompare(b.email))
          .map((account) => [account.email, account.role, account.nickName, account.learningClass, DEMO_GROUP_NAME]),
      );
      const student = users.find((user) => user.email === "student1@demo.shtp.local");
      assert.ok(student && (await verifyPassword("demo-student-pass", student.password_hash)));

      assert.equal(await bootstrap(url, { NODE_ENV: "development" }, true), "not-empty");
      assert.equal((await usersOf(url)).length, demoAccounts.length);
    });

    it("never creates demo data in production, even on an embedded database", async () => {
      const url = await scratch();
      assert.equal(
        await bootstrap(url, { NODE_ENV: "production", JWT_SECRET: PRODUCTION_SECRET }, true),
        "nothing-configured",
      );
      assert.deepEqual(await usersOf(url), []);
    });

    it("creates no demo data on an external database", async () => {
      const url = await scratch();
      assert.equal(await bootstrap(url, { NODE_ENV: "development" }, false), "nothing-configured");
      assert.deepEqual(await usersOf(url), []);
    });
  });

  describe("npm run cli -- create-admin", () => {
    const cli = (url: string, args: string[], stdin: string) =>
      runNode(
        ["src/tools/cli.ts", "create-admin", ...args],
        childEnv({ NODE_ENV: "test", DATABASE_URL: url, STORAGE_DIR: storageDir }),
        stdin,
      );

    it("creates an admin with the password read from standard input (exit 0)", async () => {
      const url = await scratch();
      const exit = await cli(
        url,
        ["--email", "Root.Admin@School.example", "--first-name", "A", "--last-name", "B"],
        "a-long-enough-password\nignored second line\n",
      );
      assert.equal(exit.code, 0, exit.stderr);
      assert.match(exit.stdout, /created admin root\.admin@school\.example/);
      assert.doesNotMatch(exit.stdout + exit.stderr, /a-long-enough-password/);
      const [admin, ...others] = await usersOf(url);
      assert.deepEqual(others, []);
      assert.ok(admin);
      assert.equal(admin.email, "root.admin@school.example");
      assert.equal(admin.role, "admin");
      assert.equal(admin.first_name, "A");
      assert.equal(admin.last_name, "B");
      assert.equal(admin.group_name, STAFF_GROUP_NAME);
      assert.ok(await verifyPassword("a-long-enough-password", admin.password_hash));
    });

    it("exits 2 for a short password and creates nobody", async () => {
      const url = await scratch();
      const exit = await cli(
        url,
        ["--email", "short@school.example", "--first-name", "A", "--last-name", "B"],
        "short\n",
      );
      assert.equal(exit.code, 2, exit.stderr);
      assert.match(exit.stderr, /password/);
      assert.match(exit.stderr, /usage:/);
      // The command stopped before opening the database: the scratch database is still empty.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const tables = await client.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'users'");
        assert.equal(tables.rowCount, 0);
      } finally {
        await client.end();
      }
    });

    it("exits 2 for an unknown command", async () => {
      const exit = await runNode(["src/tools/cli.ts", "make-coffee"], childEnv({ NODE_ENV: "test" }));
      assert.equal(exit.code, 2);
      assert.match(exit.stderr, /usage:/);
    });
  });
});
