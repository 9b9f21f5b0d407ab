import type { QueryInterface } from "sequelize";

/**
 * School events, their audiences and registrations. The database enforces every rule that races could
 * break: the capacity (a counter kept by triggers and checked by a constraint under the event's row
 * lock), one registration per student and event, and groups named in an audience staying in place.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- An audience as one array of keys, so "does this event include this student" is one overlap test
       -- (&&) that one GIN index answers: '*' for everyone (both lists empty), 'g:<group id>', 'c:<class>'.
       CREATE FUNCTION event_audience_keys(group_ids uuid[], classes text[]) RETURNS text[]
         LANGUAGE sql IMMUTABLE AS $$
           SELECT CASE WHEN cardinality(group_ids) = 0 AND cardinality(classes) = 0 THEN ARRAY['*']
             ELSE ARRAY(SELECT 'g:' || g::text FROM unnest(group_ids) AS g)
               || ARRAY(SELECT 'c:' || c FROM unnest(classes) AS c)
           END
         $$;
       -- The keys a student matches: everyone-events, their group, their learning class. An empty class
       -- gives 'c:', which no audience holds (audience classes are never empty).
       CREATE FUNCTION event_viewer_keys(group_id uuid, learning_class text) RETURNS text[]
         LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['*', 'g:' || group_id::text, 'c:' || learning_class] $$;

       CREATE TABLE events (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
         description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
         location text NOT NULL DEFAULT '' CHECK (length(location) <= 200),
         starts_at timestamptz NOT NULL,
         ends_at timestamptz NOT NULL,
         capacity integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
         registration_deadline timestamptz NOT NULL,
         -- FK-less arrays: the groups trigger below keeps the group ids resolvable.
         audience_group_ids uuid[] NOT NULL DEFAULT '{}',
         audience_classes text[] NOT NULL DEFAULT '{}',
         audience_keys text[] GENERATED ALWAYS AS (event_audience_keys(audience_group_ids, audience_classes)) STORED,
         -- SET NULL: the event outlives its author's account; admins can still edit it.
         author_id uuid REFERENCES users (id) ON DELETE SET NULL,
         -- Kept equal to the number of registrations by the triggers below, never by application code.
         registered_count integer NOT NULL DEFAULT 0 CHECK (registered_count >= 0),
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         CONSTRAINT events_ends_after_start CHECK (ends_at > starts_at),
         CONSTRAINT events_deadline_not_after_start CHECK (registration_deadline <= starts_at),
         -- The capacity rule itself: a registration that would exceed it fails, whatever the race.
         CONSTRAINT events_within_capacity CHECK (capacity = 0 OR registered_count <= capacity)
       );
       -- Lists in start order, keyset-paged on (starts_at, id); the time window is a range of it.
       CREATE INDEX events_starts_at_id_idx ON events (starts_at, id);
       -- A student's events (audience_keys && their keys), and the groups trigger's lookup.
       CREATE INDEX events_audience_keys_idx ON events USING gin (audience_keys);
       -- ON DELETE SET NULL of a deleted author finds their events without a scan.
       CREATE INDEX events_author_id_idx ON events (author_id) WHERE author_id IS NOT NULL;

       CREATE TABLE event_registrations (
         event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         registered_at timestamptz NOT NULL DEFAULT now(),
         attended_at timestamptz,
         -- One registration per student and event, also under concurrent requests.
         PRIMARY KEY (event_id, user_id)
       );
       -- A student's registrations: mine=true lists, visibility of registered events, account deletion.
       CREATE INDEX event_registrations_user_idx ON event_registrations (user_id, event_id);
       -- Staff lists of an event's registrations in registration order, keyset-paged.
       CREATE INDEX event_registrations_event_order_idx ON event_registrations (event_id, registered_at, user_id);

       -- registered_count follows every insert and delete (cancellations, cascades of deleted accounts),
       -- set-based per statement. The UPDATE takes the event's row lock, so concurrent registrations for
       -- one event queue here and each sees the count the previous one committed; the CHECK above then
       -- refuses the one that would exceed the capacity.
       CREATE FUNCTION event_registrations_count() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE events e
            SET registered_count = e.registered_count + CASE TG_OP WHEN 'INSERT' THEN d.n ELSE -d.n END
           FROM (SELECT event_id, count(*)::integer AS n FROM changed GROUP BY event_id) AS d
          WHERE e.id = d.event_id;
         RETURN NULL;
       END $$;
       CREATE TRIGGER event_registrations_count_insert AFTER INSERT ON event_registrations
         REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION event_registrations_count();
       CREATE TRIGGER event_registrations_count_delete AFTER DELETE ON event_registrations
         REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION event_registrations_count();
       -- Moving a registration to another event or user would bypass the counter: forbidden.
       CREATE FUNCTION event_registrations_keys_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'event registrations cannot change event or user' USING ERRCODE = 'check_violation';
       END $$;
       CREATE TRIGGER event_registrations_keys_fixed BEFORE UPDATE OF event_id, user_id ON event_registrations
         FOR EACH ROW WHEN (OLD.event_id IS DISTINCT FROM NEW.event_id OR OLD.user_id IS DISTINCT FROM NEW.user_id)
         EXECUTE FUNCTION event_registrations_keys_fixed();

       -- A group named in an event's audience cannot be deleted (restrict_violation, answered 409), like a
       -- group with members: removing the id instead could empty the audience and open the event to everyone.
       CREATE FUNCTION groups_keep_event_audiences() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM events WHERE audience_keys @> ARRAY['g:' || OLD.id::text]) THEN
           RAISE EXCEPTION 'group % is in the audience of an event', OLD.id USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN OLD;
       END $$;
       CREATE TRIGGER groups_keep_event_audiences BEFORE DELETE ON groups
         FOR EACH ROW EXECUTE FUNCTION groups_keep_event_audiences();`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER groups_keep_event_audiences ON groups;
     DROP FUNCTION groups_keep_event_audiences();
     DROP TABLE event_registrations;
     DROP FUNCTION event_registrations_keys_fixed();
     DROP FUNCTION event_registrations_count();
     DROP TABLE events;
     DROP FUNCTION event_viewer_keys(uuid, text);
     DROP FUNCTION event_audience_keys(uuid[], text[]);`,
  );
}
