import { select, type Db, type TransactionDb } from "../../db/db.js";
import { medalCatalogue, medalNames, type MedalCounter, type MedalName } from "./catalogue.js";

/** One medal a user holds. */
export interface MedalAwardRow {
  medal: MedalName;
  awardedAt: Date;
}

/** The users column behind each counter a rule reads. */
const counterColumns: Record<MedalCounter, string> = {
  rating: "u.rating",
  acceptedAchievements: "u.accepted_achievements",
  eventsAttended: "u.events_attended",
};

/** The catalogue as a VALUES list of (medal, earned) over the user row `u`; built once, from constants only. */
const earnedRules = medalNames
  .map((name) => {
    const rule = medalCatalogue[name];
    return `('${name}', ${counterColumns[rule.counter]} >= ${rule.atLeast})`;
  })
  .join(",\n                 ");

/**
 * Inserts every medal the given users have now earned and do not hold yet, in one statement. The
 * insert skips held medals by the (user_id, medal) primary key, so concurrent transactions cannot
 * award a medal twice.
 * @param userIds - whose counters just changed
 * @returns the medals newly awarded, per user
 */
export function insertEarnedMedals(
  db: TransactionDb,
  userIds: readonly string[],
): Promise<{ userId: string; medal: MedalName }[]> {
  return select<{ userId: string; medal: MedalName }>(
    db,
    `INSERT INTO user_medals (user_id, medal)
     SELECT u.id, rule.medal
       FROM users u
      CROSS JOIN LATERAL (VALUES ${earnedRules}) AS rule (medal, earned)
      WHERE u.id = ANY(ARRAY[:userIds]::uuid[]) AND rule.earned
     ON CONFLICT DO NOTHING
     RETURNING user_id AS "userId", medal`,
    { userIds: [...userIds] },
  );
}

/** @returns the medals a user holds, in the order they were awarded */
export function medalAwardsOf(db: Db, userId: string): Promise<MedalAwardRow[]> {
  return select<MedalAwardRow>(
    db,
    `SELECT medal, awarded_at AS "awardedAt" FROM user_medals WHERE user_id = :userId ORDER BY awarded_at, medal`,
    { userId },
  );
}
