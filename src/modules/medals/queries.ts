import { select, type Db } from "../../db/db.js";
import type { MedalName } from "./catalogue.js";

/** One medal a user holds. */
export interface MedalAwardRow {
  medal: MedalName;
  awardedAt: Date;
}

/**
 * The medals a user holds, in the order they were awarded.
 * @param userId - whose
 */
export const medalAwardsOf = (db: Db, userId: string): Promise<MedalAwardRow[]> =>
  select<MedalAwardRow>(
    db,
    `SELECT medal, awarded_at AS "awardedAt" FROM user_medals WHERE user_id = :userId ORDER BY awarded_at, medal`,
    { userId },
  );
