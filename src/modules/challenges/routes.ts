import {
  DayChallenge,
  DayChallengeLeaderboard,
  ListDayChallengesResponse,
} from "../../../generated/shtp/v1/assignments.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import { presentChallenge, presentLeaderboard } from "./presenter.js";
import { DayChallengeListQuerySchema, DayParamsSchema, LeaderboardQuerySchema, SetDayChallengeBody } from "./schema.js";
import * as challengeService from "./service.js";

const days =
  "A `day` is a date (YYYY-MM-DD) in the school's time zone (SCHOOL_TIME_ZONE). Staff see every day; anyone " +
  "else only today's and earlier ones: a day that has not come answers 404, as a day without a challenge.";

export const listDayChallenges = defineRoute({
  name: "listDayChallenges",
  method: "get",
  path: "/day-challenges",
  summary: "Day challenges, newest day first, with their tasks (without tests); keyset-paged.",
  description: days,
  access: "signedIn",
  query: DayChallengeListQuerySchema,
  response: ListDayChallengesResponse,
  handler: async ({ query, actor, db, services }) => {
    const page = await challengeService.listChallenges(db, actor, query, services.config.assignments.schoolTimeZone);
    return { items: page.items.map(presentChallenge), nextCursor: page.nextCursor };
  },
});

export const getCurrentDayChallenge = defineRoute({
  name: "getCurrentDayChallenge",
  method: "get",
  path: "/day-challenges/current",
  summary: "Today's challenge with its task and demo tests; 404 when today has none.",
  description: "Anyone may read it, signed in or not. Hidden tests are never part of it.",
  access: "public",
  response: DayChallenge,
  errors: ["not_found"],
  handler: async ({ db, services }) =>
    presentChallenge(await challengeService.getCurrentChallenge(db, services.config.assignments.schoolTimeZone)),
});

export const setDayChallenge = defineRoute({
  name: "setDayChallenge",
  method: "put",
  path: "/day-challenges/:day",
  summary: "Sets the task of a day (one task per day; replaces the one it had).",
  description: `${days} An unknown task is 422 on \`taskId\`. A day whose challenge already has solutions keeps its task (409).`,
  access: staff,
  params: DayParamsSchema,
  body: SetDayChallengeBody,
  response: DayChallenge,
  errors: ["failed_precondition", "conflict"],
  handler: async ({ params, body, actor, db, services }) =>
    presentChallenge(
      await challengeService.setChallenge(
        db,
        actor,
        params.day,
        body.taskId,
        services.config.assignments.schoolTimeZone,
      ),
    ),
});

export const deleteDayChallenge = defineRoute({
  name: "deleteDayChallenge",
  method: "delete",
  path: "/day-challenges/:day",
  summary: "Removes a day's challenge; 409 once solutions were sent to it.",
  access: staff,
  params: DayParamsSchema,
  errors: ["not_found", "conflict"],
  handler: async ({ params, db, services }) =>
    challengeService.deleteChallenge(db, params.day, services.config.assignments.schoolTimeZone),
});

export const getDayChallengeLeaderboard = defineRoute({
  name: "getDayChallengeLeaderboard",
  method: "get",
  path: "/day-challenges/:day/leaderboard",
  summary: "Who solved a day's challenge: each user once, by their first accepted submission, earliest first.",
  description:
    `${days} Rejected submissions never count. Users are deduplicated before \`limit\` (1..100, default 20) ` +
    "applies, so the list holds `limit` different users when that many solved it.",
  access: "public",
  params: DayParamsSchema,
  query: LeaderboardQuerySchema,
  response: DayChallengeLeaderboard,
  errors: ["not_found"],
  handler: async ({ params, query, actor, db, services }) => {
    const board = await challengeService.getLeaderboard(
      db,
      actor,
      params.day,
      query.limit,
      services.config.assignments.schoolTimeZone,
    );
    return presentLeaderboard(board.challenge, board.entries);
  },
});

export const challengeRoutes = [
  listDayChallenges,
  getCurrentDayChallenge,
  setDayChallenge,
  deleteDayChallenge,
  getDayChallengeLeaderboard,
];
