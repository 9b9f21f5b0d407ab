import { z } from "zod";
import { SetDayChallengeRequest } from "../../../generated/shtp/v1/assignments.js";
import { uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { requestBody } from "../../validation/rules.js";

/** A calendar date, YYYY-MM-DD (a real one: 2026-02-30 is refused). */
export const dayField = z.iso.date("A date, YYYY-MM-DD.");

export const SetDayChallengeBody = requestBody(SetDayChallengeRequest, { taskId: uuidField("task") });

export const DayParamsSchema = z.strictObject({ day: dayField });

export const DayChallengeListQuerySchema = z.strictObject({ ...pageQuery });
export type DayChallengeListQuery = z.infer<typeof DayChallengeListQuerySchema>;

export const LeaderboardQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** The keyset position of the list of days: the day. */
export const dayCursor = z.tuple([dayField]);
