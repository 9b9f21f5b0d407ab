import type { QueryInterface } from "sequelize";

/** Sign-in sessions with rotating refresh tokens, the login throttle, and the indexes user lists need. */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- One row per sign-in: the chain of refresh tokens issued from one login. Revoking it ends
       -- every token of the chain, and access tokens carry its id so they end with it.
       CREATE TABLE sessions (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         revoked_at timestamptz
       );
       -- "End every session of this user" on password change and reset.
       CREATE INDEX sessions_user_id_idx ON sessions (user_id);

       -- Refresh tokens are stored as SHA-256 digests only; each is used once.
       CREATE TABLE refresh_tokens (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
         token_hash bytea NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         used_at timestamptz
       );
       -- Refresh and logout look a token up by its digest.
       CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
       CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

       -- rate-limiter-flexible's PostgreSQL store, shared by every server process.
       CREATE TABLE login_throttle (
         key varchar(255) PRIMARY KEY,
         points integer NOT NULL DEFAULT 0,
         expire bigint
       );

       -- Staff lists of users are ordered by name, keyset-paged on (last_name, first_name, id).
       CREATE INDEX users_name_order_idx ON users (last_name, first_name, id);
       -- The leaderboard reads the top students from this index instead of sorting the table.
       CREATE INDEX users_leaderboard_idx ON users (rating DESC, id) WHERE role = 'student';`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP INDEX users_leaderboard_idx;
     DROP INDEX users_name_order_idx;
     DROP TABLE login_throttle;
     DROP TABLE refresh_tokens;
     DROP TABLE sessions;`,
  );
}
