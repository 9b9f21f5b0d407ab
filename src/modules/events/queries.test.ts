import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ForeignKeyConstraintError } from "sequelize";
import { inTransaction, select, type Db } from "../../db/db.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { untilWaitingForLock } from "../../testing/wait.js";
import { insertRegistration } from "./queries.js";

const database = (): Db => ({ sequelize: testDatabase().database.sequelize });

/** @returns whether the registration's copy of its event's start equals the event's start */
async function startCopied(eventId: string, userId: string): Promise<boolean> {
  const [row] = await select<{ copied: boolean }>(
    database(),
    `SELECT r.event_starts_at = e.starts_at AS copied
       FROM event_registrations r JOIN events e ON e.id = r.event_id
      WHERE r.event_id = :eventId AND r.user_id = :userId`,
    { eventId, userId },
  );
  assert.ok(row, "the registration exists");
  return row.copied;
}

describe("event queries (src/modules/events/queries.ts)", () => {
  it("passes on a refusal that is neither a second registration nor a full event: an event that is gone", async () => {
    const student = await buildUser();
    await rolledBack(async (db) => {
      const error = await insertRegistration(db, randomUUID(), student.id).catch((caught: unknown) => caught);
      assert.ok(error instanceof ForeignKeyConstraintError, String(error));
    });
  });

  it("a registration keeps its event's start: taken at registration, also during a move, and moved with it", async () => {
    const student = await buildUser();
    const [event] = await select<{ id: string }>(
      database(),
      `INSERT INTO events (title, starts_at, ends_at, registration_deadline)
       VALUES ('Moving event', now() + interval '2 days', now() + interval '3 days', now() + interval '1 day')
       RETURNING id`,
    );
    assert.ok(event);
    const { sequelize } = database();
    const moveBy = (interval: string, db: Db) =>
      select(
        db,
        `UPDATE events SET starts_at = starts_at + CAST(:interval AS interval), ends_at = ends_at + CAST(:interval AS interval)
          WHERE id = :id RETURNING id`,
        { id: event.id, interval },
      );
    try {
      // A move not committed yet holds the event's row: the registration must wait for it and take the
      // start it commits, not the one its own snapshot saw.
      const moving = await sequelize.transaction();
      let registering: Promise<string> | undefined;
      try {
        await moveBy("1 hour", { sequelize, transaction: moving });
        registering = inTransaction(database(), (db) => insertRegistration(db, event.id, student.id));
        await untilWaitingForLock("INSERT INTO event_registrations");
      } finally {
        await moving.commit();
      }
      assert.equal(await registering, "registered");
      assert.ok(await startCopied(event.id, student.id), "the start committed by the concurrent move");

      await moveBy("1 day", database());
      assert.ok(await startCopied(event.id, student.id), "a later move carries the registration along");
    } finally {
      await select(database(), "DELETE FROM events WHERE id = :id RETURNING id", { id: event.id });
    }
  });
});
