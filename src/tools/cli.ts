/**
 * `npm run cli -- create-admin --email E --first-name F --last-name L [--nick-name N] [--group G]`
 * creates an admin account; the password is read from standard input (first line), so it never
 * appears in the shell history or the process list.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "../config/index.js";
import { openDatabase } from "../db/database.js";
import { inTransaction } from "../db/db.js";
import { createLogger } from "../logging/logger.js";
import { initModels } from "../modules/index.js";
import { createAccountsInGroup, STAFF_GROUP_NAME } from "../modules/users/bootstrap.js";
import { NewAccountSchema } from "../modules/users/schema.js";

const usage =
  "usage: npm run cli -- create-admin --email E --first-name F --last-name L [--nick-name N] [--group NAME] < password-file";

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
}

async function createAdmin(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: "string" },
      "first-name": { type: "string" },
      "last-name": { type: "string" },
      "nick-name": { type: "string" },
      group: { type: "string", default: STAFF_GROUP_NAME },
    },
  });
  // Checked before the database is opened: a bad argument exits 2 naming the rule it broke.
  const input = NewAccountSchema.omit({ role: true, learningClass: true })
    .extend({ group: z.string().min(1) })
    .safeParse({
      email: values.email,
      firstName: values["first-name"],
      lastName: values["last-name"],
      nickName: values["nick-name"] ?? values.email?.split("@")[0]?.replace(/[^A-Za-z0-9_.-]/g, "_"),
      password: await readPassword(),
      group: values.group,
    });
  if (!input.success) {
    process.stderr.write(
      `${input.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("\n")}\n${usage}\n`,
    );
    process.exit(2);
  }
  const config = loadConfig();
  const database = await openDatabase(config, createLogger("warn"), initModels);
  try {
    const { group, ...account } = input.data;
    const [user] = await inTransaction({ sequelize: database.sequelize }, (db) =>
      createAccountsInGroup(db, group, [{ ...account, role: "admin", learningClass: "" }]),
    );
    if (user) process.stdout.write(`created admin ${user.email} (${user.id})\n`);
  } finally {
    await database.close();
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command !== "create-admin") {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
createAdmin(rest).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
