import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Db, TransactionDb } from "../../db/db.js";
import { countStatements } from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { existingTaskIds, findTask, insertTask, replaceTests, tasksByIds, tasksPage } from "./queries.js";

const ZONE = "Europe/Moscow";
const outsideTransaction = (): Db => ({ sequelize: testDatabase().database.sequelize });

/** A task no contest or challenge names, so only staff see it; two tests, the first a demo. */
async function hiddenTask(db: TransactionDb): Promise<string> {
  const author = await buildUser({ role: "teacher" });
  const id = await insertTask(
    db,
    {
      title: "Hidden",
      statement: "Nobody has been given it.",
      timeLimitMs: 1000,
      memoryLimitMb: 64,
      languages: ["python"],
      checker: "lines",
    },
    author.id,
  );
  const tests = [
    { input: "1\n", output: "1\n", demo: true },
    { input: "2\n", output: "2\n", demo: false },
  ];
  await replaceTests(db, id, tests, { digest: "test-digest", bumpVersion: false });
  return id;
}

describe("task queries (src/modules/tasks/queries.ts)", () => {
  it("finds a task for a caller without an id, but as not visible and without a single test", async () => {
    await rolledBack(async (db) => {
      const id = await hiddenTask(db);
      const anonymous = await findTask(db, id, { id: null, staff: false }, ZONE, { tests: "all" });
      assert.ok(anonymous);
      assert.equal(anonymous.visible, false);
      assert.deepEqual(anonymous.tests, []);
      const staff = await findTask(db, id, { id: null, staff: true }, undefined, { tests: "all" });
      assert.equal(staff?.visible, true);
      assert.deepEqual(
        staff.tests.map((test) => test.input),
        ["1\n", "2\n"],
      );
    });
  });

  it("refuses to decide what a student sees without the school's time zone", async () => {
    await assert.rejects(
      findTask(outsideTransaction(), randomUUID(), { id: randomUUID(), staff: false }, undefined, { tests: "demo" }),
      /depends on the school's time zone/,
    );
  });

  it("finds which ids name a task outside a transaction too, and asks nothing for no ids", async () => {
    await rolledBack(async (db) => {
      const { result, statements } = await countStatements(() => existingTaskIds(db, []));
      assert.deepEqual(result, new Set());
      assert.equal(statements, 0);
    });
    const author = await buildUser({ role: "teacher" });
    const db = outsideTransaction();
    const id = await insertTask(
      db,
      {
        title: "Known",
        statement: "Exists.",
        timeLimitMs: 1000,
        memoryLimitMb: 64,
        languages: ["cpp"],
        checker: "tokens",
      },
      author.id,
    );
    try {
      assert.deepEqual(await existingTaskIds(db, [id.toUpperCase(), randomUUID()]), new Set([id.toLowerCase()]));
    } finally {
      await testDatabase().database.sequelize.query("DELETE FROM tasks WHERE id = :id", { replacements: { id } });
    }
  });

  it("pages every task newest first when no title is asked for", async () => {
    await rolledBack(async (db) => {
      const older = await hiddenTask(db);
      const newer = await hiddenTask(db);
      const first = await tasksPage(db, {}, undefined, 2);
      assert.deepEqual(
        first.map((task) => task.id),
        [newer, older],
      );
      assert.deepEqual(
        first.map((task) => task.tests),
        [[], []],
        "a list carries no tests",
      );
      const afterNewer = await tasksPage(db, {}, first[0]?.seq, 1);
      assert.deepEqual(
        afterNewer.map((task) => task.id),
        [older],
        "the next page starts after the cursor's task",
      );
    });
  });

  it("reads the tasks of no ids without asking the database", async () => {
    const { result, statements } = await countStatements(() => tasksByIds(outsideTransaction(), []));
    assert.deepEqual(result, []);
    assert.equal(statements, 0);
  });
});
