import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import { AppError } from "../../errors/index.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, sessionFor } from "../../testing/factories.js";
import { testConfig } from "../../testing/server.js";
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
});
