import type { QueryInterface } from "sequelize";

/**
 * Each student's standing per task of a contest, kept by the database as submissions come, are judged,
 * rejected or rejudged and as the deadline moves, so a page of results reads one row per cell instead
 * of aggregating every submission of its students (whose number grows with every attempt).
 *
 * A cell exists while its student has any submission to the task in the contest (a late or rejected one
 * still makes them a participant). Its figures follow the rules of the results: attempts are the
 * submissions sent by the deadline and not rejected; solved when one of them was accepted; the best is
 * the judged one among them that was accepted, else passed the most tests, else was sent first.
 *
 * Concurrency: a cell is recomputed from scratch by whoever changes one of its submissions, under the
 * cell's row lock and in a statement that starts after the lock was granted, so it sees what an earlier
 * writer of the cell committed. Writers share-lock the contest first: a deadline change holds the
 * contest's row while it recomputes every cell, so no cell is computed against a deadline about to
 * change, and the lock order (contest, then cell) is the same everywhere.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE TABLE contest_standings (
       contest_id uuid NOT NULL,
       -- No key to users: a cell goes with its student's last submission to the task, which goes with them.
       -- A cascade from users straight to the cells would lock them before the contest, against the order below.
       user_id uuid NOT NULL,
       task_id uuid NOT NULL,
       attempts integer NOT NULL CHECK (attempts >= 0),
       solved boolean NOT NULL,
       best_verdict text,
       best_passed_tests integer NOT NULL CHECK (best_passed_tests >= 0),
       -- A page of results reads its students' cells by (contest, student).
       PRIMARY KEY (contest_id, user_id, task_id),
       FOREIGN KEY (contest_id, task_id) REFERENCES contest_tasks (contest_id, task_id) ON DELETE CASCADE
     );

     -- The figures of one cell by the rules above, from its submissions (their contest, student and task index).
     CREATE FUNCTION contest_cell_standing(contest uuid, student uuid, task uuid, deadline timestamptz)
       RETURNS TABLE (attempts integer, solved boolean, best_verdict text, best_passed_tests integer)
       LANGUAGE sql STABLE AS $$
       SELECT counted.attempts, counted.solved, best.verdict, coalesce(best.passed_tests, 0)
         FROM (SELECT count(*)::int AS attempts, coalesce(bool_or(s.verdict = 'accepted'), false) AS solved
                 FROM submissions s
                WHERE s.contest_id = contest AND s.user_id = student AND s.task_id = task
                  AND s.rejected_at IS NULL AND s.created_at <= deadline) AS counted
         LEFT JOIN LATERAL (
           SELECT s.verdict, s.passed_tests FROM submissions s
            WHERE s.contest_id = contest AND s.user_id = student AND s.task_id = task
              AND s.rejected_at IS NULL AND s.created_at <= deadline AND s.verdict IS NOT NULL
            ORDER BY s.verdict = 'accepted' DESC, s.passed_tests DESC, s.seq
            LIMIT 1) AS best ON TRUE
     $$;

     CREATE FUNCTION contest_standing_refresh(contest uuid, student uuid, task uuid) RETURNS void
       LANGUAGE plpgsql AS $$
     DECLARE
       contest_deadline timestamptz;
     BEGIN
       SELECT c.deadline INTO contest_deadline FROM contests c WHERE c.id = contest FOR SHARE;
       IF NOT FOUND THEN
         RETURN;
       END IF;
       -- The cell's row lock (making the cell at its first submission): the statements below start once
       -- any other writer of the cell has committed, so they see its submissions.
       INSERT INTO contest_standings (contest_id, user_id, task_id, attempts, solved, best_passed_tests)
       VALUES (contest, student, task, 0, false, 0)
       ON CONFLICT (contest_id, user_id, task_id) DO UPDATE SET attempts = contest_standings.attempts;
       DELETE FROM contest_standings cs
        WHERE cs.contest_id = contest AND cs.user_id = student AND cs.task_id = task
          AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.contest_id = contest AND s.user_id = student AND s.task_id = task);
       UPDATE contest_standings cs
          SET (attempts, solved, best_verdict, best_passed_tests) =
              (SELECT * FROM contest_cell_standing(contest, student, task, contest_deadline))
        WHERE cs.contest_id = contest AND cs.user_id = student AND cs.task_id = task;
     END $$;

     CREATE FUNCTION submissions_refresh_standing() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_OP <> 'INSERT' AND OLD.contest_id IS NOT NULL THEN
         PERFORM contest_standing_refresh(OLD.contest_id, OLD.user_id, OLD.task_id);
       END IF;
       IF TG_OP <> 'DELETE' AND NEW.contest_id IS NOT NULL AND (TG_OP = 'INSERT'
           OR (NEW.contest_id, NEW.user_id, NEW.task_id) IS DISTINCT FROM (OLD.contest_id, OLD.user_id, OLD.task_id)) THEN
         PERFORM contest_standing_refresh(NEW.contest_id, NEW.user_id, NEW.task_id);
       END IF;
       RETURN NULL;
     END $$;
     CREATE TRIGGER submissions_refresh_standing_insert AFTER INSERT ON submissions
       FOR EACH ROW WHEN (NEW.contest_id IS NOT NULL) EXECUTE FUNCTION submissions_refresh_standing();
     CREATE TRIGGER submissions_refresh_standing_delete AFTER DELETE ON submissions
       FOR EACH ROW WHEN (OLD.contest_id IS NOT NULL) EXECUTE FUNCTION submissions_refresh_standing();
     -- Only what the figures read: claiming, leases and progress leave the cell alone.
     CREATE TRIGGER submissions_refresh_standing_update
       AFTER UPDATE OF contest_id, user_id, task_id, created_at, verdict, passed_tests, rejected_at ON submissions
       FOR EACH ROW
       WHEN ((OLD.contest_id IS NOT NULL OR NEW.contest_id IS NOT NULL)
             AND (OLD.contest_id, OLD.user_id, OLD.task_id, OLD.created_at, OLD.verdict, OLD.passed_tests, OLD.rejected_at)
                 IS DISTINCT FROM
                 (NEW.contest_id, NEW.user_id, NEW.task_id, NEW.created_at, NEW.verdict, NEW.passed_tests, NEW.rejected_at))
       EXECUTE FUNCTION submissions_refresh_standing();

     -- Runs holding the contest's row, which every cell writer share-locks first: none is under way.
     CREATE FUNCTION contests_refresh_standings() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       UPDATE contest_standings cs
          SET (attempts, solved, best_verdict, best_passed_tests) =
              (SELECT * FROM contest_cell_standing(cs.contest_id, cs.user_id, cs.task_id, NEW.deadline))
        WHERE cs.contest_id = NEW.id;
       RETURN NULL;
     END $$;
     CREATE TRIGGER contests_refresh_standings AFTER UPDATE OF deadline ON contests
       FOR EACH ROW WHEN (OLD.deadline IS DISTINCT FROM NEW.deadline) EXECUTE FUNCTION contests_refresh_standings();

     INSERT INTO contest_standings (contest_id, user_id, task_id, attempts, solved, best_verdict, best_passed_tests)
     SELECT cells.contest_id, cells.user_id, cells.task_id, standing.*
       FROM (SELECT DISTINCT contest_id, user_id, task_id FROM submissions WHERE contest_id IS NOT NULL) AS cells
       JOIN contests c ON c.id = cells.contest_id
       CROSS JOIN LATERAL contest_cell_standing(cells.contest_id, cells.user_id, cells.task_id, c.deadline) AS standing;`,
  );
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `DROP TRIGGER contests_refresh_standings ON contests;
     DROP FUNCTION contests_refresh_standings();
     DROP TRIGGER submissions_refresh_standing_update ON submissions;
     DROP TRIGGER submissions_refresh_standing_delete ON submissions;
     DROP TRIGGER submissions_refresh_standing_insert ON submissions;
     DROP FUNCTION submissions_refresh_standing();
     DROP FUNCTION contest_standing_refresh(uuid, uuid, uuid);
     DROP FUNCTION contest_cell_standing(uuid, uuid, uuid, timestamptz);
     DROP TABLE contest_standings;`,
  );
}
