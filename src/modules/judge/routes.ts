import { JudgeStatus } from "../../../generated/shtp/v1/assignments.js";
import { defineRoute } from "../../http/route.js";
import { presentJudgeStatus } from "./presenter.js";
import * as judgeService from "./service.js";

export const getJudgeStatus = defineRoute({
  name: "getJudgeStatus",
  method: "get",
  path: "/judge/status",
  summary: "The judging queue and its workers: depth by status, the oldest queued submission, live workers.",
  description:
    "QUEUED, JUDGING and FAILED submissions counted by status, when the oldest queued one was sent, the queue's " +
    "waiting and active jobs, and every worker heard from in the last ten minutes with its slots, runtimes and " +
    "last heartbeat. With no worker running, submissions wait here as QUEUED.",
  access: ["admin"],
  response: JudgeStatus,
  handler: async ({ db }) => presentJudgeStatus(await judgeService.judgeStatus(db)),
});

export const judgeRoutes = [getJudgeStatus];
