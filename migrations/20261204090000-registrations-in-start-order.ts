import type { QueryInterface } from "sequelize";

/**
 * Each registration carries its event's start, so a student's registered events in start order are one
 * ordered index scan cut at the page size. Before, a list read every registration of the student and
 * looked up each one's event to sort them: its cost grew with every event they had ever registered for.
 * The database keeps the copy equal to the event's start; no application code writes it.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- Nothing moves an event or registers between the backfill and the triggers below.
       LOCK TABLE events, event_registrations IN SHARE ROW EXCLUSIVE MODE;

       ALTER TABLE event_registrations ADD COLUMN event_starts_at timestamptz;
       UPDATE event_registrations r SET event_starts_at = e.starts_at FROM events e WHERE e.id = r.event_id;
       ALTER TABLE event_registrations ALTER COLUMN event_starts_at SET NOT NULL;

       -- A new registration takes its event's start under the event's row lock (the lock the counter's
       -- update takes a moment later anyway), so a concurrent move of the event either committed before
       -- and is read here, or waits for this registration and then updates it below.
       CREATE FUNCTION event_registrations_take_start() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         SELECT starts_at INTO NEW.event_starts_at FROM events WHERE id = NEW.event_id FOR NO KEY UPDATE;
         IF NOT FOUND THEN
           -- The error the foreign key would give; NOT NULL would otherwise refuse the row first.
           RAISE EXCEPTION 'insert or update on table "event_registrations" violates foreign key constraint "event_registrations_event_id_fkey"'
             USING ERRCODE = 'foreign_key_violation', TABLE = 'event_registrations',
                   CONSTRAINT = 'event_registrations_event_id_fkey',
                   DETAIL = format('Key (event_id)=(%s) is not present in table "events".', NEW.event_id);
         END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER event_registrations_take_start BEFORE INSERT ON event_registrations
         FOR EACH ROW EXECUTE FUNCTION event_registrations_take_start();

       CREATE FUNCTION events_move_registrations() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE event_registrations SET event_starts_at = NEW.starts_at WHERE event_id = NEW.id;
         RETURN NULL;
       END $$;
       CREATE TRIGGER events_move_registrations AFTER UPDATE OF starts_at ON events
         FOR EACH ROW WHEN (OLD.starts_at IS DISTINCT FROM NEW.starts_at)
         EXECUTE FUNCTION events_move_registrations();

       -- Also serves what the (user_id, event_id) index served: a student's registrations, and the
       -- cascade of a deleted account.
       CREATE INDEX event_registrations_user_start_idx ON event_registrations (user_id, event_starts_at, event_id);
       DROP INDEX event_registrations_user_idx;`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE INDEX event_registrations_user_idx ON event_registrations (user_id, event_id);
     DROP TRIGGER events_move_registrations ON events;
     DROP FUNCTION events_move_registrations();
     DROP TRIGGER event_registrations_take_start ON event_registrations;
     DROP FUNCTION event_registrations_take_start();
     ALTER TABLE event_registrations DROP COLUMN event_starts_at;`,
  );
}
