import assert from "node:assert/strict";
import { inTransaction } from "../../db/db.js";
import { countRows } from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { notify, type Recipients } from "./service.js";

/** notify(db, recipients, content): each kind of recipients resolved set-based, in one INSERT … SELECT. */
describe("notify", () => {
  const text = () => `notify ${Math.random()}`;
  const send = (recipients: Recipients, message: string) =>
    inTransaction({ sequelize: testDatabase().database.sequelize }, (db) =>
      notify(db, recipients, { type: "message", payload: { text: message, severity: "info" } }),
    );
  const received = (message: string) =>
    countRows("SELECT count(*) FROM notifications WHERE payload->>'text' = :message", { message });

  it("reaches the listed users, a group, a learning class, everyone, and an audience's students", async () => {
    const group = await buildGroup();
    const first = await buildUser({ groupId: group.id });
    await buildUser({ groupId: group.id });
    const teacher = await buildUser({ role: "teacher", groupId: group.id });
    const classmate = await buildUser({ learningClass: `N${Math.random().toString(36).slice(2, 8)}` });

    const toUsers = text();
    assert.equal(await send({ kind: "users", userIds: [first.id, classmate.id] }, toUsers), 2);
    assert.equal(await send({ kind: "users", userIds: [] }, text()), 0);
    assert.equal(await send({ kind: "group", groupId: group.id }, text()), 3);
    assert.equal(await send({ kind: "learningClass", learningClass: classmate.learningClass }, text()), 1);
    const students = text();
    assert.equal(
      await send({ kind: "students", groupIds: [group.id], learningClasses: [classmate.learningClass] }, students),
      3,
      "the group's two students and the classmate, not the teacher",
    );
    assert.equal(await countRows("SELECT count(*) FROM notifications WHERE user_id = :id", { id: teacher.id }), 1);
    assert.equal(await received(toUsers), 2);
    const everyStudent = text();
    assert.equal(
      await send({ kind: "students", groupIds: [], learningClasses: [] }, everyStudent),
      await countRows("SELECT count(*) FROM users WHERE role = 'student'"),
    );
    const everyone = text();
    assert.equal(await send({ kind: "everyone" }, everyone), await countRows("SELECT count(*) FROM users"));
  });
});
