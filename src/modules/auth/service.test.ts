import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import { AppError } from "../../errors/index.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, sessionFor } from "../../testing/factories.js";
import { testConfig } from "../../testing/server.js";
import { inTransaction } from "../../db/db.js";
import { notify } from "../notifications/service.js";
import { User } from "../users/user.model.js";
import { me, refresh } from "./service.js";

/** The auth service (src/modules/auth/service.ts) on the suite's database, for states HTTP cannot reach in time. */
describe("auth service (src/modules/auth/service.ts)", () => {
  const config = testConfig();
  const sequelize = () => testDatabase().database.sequelize;
  const db = () => ({ sequelize: sequelize() });

  /** Asserts `promise` rejects with 401 unauthenticated saying `message`. */
  async function assertRefused(promise: Promise<unknown>, message: string): Promise<void> {
    const error = await promise.catch((caught: unknown) => caught);
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "unauthenticated");
    assert.equal(error.message, message);
  }

  it("refuses a refresh token past its own expiry while its session lives, and leaves the session open", async () => {
    const tokens = await sessionFor(await buildUser(), config);
    await sequelize().query(
      "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE session_id = :id",
      {
        replacements: { id: tokens.sessionId },
      },
    );
    await assertRefused(
      refresh(db(), config.auth, tokens.refreshToken),
      "The refresh token has expired; sign in again.",
    );
    const [session] = await sequelize().query<{ revokedAt: Date | null }>(
      `SELECT revoked_at AS "revokedAt" FROM sessions WHERE id = :id`,
      { replacements: { id: tokens.sessionId }, type: QueryTypes.SELECT },
    );
    assert.equal(session?.revokedAt, null, "an expired token is no sign of theft");
  });

  it("refuses a refresh token of a session past its expiry", async () => {
    const tokens = await sessionFor(await buildUser(), config);
    await sequelize().query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :id", {
      replacements: { id: tokens.sessionId },
    });
    await assertRefused(refresh(db(), config.auth, tokens.refreshToken), "This session has ended; sign in again.");
  });

  it("answers not_found for /auth/me of an account that went after authentication", async () => {
    const error = await me(db(), randomUUID()).catch((caught: unknown) => caught);
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "not_found");
  });

  it("reads /auth/me in one statement: every stored field but the password hash, the unread count, the medals in award order", async () => {
    const user = await buildUser();
    await User.update(
      { aboutText: "about", socialLinks: ["https://example.org/a"], techStack: ["ts", "sql"], avatarFile: "a.png" },
      { where: { id: user.id } },
    );
    await sequelize().query(
      `INSERT INTO user_medals (user_id, medal, awarded_at)
       VALUES (:id, 'five_events', '2026-03-02T10:00:00.250Z'), (:id, 'first_achievement', '2026-03-01T09:00:00.123456Z'),
              (:id, 'rating_100', '2026-03-02T10:00:00.250Z')`,
      { replacements: { id: user.id } },
    );
    const message = { type: "message", payload: { text: "unread", severity: "info" } } as const;
    await inTransaction(db(), async (tx) => {
      for (let sent = 0; sent < 2; sent++) await notify(tx, { kind: "users", userIds: [user.id] }, message);
    });

    const found = await me(db(), user.id);

    const stored = await User.findByPk(user.id, { raw: true });
    assert.ok(stored);
    const { passwordHash, ...presented } = stored;
    assert.ok(passwordHash.length > 0);
    assert.deepEqual(found.user, presented, "the model's attributes but the hash, with the same values");
    assert.equal(found.unreadNotifications, 2);
    assert.deepEqual(found.medals, [
      { medal: "first_achievement", awardedAt: new Date("2026-03-01T09:00:00.123Z") },
      { medal: "five_events", awardedAt: new Date("2026-03-02T10:00:00.250Z") },
      { medal: "rating_100", awardedAt: new Date("2026-03-02T10:00:00.250Z") },
    ]);

    const newcomer = await me(db(), (await buildUser()).id);
    assert.equal(newcomer.unreadNotifications, 0, "no counter row yet");
    assert.deepEqual(newcomer.medals, []);
  });
});
