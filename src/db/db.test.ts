import assert from "node:assert/strict";
import { testDatabase } from "../testing/database.js";
import { buildUser } from "../testing/factories.js";
import { execute } from "./db.js";

describe("execute (src/db/db.ts)", () => {
  const db = () => ({ sequelize: testDatabase().database.sequelize });

  it("counts the rows a statement changed, and 0 for one whose completion reports no count", async () => {
    const user = await buildUser();
    const updated = await execute(db(), "UPDATE users SET first_name = first_name WHERE id = :id", { id: user.id });
    assert.deepEqual(updated, { rows: [], count: 1 });
    // PostgreSQL answers NOTIFY (like SET or DDL) with a bare command tag: pg's rowCount is null there.
    assert.deepEqual(await execute(db(), "NOTIFY shtp_execute_test"), { rows: [], count: 0 });
  });
});
