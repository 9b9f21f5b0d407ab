import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { execute, select, type TransactionDb } from "../../db/db.js";
import { createLogger } from "../../logging/logger.js";
import { createServices } from "../../services.js";
import { testDatabase } from "../../testing/database.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { testConfig } from "../../testing/server.js";
import { deleteUser } from "../users/accounts.service.js";
import { deleteOldReadNotifications } from "./queries.js";
import { markRead, notify, unreadCountOf, type NotificationContent } from "./service.js";

const content: NotificationContent = { type: "message", payload: { text: "unread count test", severity: "info" } };

/** Users whose kept count differs from a real count of their unread rows (none, when the counter holds). */
async function mismatches(db: TransactionDb): Promise<{ id: string; kept: number; real: number }[]> {
  return select(
    db,
    `SELECT u.id::text AS id, coalesce(c.unread, 0) AS kept,
            (SELECT count(*)::int FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL) AS real
       FROM users u LEFT JOIN notification_counts c ON c.user_id = u.id
      WHERE coalesce(c.unread, 0) <> (SELECT count(*) FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL)`,
  );
}

/** Checks every user's counter against a real count, and the given users' counts as expected. */
async function expectCounts(db: TransactionDb, expected: Record<string, number>, after: string): Promise<void> {
  assert.deepEqual(await mismatches(db), [], `after ${after}: every counter equals a real count`);
  for (const [userId, count] of Object.entries(expected)) {
    assert.equal(await unreadCountOf(db, userId), count, `after ${after}`);
  }
}

const idsOf = async (db: TransactionDb, userId: string): Promise<string[]> =>
  (
    await select<{ id: string }>(db, "SELECT id FROM notifications WHERE user_id = :userId ORDER BY seq", { userId })
  ).map((row) => row.id);

describe("the unread count kept by the database (notification_counts)", () => {
  it("equals a real count after sends to users, a group, a class, students and everyone", async () => {
    const group = await buildGroup();
    const learningClass = `u${randomUUID().slice(0, 6)}`;
    const member = await buildUser({ groupId: group.id, learningClass });
    const other = await buildUser();
    const teacher = await buildUser({ role: "teacher", groupId: group.id });
    await rolledBack(async (db) => {
      const start = { member: await unreadCountOf(db, member.id), other: await unreadCountOf(db, other.id) };
      await notify(db, { kind: "users", userIds: [member.id, other.id] }, content);
      await expectCounts(db, { [member.id]: start.member + 1, [other.id]: start.other + 1 }, "a send to users");
      await notify(db, { kind: "group", groupId: group.id }, content);
      await expectCounts(db, { [member.id]: start.member + 2, [teacher.id]: 1 }, "a group send");
      await notify(db, { kind: "learningClass", learningClass }, content);
      await expectCounts(db, { [member.id]: start.member + 3, [other.id]: start.other + 1 }, "a class send");
      await notify(db, { kind: "students", groupIds: [group.id], learningClasses: [] }, content);
      await expectCounts(db, { [member.id]: start.member + 4, [teacher.id]: 1 }, "a send to students");
      await notify(db, { kind: "everyone" }, content);
      await expectCounts(db, { [member.id]: start.member + 5, [teacher.id]: 2 }, "a broadcast");
    });
  });

  it("equals a real count after marking read (some, all), marking unread and deleting one", async () => {
    const user = await buildUser();
    await rolledBack(async (db) => {
      await notify(db, { kind: "users", userIds: [user.id] }, content);
      await notify(db, { kind: "users", userIds: [user.id] }, content);
      await notify(db, { kind: "users", userIds: [user.id] }, content);
      await expectCounts(db, { [user.id]: 3 }, "three sends");
      const [first, second] = await idsOf(db, user.id);
      assert.equal(await markRead(db, user.id, { ids: [first ?? "", randomUUID()], all: false }), 1);
      await expectCounts(db, { [user.id]: 2 }, "marking one read");
      assert.equal(await markRead(db, user.id, { ids: [first ?? ""], all: false }), 0);
      await expectCounts(db, { [user.id]: 2 }, "marking a read one again");
      await markRead(db, user.id, { ids: [], all: true });
      await expectCounts(db, { [user.id]: 0 }, "marking all read");
      await execute(db, "UPDATE notifications SET read_at = NULL WHERE id IN (:first, :second)", { first, second });
      await expectCounts(db, { [user.id]: 2 }, "marking two unread");
      await execute(db, "DELETE FROM notifications WHERE id = :first", { first });
      await expectCounts(db, { [user.id]: 1 }, "deleting an unread one");
    });
  });

  it("equals a real count after a user's deletion and after the retention purge", async () => {
    const doomed = await buildUser();
    const keeper = await buildUser();
    const admin = await buildUser({ role: "admin" });
    const services = createServices({
      config: testConfig(),
      logger: createLogger("silent"),
      sequelize: testDatabase().database.sequelize,
    });
    await rolledBack(async (db) => {
      await notify(db, { kind: "users", userIds: [doomed.id, keeper.id] }, content);
      await notify(db, { kind: "users", userIds: [doomed.id, keeper.id] }, content);
      await deleteUser(db, services, { id: admin.id, role: "admin", sessionId: randomUUID() }, doomed.id);
      await expectCounts(db, { [doomed.id]: 0, [keeper.id]: 2 }, "deleting a user with unread notifications");

      const [old] = await idsOf(db, keeper.id);
      await markRead(db, keeper.id, { ids: [old ?? ""], all: false });
      await execute(db, "UPDATE notifications SET read_at = now() - interval '400 days' WHERE id = :old", { old });
      await notify(db, { kind: "users", userIds: [keeper.id] }, content);
      assert.ok((await deleteOldReadNotifications(db, 180, 5000)) >= 1);
      await expectCounts(db, { [keeper.id]: 2 }, "the retention purge");
    });
  });
});
