import type { QueryInterface } from "sequelize";

/**
 * Each event's audience keys as rows in start order, so a student's events in start order are three
 * ordered index scans (everyone's, their group's, their class's) cut at the page size. Before, the GIN
 * index on events.audience_keys found every event of their audience since the school began, and the
 * list sorted them all to keep the first page: its cost grew with the school's history. These rows are
 * kept by the database from the events' own columns; no application code writes them. They also answer
 * "is this group in an event's audience", so the GIN index goes.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- Nothing changes an event between the backfill and the trigger below.
       LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;

       CREATE TABLE event_audience_keys (
         -- One of the event's audience_keys: '*', 'g:<group id>' or 'c:<class>'.
         key text NOT NULL,
         starts_at timestamptz NOT NULL,
         event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
         PRIMARY KEY (key, starts_at, event_id)
       );
       -- The trigger's replacement of an event's keys.
       CREATE INDEX event_audience_keys_event_idx ON event_audience_keys (event_id);
       INSERT INTO event_audience_keys (key, starts_at, event_id)
       SELECT DISTINCT k.key, e.starts_at, e.id FROM events e CROSS JOIN unnest(e.audience_keys) AS k (key);

       -- Under the event's row lock (its insert or update holds it), so no two writers race on its keys.
       CREATE FUNCTION events_index_audience() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           IF OLD.audience_keys = NEW.audience_keys AND OLD.starts_at = NEW.starts_at THEN
             RETURN NULL;
           END IF;
           DELETE FROM event_audience_keys WHERE event_id = NEW.id;
         END IF;
         INSERT INTO event_audience_keys (key, starts_at, event_id)
         SELECT DISTINCT k.key, NEW.starts_at, NEW.id FROM unnest(NEW.audience_keys) AS k (key);
         RETURN NULL;
       END $$;
       CREATE TRIGGER events_index_audience AFTER INSERT OR UPDATE OF starts_at, audience_group_ids, audience_classes
         ON events FOR EACH ROW EXECUTE FUNCTION events_index_audience();

       CREATE OR REPLACE FUNCTION groups_keep_event_audiences() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM event_audience_keys WHERE key = 'g:' || OLD.id::text) THEN
           RAISE EXCEPTION 'group % is in the audience of an event', OLD.id USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN OLD;
       END $$;
       DROP INDEX events_audience_keys_idx;`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE INDEX events_audience_keys_idx ON events USING gin (audience_keys);
     CREATE OR REPLACE FUNCTION groups_keep_event_audiences() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF EXISTS (SELECT 1 FROM events WHERE audience_keys @> ARRAY['g:' || OLD.id::text]) THEN
         RAISE EXCEPTION 'group % is in the audience of an event', OLD.id USING ERRCODE = 'restrict_violation';
       END IF;
       RETURN OLD;
     END $$;
     DROP TRIGGER events_index_audience ON events;
     DROP FUNCTION events_index_audience();
     DROP TABLE event_audience_keys;`,
  );
}
