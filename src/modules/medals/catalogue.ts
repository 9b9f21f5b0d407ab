/** The counters on a user's row that the earning transactions keep up to date and medals are earned by. */
export type MedalCounter = "rating" | "acceptedAchievements" | "eventsAttended";

/** What earns a medal: a counter reaching a threshold. */
export interface MedalRule {
  counter: MedalCounter;
  atLeast: number;
}

/**
 * The medal catalogue: each medal's stored name and the rule that earns it. Rules read only counters
 * on the user row, so checking them costs one row whatever the size of the other tables.
 */
export const medalCatalogue = {
  first_achievement: { counter: "acceptedAchievements", atLeast: 1 },
  rating_100: { counter: "rating", atLeast: 100 },
  rating_1000: { counter: "rating", atLeast: 1000 },
  ten_achievements: { counter: "acceptedAchievements", atLeast: 10 },
  five_events: { counter: "eventsAttended", atLeast: 5 },
} as const satisfies Record<string, MedalRule>;

/** A medal's stored name. */
export type MedalName = keyof typeof medalCatalogue;

/** Every medal, in catalogue order. */
export const medalNames = Object.keys(medalCatalogue) as MedalName[];
