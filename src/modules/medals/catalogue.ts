import { Medal, type MedalAward } from "../../../generated/shtp/v1/medals.js";

/**
 * The medal catalogue: each medal's stored name, its proto value and the rule that earns it, written
 * over the counters on the user row (`u`), which the earning transactions keep up to date.
 */
export const medalCatalogue = {
  first_achievement: { medal: Medal.FIRST_ACHIEVEMENT, earnedWhen: "u.accepted_achievements >= 1" },
  rating_100: { medal: Medal.RATING_100, earnedWhen: "u.rating >= 100" },
  rating_1000: { medal: Medal.RATING_1000, earnedWhen: "u.rating >= 1000" },
  ten_achievements: { medal: Medal.TEN_ACHIEVEMENTS, earnedWhen: "u.accepted_achievements >= 10" },
  five_events: { medal: Medal.FIVE_EVENTS, earnedWhen: "u.events_attended >= 5" },
} as const;

export type MedalName = keyof typeof medalCatalogue;

export const medalNames = Object.keys(medalCatalogue) as MedalName[];

/** @returns the proto value of a stored medal name */
export const medalOf = (name: MedalName): Medal => medalCatalogue[name].medal;

/**
 * The medals a user holds, as profiles and `/auth/me` show them.
 * @param rows - from medalsOf
 */
export const presentMedalAwards = (rows: readonly { medal: MedalName; awardedAt: Date }[]): MedalAward[] =>
  rows.map((row) => ({ medal: medalOf(row.medal), awardedAt: row.awardedAt }));
