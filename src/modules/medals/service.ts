import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { Db } from "../../db/db.js";
import { notifyRecipients } from "../notifications/service.js";
import { medalCatalogue, medalNames, type MedalName } from "./catalogue.js";
import { medalAwardsOf, type MedalAwardRow } from "./queries.js";

export type { MedalAwardRow } from "./queries.js";

const earnedRules = medalNames
  .map((name) => `('${name}', ${medalCatalogue[name].earnedWhen})`)
  .join(",\n                 ");

/**
 * Awards every medal the given users have now earned and do not hold yet, with one `MEDAL_AWARDED`
 * notification each, in the caller's transaction (the one that changed their counters). The insert
 * skips held medals by the primary key, so concurrent transactions cannot award a medal twice.
 * Statements: one, plus one per distinct medal awarded (at most the size of the catalogue).
 * @param userIds - whose counters just changed
 * @returns the medals awarded, per user
 */
export async function awardEarnedMedals(
  sequelize: Sequelize,
  userIds: readonly string[],
  transaction: Transaction,
): Promise<{ userId: string; medal: MedalName }[]> {
  if (userIds.length === 0) return [];
  const awarded = await sequelize.query<{ userId: string; medal: MedalName }>(
    `INSERT INTO user_medals (user_id, medal)
     SELECT u.id, rule.medal
       FROM users u
      CROSS JOIN LATERAL (VALUES ${earnedRules}) AS rule (medal, earned)
      WHERE u.id = ANY(ARRAY[:userIds]::uuid[]) AND rule.earned
     ON CONFLICT DO NOTHING
     RETURNING user_id AS "userId", medal`,
    { replacements: { userIds: [...userIds] }, type: QueryTypes.SELECT, transaction },
  );
  const recipientsByMedal = new Map<MedalName, string[]>();
  for (const { userId, medal } of awarded) {
    recipientsByMedal.set(medal, [...(recipientsByMedal.get(medal) ?? []), userId]);
  }
  for (const [medal, recipients] of recipientsByMedal) {
    await notifyRecipients(
      sequelize,
      { type: "medal_awarded", payload: { medal } },
      { sql: "SELECT unnest(ARRAY[:recipients]::uuid[]) AS user_id", replacements: { recipients } },
      transaction,
    );
  }
  return awarded;
}

/**
 * The medals a user holds, in the order they were awarded.
 * @param userId - whose
 */
export const medalsOf = (db: Db, userId: string): Promise<MedalAwardRow[]> => medalAwardsOf(db, userId);
