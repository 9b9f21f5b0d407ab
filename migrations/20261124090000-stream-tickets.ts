import type { QueryInterface } from "sequelize";

/** Single-use stream tickets: how a browser's EventSource, which cannot send headers, opens a notification stream. */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- Stored as SHA-256 digests only, like refresh tokens; each is used once. A ticket belongs to the
       -- session that minted it (and through it to the user), so ending the session ends its tickets.
       CREATE TABLE stream_tickets (
         ticket_hash bytea PRIMARY KEY,
         session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         used_at timestamptz
       );
       -- Minting purges the expired tickets by this index; the session's for its cascade.
       CREATE INDEX stream_tickets_expires_at_idx ON stream_tickets (expires_at);
       CREATE INDEX stream_tickets_session_id_idx ON stream_tickets (session_id);`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(`DROP TABLE stream_tickets;`);
}
