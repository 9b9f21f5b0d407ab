import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { verifyPassword } from "../../auth/passwords.js";
import { countStatements } from "../../testing/api.js";
import { AppError } from "../../errors/index.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { createAccounts, updateAccount } from "./accounts.service.js";

describe("createAccounts (src/modules/users/accounts.service.ts)", () => {
  it("hashes nothing and asks the database nothing for no accounts", async () => {
    await rolledBack(async (db) => {
      const { result, statements } = await countStatements(() => createAccounts(db, []));
      assert.deepEqual(result, []);
      assert.equal(statements, 0);
    });
  });

  it("returns the stored rows in the order given, each with its own password hashed", async () => {
    const groupId = (await buildGroup()).id;
    await rolledBack(async (db) => {
      const tags = [randomUUID().slice(0, 8), randomUUID().slice(0, 8)];
      const accounts = tags.map((tag, index) => ({
        email: `accounts-${tag}@example.test`,
        password: `password-${tag}`,
        role: index === 0 ? ("teacher" as const) : ("student" as const),
        firstName: "Accounts",
        lastName: tag,
        nickName: `accounts_${tag}`,
        groupId,
        learningClass: index === 0 ? "" : "9B",
      }));
      const { result, statements } = await countStatements(() => createAccounts(db, accounts));
      assert.equal(statements, 1, "one INSERT for every account");
      assert.deepEqual(
        result.map((user) => [user.email, user.role]),
        accounts.map((account) => [account.email, account.role]),
      );
      for (const [index, user] of result.entries()) {
        assert.equal(await verifyPassword(accounts[index]!.password, user.passwordHash), true);
        assert.equal(await verifyPassword(accounts[1 - index]!.password, user.passwordHash), false);
      }
    });
  });
});

describe("updateAccount (src/modules/users/accounts.service.ts): moving a user to a group", () => {
  it("moves a student to a group that exists, and refuses one that does not, naming groupId", async () => {
    const admin = await buildUser({ role: "admin" });
    const student = await buildUser();
    const target = await buildGroup();
    const actor = { id: admin.id, role: "admin" as const, sessionId: "" };
    await rolledBack(async (db) => {
      const moved = await updateAccount(db, actor, student.id, { groupId: target.id });
      assert.equal(moved.groupId, target.id);
      const error = await updateAccount(db, actor, student.id, { groupId: randomUUID() }).catch(
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof AppError);
      assert.equal(error.code, "failed_precondition");
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        ["groupId"],
      );
    });
  });
});
