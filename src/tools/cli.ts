/**
 * `npm run cli -- create-admin --email E --first-name F --last-name L [--nick-name N] [--group G]`
 * creates an admin account; the password is read from standard input (first line), so it never
 * appears in the shell history or the process list.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "../config/index.js";
import { openDatabase } from "../db/database.js";
import { createLogger } from "../logging/logger.js";
import { Group } from "../modules/groups/group.model.js";
import { initModels } from "../modules/index.js";
import { createAccount, STAFF_GROUP_NAME } from "../modules/users/bootstrap.js";
import { nickNameField, passwordField, personNameField } from "../modules/users/schema.js";
import { emailField } from "../validation/fields.js";

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
  const input = z
    .object({
      email: emailField,
      firstName: personNameField,
      lastName: personNameField,
      nickName: nickNameField,
      password: passwordField,
      group: z.string().min(1),
    })
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
    const { sequelize } = database;
    const user = await sequelize.transaction(async (transaction) => {
      const [group] = await Group.findOrCreate({ where: { name: input.data.group }, transaction });
      return createAccount({ ...input.data, role: "admin", learningClass: "" }, group.id, transaction);
    });
    process.stdout.write(`created admin ${user.email} (${user.id})\n`);
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
