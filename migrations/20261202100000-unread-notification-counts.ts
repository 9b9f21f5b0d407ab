import type { QueryInterface } from "sequelize";

/**
 * Each user's unread notification count, kept by the database in the transaction of every statement
 * that inserts notifications, marks them read or unread, or deletes them (a deleted user's by cascade,
 * old read ones by the retention job), so reading it is one row rather than a count over the index.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- Nothing changes notifications between the triggers' creation and the backfill below.
       LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE;

       CREATE TABLE notification_counts (
         user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
         unread integer NOT NULL DEFAULT 0 CHECK (unread >= 0)
       );

       -- Statement triggers over the rows each statement wrote: one call per statement, whatever the
       -- number of rows, in user order so concurrent broadcasts lock counts in the same order. Rises are
       -- upserts; falls are updates only (a CHECK refuses a negative proposed row before any conflict, and
       -- a user deleted in the same statement has no row left to count for).
       CREATE FUNCTION notification_counts_add(changes jsonb) RETURNS void LANGUAGE sql AS $$
         INSERT INTO notification_counts AS c (user_id, unread)
         SELECT key::uuid, value::int FROM jsonb_each_text(changes) WHERE value::int > 0 ORDER BY key
         ON CONFLICT (user_id) DO UPDATE SET unread = c.unread + EXCLUDED.unread;
         UPDATE notification_counts c SET unread = c.unread + d.value::int
           FROM jsonb_each_text(changes) AS d WHERE c.user_id = d.key::uuid AND d.value::int < 0;
       $$;

       CREATE FUNCTION notification_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM notification_counts_add(coalesce(jsonb_object_agg(user_id, n), '{}'))
            FROM (SELECT user_id, count(*) AS n FROM inserted WHERE read_at IS NULL GROUP BY user_id) AS d;
         RETURN NULL;
       END $$;
       CREATE TRIGGER notification_counts_on_insert AFTER INSERT ON notifications
         REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION notification_counts_on_insert();

       CREATE FUNCTION notification_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM notification_counts_add(coalesce(jsonb_object_agg(user_id, n), '{}'))
            FROM (SELECT user_id, sum(change) AS n
                    FROM (SELECT user_id, 1 AS change FROM new_rows WHERE read_at IS NULL
                          UNION ALL
                          SELECT user_id, -1 FROM old_rows WHERE read_at IS NULL) AS changes
                   GROUP BY user_id HAVING sum(change) <> 0) AS d;
         RETURN NULL;
       END $$;
       CREATE TRIGGER notification_counts_on_update AFTER UPDATE ON notifications
         REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
         FOR EACH STATEMENT EXECUTE FUNCTION notification_counts_on_update();

       CREATE FUNCTION notification_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM notification_counts_add(coalesce(jsonb_object_agg(user_id, -n), '{}'))
            FROM (SELECT user_id, count(*) AS n FROM deleted WHERE read_at IS NULL GROUP BY user_id) AS d;
         RETURN NULL;
       END $$;
       CREATE TRIGGER notification_counts_on_delete AFTER DELETE ON notifications
         REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION notification_counts_on_delete();

       CREATE FUNCTION notification_counts_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         DELETE FROM notification_counts;
         RETURN NULL;
       END $$;
       CREATE TRIGGER notification_counts_on_truncate AFTER TRUNCATE ON notifications
         FOR EACH STATEMENT EXECUTE FUNCTION notification_counts_on_truncate();

       INSERT INTO notification_counts (user_id, unread)
       SELECT user_id, count(*) FROM notifications WHERE read_at IS NULL GROUP BY user_id;`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER notification_counts_on_truncate ON notifications;
     DROP TRIGGER notification_counts_on_delete ON notifications;
     DROP TRIGGER notification_counts_on_update ON notifications;
     DROP TRIGGER notification_counts_on_insert ON notifications;
     DROP FUNCTION notification_counts_on_truncate();
     DROP FUNCTION notification_counts_on_delete();
     DROP FUNCTION notification_counts_on_update();
     DROP FUNCTION notification_counts_on_insert();
     DROP FUNCTION notification_counts_add(jsonb);
     DROP TABLE notification_counts;`,
  );
}
