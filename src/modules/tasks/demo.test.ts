import assert from "node:assert/strict";
import { QueryTypes, type Sequelize } from "sequelize";
import { migrateToLatest } from "../../db/migrator.js";
import { createSequelize, maintenanceSettings } from "../../db/sequelize.js";
import { createLogger } from "../../logging/logger.js";
import { createScratchDatabase } from "../../testing/database.js";
import { getCurrentChallenge } from "../challenges/service.js";
import { getContest } from "../contests/service.js";
import { seedAssignmentsDemo } from "./demo.js";
import { getTask } from "./service.js";

/**
 * The demo assignments `npm start` adds to a fresh demo database, on a scratch database of their own
 * (the suite's database has its own day challenge for today). Everything here is plain SQL, so no
 * model is bound to the scratch database.
 */
describe("the demo assignments", function () {
  this.timeout(60_000);
  const zone = "Europe/Moscow";
  let scratch: { url: string; drop: () => Promise<void> };
  let sequelize: Sequelize;

  before(async () => {
    scratch = await createScratchDatabase();
    sequelize = createSequelize(scratch.url, maintenanceSettings(2));
    await migrateToLatest(scratch.url, sequelize);
  });
  after(async () => {
    await sequelize.close();
    await scratch.drop();
  });

  async function one<T extends object>(sql: string, replacements: Record<string, unknown> = {}): Promise<T> {
    const [row] = await sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT });
    if (!row) throw new Error("no row");
    return row;
  }

  it("is nothing without the demo teacher and group", async () => {
    assert.equal(await seedAssignmentsDemo({ sequelize }, zone, createLogger("silent")), null);
    assert.deepEqual(await one("SELECT count(*)::int AS count FROM tasks"), { count: 0 });
  });

  it("gives the demo group a task with demo and hidden tests, today's challenge and an open contest", async () => {
    const { id: groupId } = await one<{ id: string }>("INSERT INTO groups (name) VALUES ('Demo group') RETURNING id");
    const insertUser = (email: string, role: string) =>
      one<{ id: string }>(
        `INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, password_hash)
         VALUES (:email, :email, 'Demo', 'User', :role, :groupId, 'unusable') RETURNING id`,
        { email, role, groupId },
      );
    await insertUser("teacher@demo.shtp.local", "teacher");
    const student = await insertUser("student1@demo.shtp.local", "student");

    const made = await seedAssignmentsDemo({ sequelize }, zone, createLogger("silent"));
    assert.ok(made);
    const db = { sequelize };
    const actor = { id: student.id, role: "student" as const, sessionId: "" };
    const asStaff = await one<{ tests: number; demo: number }>(
      "SELECT count(*)::int AS tests, (count(*) FILTER (WHERE demo))::int AS demo FROM task_tests WHERE task_id = :id",
      { id: made.taskId },
    );
    assert.deepEqual(asStaff, { tests: 6, demo: 2 });

    const seen = await getTask(db, actor, made.taskId, zone);
    assert.equal(seen.title, "A + B");
    assert.deepEqual(
      seen.tests.map((test) => test.demo),
      [true, true],
    );
    const current = await getCurrentChallenge(db, zone);
    assert.equal(current.challenge.day, made.day);
    assert.equal(current.task.id, made.taskId);
    const contest = await getContest(db, actor, made.contestId);
    assert.equal(contest.open, true);
    assert.deepEqual(contest.audienceGroupIds, [groupId]);
    assert.deepEqual(
      contest.tasks.map((task) => task.taskId),
      [made.taskId],
    );
  });
});
