import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { TransactionDb } from "../../db/db.js";
import { notifyRecipients, unreadCountSql } from "../notifications/service.js";
import { medalCatalogue, medalNames, type MedalName } from "./catalogue.js";

/** The order medals are listed in: as they were awarded. */
const awardOrder = "awarded_at, medal";

/** One medal a user holds. */
export interface MedalAwardRow {
  medal: MedalName;
  awardedAt: Date;
}

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
  db: TransactionDb,
  userIds: readonly string[],
): Promise<{ userId: string; medal: MedalName }[]> {
  if (userIds.length === 0) return [];
  const { sequelize, transaction } = db;
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
export async function medalsOf(
  sequelize: Sequelize,
  userId: string,
  transaction?: Transaction,
): Promise<MedalAwardRow[]> {
  return sequelize.query<MedalAwardRow>(
    `SELECT medal, awarded_at AS "awardedAt" FROM user_medals WHERE user_id = :userId ORDER BY ${awardOrder}`,
    { replacements: { userId }, type: QueryTypes.SELECT, transaction },
  );
}

/**
 * What `/auth/me` shows beside the user row: the unread count (from the partial unread index) and the
 * medals, read together in one statement.
 * @param userId - whose
 */
export async function unreadAndMedalsOf(
  sequelize: Sequelize,
  userId: string,
): Promise<{ unread: number; medals: MedalAwardRow[] }> {
  const [row] = await sequelize.query<{ unread: number; medals: { medal: MedalName; awardedAt: string }[] }>(
    `SELECT (${unreadCountSql}) AS unread,
            (SELECT coalesce(json_agg(json_build_object('medal', medal, 'awardedAt', awarded_at)
                                      ORDER BY ${awardOrder}), '[]'::json)
               FROM user_medals WHERE user_id = :userId) AS medals`,
    { replacements: { userId }, type: QueryTypes.SELECT },
  );
  return {
    unread: row?.unread ?? 0,
    medals: (row?.medals ?? []).map((award) => ({ medal: award.medal, awardedAt: new Date(award.awardedAt) })),
  };
}
