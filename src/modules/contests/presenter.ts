import type { Contest, ContestResult } from "../../../generated/shtp/v1/assignments.js";
import { presentVerdict } from "../submissions/presenter.js";
import { presentUserSummary } from "../users/presenter.js";
import type { ContestRow, ResultRow } from "./service.js";

/**
 * A contest as the caller sees it; `solvedCount` and `mark` are the caller's own (a student's), 0
 * for staff.
 * @param row - from a read or a list
 */
export const presentContest = (row: ContestRow): Contest => ({
  id: row.id,
  title: row.title,
  description: row.description,
  startsAt: row.startsAt,
  deadline: row.deadline,
  audience: { groupIds: row.audienceGroupIds, learningClasses: row.audienceClasses },
  tasks: row.tasks.map((task) => ({ taskId: task.taskId, title: task.title })),
  marks: { mark5: row.mark5, mark4: row.mark4, mark3: row.mark3 },
  authorId: row.authorId ?? "",
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
  solvedCount: row.solvedCount ?? 0,
  mark: row.mark ?? 0,
});

/** @returns one student's row of a contest's results */
export const presentResult = (row: ResultRow): ContestResult => ({
  user: presentUserSummary(row),
  solvedCount: row.solvedCount,
  mark: row.mark,
  tasks: row.tasks.map((task) => ({
    taskId: task.taskId,
    attempts: task.attempts,
    bestVerdict: presentVerdict(task.bestVerdict),
    bestPassedTests: task.bestPassedTests,
    solved: task.solved,
  })),
});
