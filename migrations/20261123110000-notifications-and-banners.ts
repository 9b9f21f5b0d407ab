import type { QueryInterface } from "sequelize";

/** Typed notifications with a payload the database itself validates, and system banners. */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- The payload of each type, checked by the database: exactly these keys with these JSON types,
       -- so a row whose payload does not match its type cannot be written by any code path.
       CREATE FUNCTION notification_payload_is_valid(kind text, payload jsonb) RETURNS boolean
         LANGUAGE sql IMMUTABLE AS $$
           SELECT jsonb_typeof(payload) = 'object' AND (
             SELECT coalesce(array_agg(key ORDER BY key), '{}') FROM jsonb_object_keys(payload) AS key
           ) = CASE kind
             WHEN 'achievement_accepted' THEN ARRAY['achievementId', 'points', 'title']
             WHEN 'achievement_rejected' THEN ARRAY['achievementId', 'comment', 'title']
             WHEN 'event_created' THEN ARRAY['eventId', 'startsAt', 'title']
             WHEN 'medal_awarded' THEN ARRAY['medal']
             WHEN 'message' THEN ARRAY['severity', 'text']
           END
           AND CASE kind
             WHEN 'achievement_accepted' THEN jsonb_typeof(payload->'achievementId') = 'string'
               AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'points') = 'number'
             WHEN 'achievement_rejected' THEN jsonb_typeof(payload->'achievementId') = 'string'
               AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'comment') = 'string'
             WHEN 'event_created' THEN jsonb_typeof(payload->'eventId') = 'string'
               AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'startsAt') = 'string'
             WHEN 'medal_awarded' THEN payload->>'medal' IN
               ('first_achievement', 'rating_100', 'rating_1000', 'ten_achievements', 'five_events')
             WHEN 'message' THEN jsonb_typeof(payload->'text') = 'string' AND payload->>'severity' IN ('info', 'warning')
             ELSE false
           END
         $$;

       CREATE TABLE notifications (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         -- Insertion order: the keyset of lists and the SSE event id (Last-Event-ID).
         seq bigint GENERATED ALWAYS AS IDENTITY,
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         type text NOT NULL CHECK (type IN ('achievement_accepted', 'achievement_rejected', 'event_created', 'medal_awarded', 'message')),
         payload jsonb NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         read_at timestamptz,
         CONSTRAINT notifications_payload_matches_type CHECK (notification_payload_is_valid(type, payload))
       );
       CREATE UNIQUE INDEX notifications_seq_key ON notifications (seq);
       -- A user's notifications newest first: every page is an index range, whatever the table's size.
       CREATE INDEX notifications_user_seq_idx ON notifications (user_id, seq DESC);
       -- Unread lists and the unread count read only this (smaller) partial index.
       CREATE INDEX notifications_user_unread_idx ON notifications (user_id, seq DESC) WHERE read_at IS NULL;
       -- The retention job finds old read rows without scanning unread ones.
       CREATE INDEX notifications_read_at_idx ON notifications (read_at) WHERE read_at IS NOT NULL;

       -- Wakes the live streams of every server process: one NOTIFY per statement with the seq range
       -- it wrote, delivered at commit. Listeners fetch that range for the users they serve.
       CREATE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE low bigint; high bigint;
       BEGIN
         SELECT min(seq), max(seq) INTO low, high FROM inserted;
         IF low IS NOT NULL THEN
           PERFORM pg_notify('shtp_notifications', low || ':' || high);
         END IF;
         RETURN NULL;
       END $$;
       CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
         REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION notifications_announce();

       CREATE TABLE banners (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         text text NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
         severity text NOT NULL CHECK (severity IN ('success', 'info', 'warning', 'error')),
         active boolean NOT NULL DEFAULT true,
         starts_at timestamptz,
         ends_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         CONSTRAINT banners_window_order CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
       );`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TABLE banners;
     DROP TRIGGER notifications_announce ON notifications;
     DROP FUNCTION notifications_announce();
     DROP TABLE notifications;
     DROP FUNCTION notification_payload_is_valid(text, jsonb);`,
  );
}
