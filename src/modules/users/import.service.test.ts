import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { verifyPassword } from "../../auth/passwords.js";
import type { Actor } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { withIdleTransactionLimit } from "../../testing/database.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { importUsers, type ImportResult } from "./import.service.js";
import { MAX_IMPORT_ROWS } from "./schema.js";
import { User } from "./user.model.js";

const HEADER = "firstName,lastName,email,role,password,learningClass,groupName";

/** Runs `work` on a CSV file of `lines` (CRLF-joined, as RFC 4180 writes them), removed after. */
async function withCsv<T>(lines: string[], work: (file: string) => Promise<T>): Promise<T> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-import-"));
  const file = path.join(folder, "users.csv");
  await fs.writeFile(file, [...lines, ""].join("\r\n"));
  try {
    return await work(file);
  } finally {
    await fs.rm(folder, { recursive: true, force: true });
  }
}

/** Imports `lines` as `actor`, in a transaction rolled back after. */
async function importLines(actor: Actor, lines: string[], dryRun: boolean): Promise<ImportResult> {
  let result: ImportResult | undefined;
  await withCsv(lines, (file) =>
    rolledBack(async (db) => {
      result = await importUsers(db, actor, file, dryRun);
    }),
  );
  assert.ok(result);
  return result;
}

/** Asserts the import of `lines` fails with 422 and returns its field violations. */
async function refusedLines(actor: Actor, lines: string[]): Promise<{ field: string; description: string }[]> {
  const error = await importLines(actor, lines, true).catch((caught: unknown) => caught);
  assert.ok(error instanceof AppError, String(error));
  assert.equal(error.code, "failed_precondition");
  return error.fieldViolations;
}

const actorOf = (user: { id: string; role: Actor["role"] }): Actor => ({ id: user.id, role: user.role, sessionId: "" });

describe("importUsers (src/modules/users/import.service.ts), called by a teacher", () => {
  it("names each bad line: a malformed field by its column, a teacher's row by its role", async () => {
    const group = await buildGroup();
    const teacher = await buildUser({ role: "teacher", groupId: group.id });
    const tag = randomUUID().slice(0, 8);
    const violations = await refusedLines(actorOf(teacher), [
      HEADER,
      `Stu,Dent,not-an-email,student,good-password,8A,${group.name}`,
      `Tea,Cher,teacher-${tag}@example.test,teacher,good-password,,${group.name}`,
    ]);
    assert.deepEqual(
      violations.map((violation) => violation.field),
      ["lines.2.email", "lines.3.role"],
    );
  });
});

describe("importUsers (src/modules/users/import.service.ts): the file's shape", () => {
  it("names only the missing column, or only the unknown one, of a header that does not match", async () => {
    const admin = actorOf(await buildUser({ role: "admin" }));
    const withoutClass = await refusedLines(admin, ["firstName,lastName,email,role,password,groupName"]);
    assert.deepEqual(
      withoutClass.map((violation) => [violation.field, violation.description]),
      [["lines.1", `Expected the columns ${HEADER}; missing: learningClass; unknown: none.`]],
    );
    const withNickName = await refusedLines(admin, [`${HEADER},nickName`]);
    assert.deepEqual(
      withNickName.map((violation) => [violation.field, violation.description]),
      [["lines.1", `Expected the columns ${HEADER}; missing: none; unknown: nickName.`]],
    );
  });

  it(`refuses more than ${MAX_IMPORT_ROWS} rows, naming the first line past the limit`, async () => {
    const group = await buildGroup();
    const admin = actorOf(await buildUser({ role: "admin" }));
    const tag = randomUUID().slice(0, 8);
    const rows = Array.from(
      { length: MAX_IMPORT_ROWS + 1 },
      (_, index) => `A,B,many-${index}-${tag}@example.test,student,good-password,8A,${group.name}`,
    );
    const violations = await refusedLines(admin, [HEADER, ...rows]);
    assert.deepEqual(violations, [{ field: `lines.${MAX_IMPORT_ROWS + 2}`, description: "Too many rows." }]);
  });
});

describe("importUsers (src/modules/users/import.service.ts): the nicknames it makes", () => {
  it("numbers a stem taken by an account or an earlier line, pads a short one and never gives a reserved one", async () => {
    const group = await buildGroup();
    const admin = actorOf(await buildUser({ role: "admin" }));
    const tag = randomUUID().slice(0, 8);
    await buildUser({ nickName: tag });
    const row = (email: string) => `A,B,${email},student,good-password,8A,${group.name}`;
    const result = await importLines(
      admin,
      [
        HEADER,
        row(`${tag}@a.example.test`),
        row(`${tag}@b.example.test`),
        row(`z@${tag}.test`),
        row(`import@${tag}.test`),
      ],
      true,
    );
    assert.equal(result.dryRun, true);
    const [taken, again, short, reserved] = result.users.map((user) => user.nickName);
    assert.equal(taken, `${tag}2`, "the account holds the stem itself");
    assert.equal(again, `${tag}3`, "the line before took the next number");
    assert.match(short ?? "", /^zuser\d*$/, "a stem under three characters is padded to a valid nickname");
    assert.match(reserved ?? "", /^import\d+$/, "a reserved stem always gets a number");
  });
});

describe("importUsers (src/modules/users/import.service.ts): a large file", () => {
  it("hashes the passwords before its transaction opens, so PostgreSQL never ends it as idle", async () => {
    // Thirty hashes take seconds; PostgreSQL here ends a transaction idle for one. With the hashing
    // inside the transaction, the session was ended and the import failed.
    const group = await buildGroup();
    const admin = actorOf(await buildUser({ role: "admin" }));
    const tag = randomUUID().slice(0, 8);
    const emails = Array.from({ length: 30 }, (_, index) => `large-${index}-${tag}@example.test`);
    const result = await withCsv(
      [HEADER, ...emails.map((email) => `A,B,${email},student,good-password-${email},8A,${group.name}`)],
      (file) => withIdleTransactionLimit(1000, (db) => importUsers(db, admin, file, false)),
    );
    assert.equal(result.users.length, 30);
    const stored = await User.findAll({ where: { email: emails }, attributes: ["email", "passwordHash", "groupId"] });
    assert.equal(stored.length, 30);
    assert.ok(stored.every((user) => user.groupId === group.id));
    assert.equal(new Set(stored.map((user) => user.passwordHash)).size, 30, "every password has its own salt");
    // Each row has its own line's password (two checked: a hash takes 200 ms).
    for (const user of [stored[0], stored[29]]) {
      assert.ok(user);
      assert.equal(await verifyPassword(`good-password-${user.email}`, user.passwordHash), true, user.email);
    }
  });
});
