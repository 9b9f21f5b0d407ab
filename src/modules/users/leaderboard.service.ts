import type { Db } from "../../db/db.js";
import { topStudents, type LeaderboardRow } from "./queries.js";

export type { LeaderboardRow } from "./queries.js";

/**
 * The top students by rating; equal ratings share a rank. Staff are not ranked.
 * @param limit - 1..100
 */
export const leaderboard = (db: Db, limit: number): Promise<LeaderboardRow[]> => topStudents(db, limit);
