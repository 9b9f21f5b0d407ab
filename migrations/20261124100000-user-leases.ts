import type { QueryInterface } from "sequelize";

/**
 * What each user holds open across every server process (notification streams, uploads in flight), so
 * a per-user limit holds whichever process a request reaches. Rows belong to a process that heartbeats;
 * a process that stops beating (a crash, a lost network) is removed by any other, and its leases with it.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `-- One row per running server process that holds a lease; heartbeat_at is the database's clock.
       CREATE TABLE server_processes (
         id uuid PRIMARY KEY,
         started_at timestamptz NOT NULL DEFAULT now(),
         heartbeat_at timestamptz NOT NULL DEFAULT now()
       );

       -- One row per stream or upload a user holds open, owned by the process that serves it.
       CREATE TABLE user_leases (
         id uuid PRIMARY KEY,
         kind text NOT NULL CONSTRAINT user_leases_kind_check CHECK (kind IN ('stream', 'upload')),
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         process_id uuid NOT NULL REFERENCES server_processes (id) ON DELETE CASCADE,
         -- clock_timestamp(): leases opened in one transaction still order by when they were opened.
         opened_at timestamptz NOT NULL DEFAULT clock_timestamp()
       );
       -- A user's leases of one kind, oldest first: counting them, and finding the oldest to close.
       CREATE INDEX user_leases_user_kind_idx ON user_leases (user_id, kind, opened_at);
       -- A process's own leases (its heartbeat's reconciliation, the cascade when it goes).
       CREATE INDEX user_leases_process_idx ON user_leases (process_id);`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TABLE user_leases;
     DROP TABLE server_processes;`,
  );
}
