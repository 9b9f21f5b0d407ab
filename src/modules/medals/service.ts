import type { Db, TransactionDb } from "../../db/db.js";
import { notify } from "../notifications/service.js";
import type { MedalName } from "./catalogue.js";
import { insertEarnedMedals, medalAwardsOf, type MedalAwardRow } from "./queries.js";

export type { MedalAwardRow } from "./queries.js";

/**
 * Awards every medal the given users have now earned and do not hold yet, with one `MEDAL_AWARDED`
 * notification each, in the caller's transaction (the one that changed their counters), so a medal
 * and its notification commit or roll back with what earned them.
 * Statements: one, plus one per distinct medal awarded (at most the size of the catalogue).
 * @param userIds - whose counters just changed
 * @returns the medals awarded, per user
 */
export async function awardEarnedMedals(
  db: TransactionDb,
  userIds: readonly string[],
): Promise<{ userId: string; medal: MedalName }[]> {
  if (userIds.length === 0) return [];
  const awarded = await insertEarnedMedals(db, userIds);
  const recipientsByMedal = new Map<MedalName, string[]>();
  for (const { userId, medal } of awarded) {
    recipientsByMedal.set(medal, [...(recipientsByMedal.get(medal) ?? []), userId]);
  }
  for (const [medal, holders] of recipientsByMedal) {
    await notify(db, { kind: "users", userIds: holders }, { type: "medal_awarded", payload: { medal } });
  }
  return awarded;
}

/**
 * The medals a user holds, in the order they were awarded.
 * @param userId - whose
 */
export const medalsOf = (db: Db, userId: string): Promise<MedalAwardRow[]> => medalAwardsOf(db, userId);
