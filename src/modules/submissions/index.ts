import { SubmissionProgress } from "../../../generated/shtp/v1/assignments.js";
import type { Module } from "../module.js";
import { presentProgress } from "./presenter.js";
import { submissionRoutes } from "./routes.js";
import { parseProgress, PROGRESS_CHANNEL } from "./service.js";

/** Solutions sent for judging, their queue hand-off, results, rejections and the judge's fenced API. */
export const submissionsModule: Module = {
  name: "submissions",
  routes: submissionRoutes,
  // Judging progress reaches the submitter's notification stream on every server process.
  liveEvents: [
    {
      channel: PROGRESS_CHANNEL,
      codec: SubmissionProgress,
      parse(payload) {
        const parsed = parseProgress(payload);
        return parsed ? { userId: parsed.userId, message: presentProgress(parsed.progress) } : undefined;
      },
    },
  ],
};
