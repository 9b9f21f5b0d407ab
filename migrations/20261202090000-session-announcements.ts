import type { QueryInterface } from "sequelize";

/**
 * Announces, at commit, every user whose sessions or account changed in a way the session check reads (a
 * session revoked, moved in time or deleted; a role changed; the user deleted), on the channel
 * `shtp_sessions` with the user's id, so each server process's session cache forgets them.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- One NOTIFY per row; PostgreSQL sends identical payloads of one transaction once.
       CREATE FUNCTION sessions_announce_user() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('shtp_sessions', OLD.user_id::text);
         RETURN NULL;
       END $$;
       CREATE FUNCTION users_announce_user() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('shtp_sessions', OLD.id::text);
         RETURN NULL;
       END $$;
       CREATE TRIGGER sessions_announce_change AFTER UPDATE OF revoked_at, expires_at, user_id ON sessions
         FOR EACH ROW
         WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
               OR OLD.user_id IS DISTINCT FROM NEW.user_id)
         EXECUTE FUNCTION sessions_announce_user();
       CREATE TRIGGER sessions_announce_delete AFTER DELETE ON sessions
         FOR EACH ROW EXECUTE FUNCTION sessions_announce_user();
       CREATE TRIGGER users_announce_role AFTER UPDATE OF role ON users
         FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role) EXECUTE FUNCTION users_announce_user();
       CREATE TRIGGER users_announce_delete AFTER DELETE ON users
         FOR EACH ROW EXECUTE FUNCTION users_announce_user();`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER users_announce_delete ON users;
     DROP TRIGGER users_announce_role ON users;
     DROP TRIGGER sessions_announce_delete ON sessions;
     DROP TRIGGER sessions_announce_change ON sessions;
     DROP FUNCTION users_announce_user();
     DROP FUNCTION sessions_announce_user();`,
  );
}
