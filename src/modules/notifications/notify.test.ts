import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { select, type TransactionDb } from "../../db/db.js";
import { countStatements } from "../../testing/api.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { notify, type NotificationContent } from "./service.js";

const content: NotificationContent = { type: "message", payload: { text: "notify test", severity: "info" } };

/** @returns how many notifications each user has, in the transaction */
async function countsOf(db: TransactionDb, userIds: readonly string[]): Promise<number[]> {
  const rows = await select<{ id: string; count: number }>(
    db,
    `SELECT u.id::text AS id, count(n.id)::int AS count
       FROM unnest(CAST(ARRAY[:userIds] AS uuid[])) WITH ORDINALITY AS u (id, position)
       LEFT JOIN notifications n ON n.user_id = u.id
      GROUP BY u.id, u.position ORDER BY u.position`,
    { userIds: [...userIds] },
  );
  return rows.map((row) => row.count);
}

describe("notify (the one way modules write notifications)", () => {
  it("users: one notification per existing user, given twice or not; unknown ids are skipped", async () => {
    const [first, second] = [await buildUser(), await buildUser()];
    await rolledBack(async (db) => {
      const written = await notify(
        db,
        { kind: "users", userIds: [first.id, second.id, first.id, randomUUID()] },
        content,
      );
      assert.equal(written, 2);
      assert.deepEqual(await countsOf(db, [first.id, second.id]), [1, 1]);
    });
  });

  it("users: an empty list writes nothing and issues no statement", async () => {
    await rolledBack(async (db) => {
      const { result, statements } = await countStatements(() => notify(db, { kind: "users", userIds: [] }, content));
      assert.equal(result, 0);
      assert.equal(statements, 0);
    });
  });

  it("students: those of a listed group or class, each once, never staff or other students", async () => {
    const [group, otherGroup] = [await buildGroup(), await buildGroup()];
    const learningClass = `n${randomUUID().slice(0, 6)}`;
    const inGroup = await buildUser({ groupId: group.id });
    const inClass = await buildUser({ groupId: otherGroup.id, learningClass });
    const inBoth = await buildUser({ groupId: group.id, learningClass });
    const outside = await buildUser({ groupId: otherGroup.id });
    const teacherInGroup = await buildUser({ role: "teacher", groupId: group.id, learningClass });
    await rolledBack(async (db) => {
      const written = await notify(
        db,
        { kind: "students", groupIds: [group.id], learningClasses: [learningClass] },
        content,
      );
      assert.equal(written, 3);
      assert.deepEqual(
        await countsOf(db, [inGroup.id, inClass.id, inBoth.id, outside.id, teacherInGroup.id]),
        [1, 1, 1, 0, 0],
      );
    });
  });

  it("students: an empty audience is every student and no staff", async () => {
    const student = await buildUser();
    const admin = await buildUser({ role: "admin" });
    await rolledBack(async (db) => {
      const [students] = await select<{ count: number }>(
        db,
        "SELECT count(*)::int AS count FROM users WHERE role = 'student'",
      );
      const written = await notify(db, { kind: "students", groupIds: [], learningClasses: [] }, content);
      assert.equal(written, students?.count);
      assert.deepEqual(await countsOf(db, [student.id, admin.id]), [1, 0]);
    });
  });
});
