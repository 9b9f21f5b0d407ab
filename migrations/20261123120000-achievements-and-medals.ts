import type { QueryInterface } from "sequelize";

/** Achievements with their proof files and moderation, the counters medals are judged by, and awarded medals. */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `CREATE TABLE achievements (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         -- Submission order, exact and unique: the keyset of every achievement list.
         seq bigint GENERATED ALWAYS AS IDENTITY,
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         kind text NOT NULL CHECK (kind IN ('olympiad', 'event', 'other')),
         title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
         description text NOT NULL DEFAULT '',
         status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
         points integer CHECK (points BETWEEN 1 AND 1000),
         comment text NOT NULL DEFAULT '',
         -- The stored name (random) under the proofs folder; never a client's file name.
         proof_file text NOT NULL UNIQUE,
         proof_media_type text NOT NULL,
         proof_size integer NOT NULL CHECK (proof_size > 0),
         -- SET NULL: a moderator's account may go; the decision and its time stay.
         moderated_by uuid REFERENCES users (id) ON DELETE SET NULL,
         moderated_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         -- A decision is recorded whole or not at all: points exactly when accepted, a time exactly when decided.
         CONSTRAINT achievements_points_iff_accepted CHECK ((status = 'accepted') = (points IS NOT NULL)),
         CONSTRAINT achievements_moderated_iff_decided CHECK ((status = 'pending') = (moderated_at IS NULL))
       );
       CREATE UNIQUE INDEX achievements_seq_key ON achievements (seq);
       -- A user's own list, newest first, with or without a status filter, and the public accepted list.
       CREATE INDEX achievements_user_seq_idx ON achievements (user_id, seq DESC);
       CREATE INDEX achievements_user_status_seq_idx ON achievements (user_id, status, seq DESC);
       -- The moderation queue, oldest first: only pending rows are in this index, so it stays small.
       CREATE INDEX achievements_pending_queue_idx ON achievements (seq) WHERE status = 'pending';
       CREATE INDEX achievements_moderated_by_idx ON achievements (moderated_by) WHERE moderated_by IS NOT NULL;

       -- What the medal rules read, kept on the user row by the transactions that change them, so a
       -- medal check is one row read whatever the size of the achievements and registrations tables.
       ALTER TABLE users
         ADD COLUMN accepted_achievements integer NOT NULL DEFAULT 0 CHECK (accepted_achievements >= 0),
         ADD COLUMN events_attended integer NOT NULL DEFAULT 0 CHECK (events_attended >= 0);

       -- The primary key makes each medal at most once per user, whatever races award it.
       CREATE TABLE user_medals (
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         medal text NOT NULL CHECK (medal IN ('first_achievement', 'rating_100', 'rating_1000', 'ten_achievements', 'five_events')),
         awarded_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (user_id, medal)
       );`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TABLE user_medals;
     ALTER TABLE users DROP COLUMN accepted_achievements, DROP COLUMN events_attended;
     DROP TABLE achievements;`,
  );
}
