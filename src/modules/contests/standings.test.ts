import assert from "node:assert/strict";
import { execute, select, type Db } from "../../db/db.js";
import { buildContest, buildSubmission, buildTask } from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { integerSource } from "../../testing/random.js";
import { untilWaitingForLock } from "../../testing/wait.js";
import type { VerdictName } from "../submissions/service.js";

const database = (): Db => ({ sequelize: testDatabase().database.sequelize });
const MINUTE = 60_000;

/**
 * The cells of contest_standings that differ from the submissions (none, when the triggers hold). The
 * expected figures are aggregated here independently of the migration's function: attempts and solved
 * over the submissions sent by the deadline and not rejected, the best of them by (accepted, most tests
 * passed, sent first), and a cell wherever the student has any submission to the task.
 */
async function mismatches(contestId: string): Promise<object[]> {
  return select(
    database(),
    `WITH expected AS (
       SELECT s.user_id, s.task_id,
              (count(*) FILTER (WHERE s.rejected_at IS NULL AND s.created_at <= c.deadline))::int AS attempts,
              coalesce(bool_or(s.verdict = 'accepted') FILTER (WHERE s.rejected_at IS NULL AND s.created_at <= c.deadline),
                       false) AS solved,
              (array_agg(s.verdict ORDER BY s.verdict = 'accepted' DESC, s.passed_tests DESC, s.seq)
                 FILTER (WHERE s.rejected_at IS NULL AND s.created_at <= c.deadline AND s.verdict IS NOT NULL))[1]
                AS best_verdict,
              coalesce((array_agg(s.passed_tests ORDER BY s.verdict = 'accepted' DESC, s.passed_tests DESC, s.seq)
                 FILTER (WHERE s.rejected_at IS NULL AND s.created_at <= c.deadline AND s.verdict IS NOT NULL))[1], 0)
                AS best_passed_tests
         FROM submissions s JOIN contests c ON c.id = s.contest_id
        WHERE s.contest_id = :contestId
        GROUP BY s.user_id, s.task_id
     ), kept AS (SELECT * FROM contest_standings WHERE contest_id = :contestId)
     SELECT coalesce(e.user_id, k.user_id)::text AS "userId", coalesce(e.task_id, k.task_id)::text AS "taskId",
            to_json(e) AS expected, to_json(k) AS kept
       FROM expected e FULL JOIN kept k ON k.user_id = e.user_id AND k.task_id = e.task_id
      WHERE k.user_id IS NULL OR e.user_id IS NULL
         OR (e.attempts, e.solved, e.best_verdict, e.best_passed_tests)
            IS DISTINCT FROM (k.attempts, k.solved, k.best_verdict, k.best_passed_tests)`,
    { contestId },
  );
}

const cellOf = async (contestId: string, userId: string, taskId: string) =>
  (
    await select<{ attempts: number; solved: boolean; bestVerdict: string | null }>(
      database(),
      `SELECT attempts, solved, best_verdict AS "bestVerdict" FROM contest_standings
        WHERE contest_id = :contestId AND user_id = :userId AND task_id = :taskId`,
      { contestId, userId, taskId },
    )
  )[0];

/** The judge's write of a verdict (finishRow's columns, without the lease). */
const judge = (db: Db, id: string, verdict: VerdictName, passedTests: number) =>
  execute(
    db,
    `UPDATE submissions SET status = 'finished', verdict = :verdict, passed_tests = :passedTests, tests_version = 1,
            failed_test = CASE WHEN :verdict IN ('accepted', 'compile_error') THEN NULL ELSE 1 END, finished_at = now()
      WHERE id = :id`,
    { id, verdict, passedTests },
  );

/**
 * Runs `hold` in a transaction left open until `concurrent` queues behind its locks (as a statement
 * starting with `waitingStatement`), then commits it.
 * @returns what `concurrent` gives once it got past them
 */
async function afterHeld<T>(
  hold: (db: Db) => Promise<unknown>,
  concurrent: () => Promise<T>,
  waitingStatement: string,
): Promise<T> {
  const { sequelize } = database();
  const transaction = await sequelize.transaction();
  try {
    await hold({ sequelize, transaction });
  } catch (error) {
    await transaction.rollback();
    throw error;
  }
  const running = concurrent();
  try {
    await untilWaitingForLock(waitingStatement);
  } finally {
    await transaction.commit();
  }
  return running;
}

describe("contest standings kept by the database (contest_standings)", () => {
  it("equal the submissions after random sends, verdicts, rejudges, rejections, deadline moves and a deletion", async () => {
    const tasks = [await buildTask(), await buildTask(), await buildTask()];
    const group = await buildGroup();
    const students = await Promise.all(Array.from({ length: 5 }, () => buildUser({ groupId: group.id })));
    const now = Date.now();
    const contestId = await buildContest({
      taskIds: tasks.map((task) => task.id),
      groupIds: [group.id],
      startsAt: new Date(now - 60 * MINUTE),
      deadline: new Date(now + 60 * MINUTE),
      marks: { mark5: 3, mark4: 2, mark3: 1 },
    });
    // A fixed seed: a failure replays the same operations.
    const draw = integerSource(20_261_205);
    const pick = <T>(items: readonly T[]): T => items[draw(items.length)] as T;
    const verdicts: VerdictName[] = ["accepted", "wrong_answer", "time_limit", "compile_error"];
    const sent: string[] = [];
    const done = new Map<string, number>();
    const operations: Record<string, () => Promise<unknown>> = {
      send: async () => {
        const verdict = draw(2) === 0 ? undefined : pick(verdicts);
        sent.push(
          await buildSubmission({
            userId: pick(students).id,
            taskId: pick(tasks).id,
            contestId,
            verdict,
            passedTests: draw(4),
            createdAt: new Date(now - 50 * MINUTE + draw(170) * MINUTE),
          }),
        );
      },
      judge: () => judge(database(), pick(sent), pick(verdicts), draw(4)),
      rejudge: () =>
        execute(
          database(),
          `UPDATE submissions SET status = 'queued', verdict = NULL, failed_test = NULL, passed_tests = 0,
                  tests_version = NULL, finished_at = NULL, judge_round = judge_round + 1
            WHERE id = :id`,
          { id: pick(sent) },
        ),
      reject: () =>
        execute(database(), "UPDATE submissions SET rejected_at = now(), rejection_reason = 'Copied.' WHERE id = :id", {
          id: pick(sent),
        }),
      restore: () =>
        execute(database(), "UPDATE submissions SET rejected_at = NULL, rejection_reason = NULL WHERE id = :id", {
          id: pick(sent),
        }),
      moveDeadline: () =>
        execute(database(), "UPDATE contests SET deadline = :deadline WHERE id = :id", {
          id: contestId,
          deadline: new Date(now + pick([-30, 10, 45, 150]) * MINUTE),
        }),
    };
    const names = Object.keys(operations);
    for (let step = 0; step < 160; step++) {
      const name = step < 10 ? "send" : (names[draw(names.length)] ?? "send");
      await operations[name]?.();
      done.set(name, (done.get(name) ?? 0) + 1);
      assert.deepEqual(await mismatches(contestId), [], `after step ${step}: ${name}`);
    }
    for (const name of names) assert.ok((done.get(name) ?? 0) >= 10, `${name} ran ${done.get(name)} times`);
    const [kinds] = await select<{ solved: number; unsolved: number; uncounted: number }>(
      database(),
      `SELECT count(*) FILTER (WHERE solved)::int AS solved, count(*) FILTER (WHERE NOT solved)::int AS unsolved,
              count(*) FILTER (WHERE attempts = 0)::int AS uncounted
         FROM contest_standings WHERE contest_id = :contestId`,
      { contestId },
    );
    assert.ok(kinds && kinds.solved > 0 && kinds.unsolved > 0, JSON.stringify(kinds));

    const [leaving] = students;
    assert.ok(leaving);
    await execute(database(), "DELETE FROM users WHERE id = :id", { id: leaving.id });
    assert.deepEqual(await mismatches(contestId), [], "after a student's deletion");
    const [left] = await select<{ cells: number }>(
      database(),
      "SELECT count(*)::int AS cells FROM contest_standings WHERE user_id = :id",
      { id: leaving.id },
    );
    assert.equal(left?.cells, 0);
  });

  it("a verdict waiting for another verdict of the same cell counts both, not only its own", async () => {
    const task = await buildTask();
    const student = await buildUser();
    const contestId = await buildContest({ taskIds: [task.id], marks: { mark5: 1, mark4: 1, mark3: 1 } });
    const first = await buildSubmission({ userId: student.id, taskId: task.id, contestId });
    const second = await buildSubmission({ userId: student.id, taskId: task.id, contestId });
    await afterHeld(
      (db) => judge(db, first, "accepted", 3),
      () => judge(database(), second, "wrong_answer", 1),
      "UPDATE submissions",
    );
    assert.deepEqual(await cellOf(contestId, student.id, task.id), {
      attempts: 2,
      solved: true,
      bestVerdict: "accepted",
    });
    assert.deepEqual(await mismatches(contestId), []);
  });

  it("a solution sent while another of its cell is judged, or judged while one is sent, counts both", async () => {
    const task = await buildTask();
    const student = await buildUser();
    const contestId = await buildContest({ taskIds: [task.id], marks: { mark5: 1, mark4: 1, mark3: 1 } });
    const send = () => buildSubmission({ userId: student.id, taskId: task.id, contestId });
    // The judged one holds the cell while the new one is sent (an addition to the cell as committed)...
    const first = await send();
    await afterHeld((db) => judge(db, first, "accepted", 3), send, "INSERT INTO submissions");
    assert.deepEqual(await cellOf(contestId, student.id, task.id), {
      attempts: 2,
      solved: true,
      bestVerdict: "accepted",
    });
    // ...and the sent one holds it while another is judged (a recomputation that must see it).
    const third = await send();
    await afterHeld(
      (db) => buildSubmission({ userId: student.id, taskId: task.id, contestId, transaction: db.transaction }),
      () => judge(database(), third, "wrong_answer", 1),
      "UPDATE submissions",
    );
    assert.deepEqual(await cellOf(contestId, student.id, task.id), {
      attempts: 4,
      solved: true,
      bestVerdict: "accepted",
    });
    assert.deepEqual(await mismatches(contestId), []);
  });

  for (const verdict of [undefined, "accepted"] as const) {
    it(`a solution sent ${verdict ? "judged" : "pending"} while the deadline moves counts against the deadline that commits`, async () => {
      const task = await buildTask();
      const student = await buildUser();
      const now = Date.now();
      const contestId = await buildContest({
        taskIds: [task.id],
        startsAt: new Date(now - 60 * MINUTE),
        deadline: new Date(now + 60 * MINUTE),
        marks: { mark5: 1, mark4: 1, mark3: 1 },
      });
      await afterHeld(
        (db) =>
          execute(db, "UPDATE contests SET deadline = :deadline WHERE id = :id", {
            id: contestId,
            deadline: new Date(now - 10 * MINUTE),
          }),
        () =>
          buildSubmission({
            userId: student.id,
            taskId: task.id,
            contestId,
            verdict,
            createdAt: new Date(now - 5 * MINUTE),
          }),
        "INSERT INTO submissions",
      );
      assert.deepEqual(await cellOf(contestId, student.id, task.id), { attempts: 0, solved: false, bestVerdict: null });
      assert.deepEqual(await mismatches(contestId), []);
    });
  }
});
