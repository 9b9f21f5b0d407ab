import type { QueryInterface } from "sequelize";

/**
 * A solution sent to a contest arrives without a verdict, so it can change only its cell's attempts:
 * one more when it counts (not rejected, by the deadline). Adding it in place costs one statement
 * where recomputing the cell from its submissions cost four, on every `POST /submissions`. The
 * addition is safe beside other writers of the cell: the upsert waits for the cell's row and adds to
 * the version they committed, and a writer that recomputes after it sees the committed submission.
 * The deadline is read under the contest's share lock, as a recomputation reads it. A submission
 * inserted with its verdict (an import) still recomputes its cell.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE FUNCTION submissions_count_sent() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE
       contest_deadline timestamptz;
     BEGIN
       SELECT c.deadline INTO contest_deadline FROM contests c WHERE c.id = NEW.contest_id FOR SHARE;
       INSERT INTO contest_standings (contest_id, user_id, task_id, attempts, solved, best_passed_tests)
       VALUES (NEW.contest_id, NEW.user_id, NEW.task_id,
               CASE WHEN NEW.rejected_at IS NULL AND NEW.created_at <= contest_deadline THEN 1 ELSE 0 END, false, 0)
       ON CONFLICT (contest_id, user_id, task_id) DO UPDATE SET attempts = contest_standings.attempts + EXCLUDED.attempts;
       RETURN NULL;
     END $$;
     DROP TRIGGER submissions_refresh_standing_insert ON submissions;
     CREATE TRIGGER submissions_count_sent AFTER INSERT ON submissions
       FOR EACH ROW WHEN (NEW.contest_id IS NOT NULL AND NEW.verdict IS NULL) EXECUTE FUNCTION submissions_count_sent();
     CREATE TRIGGER submissions_refresh_standing_insert AFTER INSERT ON submissions
       FOR EACH ROW WHEN (NEW.contest_id IS NOT NULL AND NEW.verdict IS NOT NULL)
       EXECUTE FUNCTION submissions_refresh_standing();`,
  );
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER submissions_refresh_standing_insert ON submissions;
     DROP TRIGGER submissions_count_sent ON submissions;
     DROP FUNCTION submissions_count_sent();
     CREATE TRIGGER submissions_refresh_standing_insert AFTER INSERT ON submissions
       FOR EACH ROW WHEN (NEW.contest_id IS NOT NULL) EXECUTE FUNCTION submissions_refresh_standing();`,
  );
}
