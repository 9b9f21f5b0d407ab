import assert from "node:assert/strict";
import { hashPassword, verifyPassword } from "../../auth/passwords.js";
import { LoginThrottle } from "../../auth/login-throttle.js";
import type { Actor } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { testDatabase, withIdleTransactionLimit } from "../../testing/database.js";
import { buildAccount, uniqueClientAddress } from "../../testing/factories.js";
import { testConfig } from "../../testing/server.js";
import { resetPassword } from "./accounts.service.js";
import { changeOwnPassword } from "./profile.service.js";
import { User } from "./user.model.js";

/**
 * Sign-ins arriving all the time, as at the start of a lesson: ten hashes kept queued until
 * stopped, so every other hash waits over a second for its slot (two of 100–200 ms at a time).
 * PostgreSQL ends these tests' transactions idle for half that.
 * @returns stops the sign-ins and waits for those under way
 */
function steadySignIns(): () => Promise<void> {
  let stopped = false;
  const signIns = Array.from({ length: 10 }, async (_, index) => {
    while (!stopped) await hashPassword(`steady-${index}`);
  });
  return async () => {
    stopped = true;
    await Promise.all(signIns);
  };
}
const IDLE_LIMIT_MS = 500;

const storedHashOf = async (id: string) => (await User.findByPk(id, { attributes: ["passwordHash"] }))?.passwordHash;

describe("password changes wait for their hashes outside a transaction (src/modules/users)", () => {
  const loginThrottle = () => new LoginThrottle(testDatabase().database.sequelize, testConfig().loginThrottle);

  it("changes one's own password while sign-ins keep every hash waiting longer than PostgreSQL's idle limit", async () => {
    const account = await buildAccount("student");
    const actor: Actor = { id: account.id, role: "student", sessionId: "" };
    const stopSignIns = steadySignIns();
    await withIdleTransactionLimit(IDLE_LIMIT_MS, (db) =>
      changeOwnPassword(db, { loginThrottle: loginThrottle() }, actor, {
        currentPassword: account.password,
        newPassword: "a-brand-new-password",
        address: uniqueClientAddress(),
      }),
    );
    await stopSignIns();
    assert.equal(await verifyPassword("a-brand-new-password", (await storedHashOf(account.id)) ?? ""), true);
  });

  it("answers conflict, changing nothing, when the password changed while the change was checked", async () => {
    const account = await buildAccount("student");
    const actor: Actor = { id: account.id, role: "student", sessionId: "" };
    const stopSignIns = steadySignIns();
    const { sequelize } = testDatabase().database;
    // The change reads the account first, then waits behind the sign-ins to check its password; a reset
    // by staff lands in between.
    let accountRead!: () => void;
    const read = new Promise<void>((resolve) => (accountRead = resolve));
    User.addHook("afterFind", "password-changes.test", (found) => {
      if (found instanceof User && found.id === account.id) accountRead();
    });
    try {
      const change = changeOwnPassword({ sequelize }, { loginThrottle: loginThrottle() }, actor, {
        currentPassword: account.password,
        newPassword: "a-brand-new-password",
        address: uniqueClientAddress(),
      }).catch((error: unknown) => error);
      await read;
      const resetHash = await hashPassword("set-by-staff");
      await User.update({ passwordHash: resetHash }, { where: { id: account.id } });
      const error = await change;
      assert.ok(error instanceof AppError, String(error));
      assert.equal(error.code, "conflict");
      assert.equal(await storedHashOf(account.id), resetHash);
    } finally {
      User.removeHook("afterFind", "password-changes.test");
      await stopSignIns();
    }
  });

  it("resets a password by staff while sign-ins keep every hash waiting longer than PostgreSQL's idle limit", async () => {
    const account = await buildAccount("student");
    const teacher = await buildAccount("teacher");
    const stopSignIns = steadySignIns();
    await withIdleTransactionLimit(IDLE_LIMIT_MS, (db) =>
      resetPassword(db, { id: teacher.id, role: "teacher", sessionId: "" }, account.id, "reset-by-the-teacher"),
    );
    await stopSignIns();
    assert.equal(await verifyPassword("reset-by-the-teacher", (await storedHashOf(account.id)) ?? ""), true);
  });
});
