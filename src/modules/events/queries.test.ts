import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ForeignKeyConstraintError } from "sequelize";
import { buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { insertRegistration } from "./queries.js";

describe("event queries (src/modules/events/queries.ts)", () => {
  it("passes on a refusal that is neither a second registration nor a full event: an event that is gone", async () => {
    const student = await buildUser();
    await rolledBack(async (db) => {
      const error = await insertRegistration(db, randomUUID(), student.id).catch((caught: unknown) => caught);
      assert.ok(error instanceof ForeignKeyConstraintError, String(error));
    });
  });
});
