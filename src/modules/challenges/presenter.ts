import type { DayChallenge, DayChallengeLeaderboard } from "../../../generated/shtp/v1/assignments.js";
import { presentTask } from "../tasks/presenter.js";
import { presentUserSummary } from "../users/presenter.js";
import type { ChallengeRow, ChallengeWithTask, LeaderboardRow } from "./service.js";

/**
 * A day challenge with its task as loaded (demo tests at most: a challenge never carries hidden ones).
 * @param item - the challenge and its task
 */
export const presentChallenge = (item: ChallengeWithTask): DayChallenge => ({
  day: item.challenge.day,
  task: presentTask(item.task),
  setById: item.challenge.setBy ?? "",
  updatedAt: item.challenge.updatedAt,
});

/** @returns a day's leaderboard */
export const presentLeaderboard = (challenge: ChallengeRow, entries: LeaderboardRow[]): DayChallengeLeaderboard => ({
  day: challenge.day,
  taskId: challenge.taskId,
  items: entries.map((entry) => ({
    rank: entry.rank,
    user: presentUserSummary(entry),
    submissionId: entry.submissionId,
    submittedAt: entry.submittedAt,
  })),
});
