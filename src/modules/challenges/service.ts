import type { Actor } from "../../auth/roles.js";
import { isStaff } from "../../auth/roles.js";
import type { Db, TransactionDb } from "../../db/db.js";
import { ConflictError, NotFoundError } from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertTasksExist, taskSummaries, taskWithDemoTests, type TaskWithTests } from "../tasks/service.js";
import { authorize } from "./policy.js";
import {
  challengeHasSubmissions,
  challengesPage,
  deleteChallengeRow,
  findChallenge,
  leaderboardRows,
  todayIn,
  todaysChallenge,
  upsertChallenge,
  type ChallengeRow,
  type LeaderboardRow,
} from "./queries.js";
import { dayCursor, type DayChallengeListQuery } from "./schema.js";

export type { ChallengeRow, LeaderboardRow } from "./queries.js";

/** A day challenge with its task (its demo tests for a single read, none in lists). */
export interface ChallengeWithTask {
  challenge: ChallengeRow;
  task: TaskWithTests;
}

/** @returns today's date (YYYY-MM-DD) in the school's time zone */
export const schoolToday = (db: Db, zone: string): Promise<string> => todayIn(db, zone);

/** A challenge's task, which its foreign key keeps in place. */
async function withTask(db: Db, challenge: ChallengeRow): Promise<ChallengeWithTask> {
  const task = await taskWithDemoTests(db, challenge.taskId);
  if (!task) throw new Error(`The task of ${challenge.day} is missing.`);
  return { challenge, task };
}

/**
 * A day's challenge as the caller may see it.
 * @throws AppError not_found (no challenge that day, or a day that has not come, for non-staff)
 */
async function visibleChallenge(db: Db, actor: Actor | undefined, day: string, zone: string): Promise<ChallengeRow> {
  const challenge = await findChallenge(db, day, zone);
  if (!challenge) throw NotFoundError("The day challenge");
  authorize(actor, "read", challenge);
  return challenge;
}

/**
 * Today's challenge in the school's time zone, with its task's demo tests (anyone, signed in or not).
 * @throws AppError not_found when today has none
 */
export async function getCurrentChallenge(db: Db, zone: string): Promise<ChallengeWithTask> {
  const challenge = await todaysChallenge(db, zone);
  if (!challenge) throw NotFoundError("Today's challenge");
  return withTask(db, challenge);
}

/**
 * Day challenges, newest day first, with their tasks (without tests): staff every day, anyone else
 * today's and earlier ones.
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listChallenges(
  db: Db,
  actor: Actor,
  query: DayChallengeListQuery,
  zone: string,
): Promise<{ items: ChallengeWithTask[]; nextCursor: string }> {
  const before = query.cursor ? decodeCursor(query.cursor, dayCursor)[0] : undefined;
  const rows = await challengesPage(db, zone, { upToToday: !isStaff(actor) }, before, query.limit + 1);
  const page = pageOf(rows, query.limit, (row) => [row.day]);
  const tasks = await taskSummaries(
    db,
    page.items.map((row) => row.taskId),
  );
  return {
    items: page.items.flatMap((challenge) => {
      const task = tasks.get(challenge.taskId);
      return task ? [{ challenge, task }] : [];
    }),
    nextCursor: page.nextCursor,
  };
}

/**
 * Sets the task of a day (staff), past, present or future. A day whose challenge already has
 * solutions keeps its task: changing it would orphan them (409; the database refuses it too).
 * @throws AppError failed_precondition (unknown task), conflict
 */
export async function setChallenge(
  db: TransactionDb,
  actor: Actor,
  day: string,
  taskId: string,
  zone: string,
): Promise<ChallengeWithTask> {
  await assertTasksExist(db, [{ id: taskId, field: "taskId" }]);
  const existing = await findChallenge(db, day, zone, { lock: true });
  if (existing && existing.taskId.toLowerCase() !== taskId.toLowerCase() && (await challengeHasSubmissions(db, day))) {
    throw ConflictError(`Solutions were sent to the challenge of ${day}; its task cannot change.`);
  }
  await upsertChallenge(db, day, taskId, actor.id);
  const saved = await findChallenge(db, day, zone);
  if (!saved) throw new Error("The challenge just written is missing.");
  return withTask(db, saved);
}

/**
 * Removes a day's challenge (staff), unless solutions were sent to it.
 * @throws AppError not_found, conflict
 */
export async function deleteChallenge(db: TransactionDb, day: string, zone: string): Promise<void> {
  const existing = await findChallenge(db, day, zone, { lock: true });
  if (!existing) throw NotFoundError("The day challenge");
  if (await challengeHasSubmissions(db, day)) {
    throw ConflictError(`Solutions were sent to the challenge of ${day}; it cannot be removed.`);
  }
  await deleteChallengeRow(db, day);
}

/**
 * A day's leaderboard (anyone, for a day that has come; staff any day): each user once, by their
 * first accepted, not rejected submission, earliest first.
 * @throws AppError not_found
 */
export async function getLeaderboard(
  db: Db,
  actor: Actor | undefined,
  day: string,
  limit: number,
  zone: string,
): Promise<{ challenge: ChallengeRow; entries: LeaderboardRow[] }> {
  const challenge = await visibleChallenge(db, actor, day, zone);
  return { challenge, entries: await leaderboardRows(db, day, limit) };
}

/**
 * A day's challenge for a solution sent to it: one the caller may see.
 * @throws AppError not_found
 */
export async function challengeForSubmission(
  db: Db,
  actor: Actor,
  day: string,
  zone: string,
): Promise<{ taskId: string; isToday: boolean }> {
  const challenge = await visibleChallenge(db, actor, day, zone);
  return { taskId: challenge.taskId, isToday: challenge.isToday };
}
