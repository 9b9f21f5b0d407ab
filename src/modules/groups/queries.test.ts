import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Db } from "../../db/db.js";
import { countStatements } from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { existingGroupIds, groupIdsByName } from "./queries.js";

const outsideTransaction = (): Db => ({ sequelize: testDatabase().database.sequelize });

describe("group look-ups (src/modules/groups/queries.ts)", () => {
  it("asks the database nothing for no ids and no names", async () => {
    await rolledBack(async (db) => {
      const ids = await countStatements(() => existingGroupIds(db, []));
      assert.deepEqual(ids.result, new Set());
      assert.equal(ids.statements, 0);
      const names = await countStatements(() => groupIdsByName(db, []));
      assert.deepEqual(names.result, new Map());
      assert.equal(names.statements, 0);
    });
  });

  it("finds groups by id and by name in any case outside a transaction, where nothing is locked", async () => {
    const group = await buildGroup();
    const db = outsideTransaction();
    assert.deepEqual(await existingGroupIds(db, [group.id.toUpperCase(), randomUUID()]), new Set([group.id]));
    const asked = group.name.toUpperCase();
    assert.deepEqual(await groupIdsByName(db, [asked, asked, `no such ${randomUUID()}`]), new Map([[asked, group.id]]));
  });
});
