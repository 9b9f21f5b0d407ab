import type { QueryInterface } from "sequelize";

/**
 * Moving an event updates its registrations (their copy of its start) while holding the event's row,
 * so whatever deletes registrations must take their events' rows first, or the two wait on each other
 * until PostgreSQL breaks the deadlock by failing one. A cancellation locks its event in the service;
 * an account's deletion cascades to its registrations, so this trigger locks their events (in id
 * order, as every other multi-event lock would) before the cascade reaches them.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE FUNCTION users_lock_registered_events() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       PERFORM 1 FROM events e
         WHERE e.id IN (SELECT r.event_id FROM event_registrations r WHERE r.user_id = OLD.id)
         ORDER BY e.id FOR NO KEY UPDATE OF e;
       RETURN OLD;
     END $$;
     CREATE TRIGGER users_lock_registered_events BEFORE DELETE ON users
       FOR EACH ROW EXECUTE FUNCTION users_lock_registered_events();`,
  );
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER users_lock_registered_events ON users;
     DROP FUNCTION users_lock_registered_events();`,
  );
}
