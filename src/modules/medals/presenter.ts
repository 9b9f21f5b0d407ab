import { Medal, type MedalAward } from "../../../generated/shtp/v1/medals.js";
import type { MedalName } from "./catalogue.js";
import type { MedalAwardRow } from "./queries.js";

const protoMedals: Record<MedalName, Medal> = {
  first_achievement: Medal.FIRST_ACHIEVEMENT,
  rating_100: Medal.RATING_100,
  rating_1000: Medal.RATING_1000,
  ten_achievements: Medal.TEN_ACHIEVEMENTS,
  five_events: Medal.FIVE_EVENTS,
};

/** @returns the proto value of a stored medal name */
export const presentMedal = (name: MedalName): Medal => protoMedals[name];

/**
 * The medals a user holds, as profiles and `/auth/me` show them.
 * @param rows - from medalsOf
 */
export const presentMedalAwards = (rows: readonly MedalAwardRow[]): MedalAward[] =>
  rows.map((row) => ({ medal: presentMedal(row.medal), awardedAt: row.awardedAt }));
