import { z } from "zod";
import {
  AchievementStatus,
  achievementStatusToJSON,
  AchievementSubmission,
  ModerateAchievementRequest,
  ModerationDecision,
} from "../../../generated/shtp/v1/achievements.js";
import { chosenEnum, enumNames, requiredText, trimmedText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { requestBody } from "../../validation/rules.js";

export const AchievementSubmitBody = requestBody(AchievementSubmission, {
  kind: chosenEnum("Choose a kind."),
  title: requiredText(200),
  description: trimmedText(5000),
});

export const AchievementListQuerySchema = z.strictObject({
  ...pageQuery,
  status: z.enum(enumNames(AchievementStatus, achievementStatusToJSON)).optional(),
});

export const AchievementPageQuerySchema = z.strictObject(pageQuery);

export const AchievementIdParamsSchema = z.strictObject({ id: uuidField("achievement") });

export const UserAchievementsParamsSchema = z.strictObject({ id: uuidField("user") });

export const ModerateAchievementBody = requestBody(
  ModerateAchievementRequest,
  {
    decision: chosenEnum("Choose ACCEPT or REJECT."),
    comment: trimmedText(2000),
  },
  (request, report) => {
    if (request.decision === ModerationDecision.ACCEPT && (request.points < 1 || request.points > 1000)) {
      report("points", "Accepting takes 1 to 1000 points.");
    }
    if (request.decision === ModerationDecision.REJECT) {
      if (request.points !== 0) report("points", "A rejection grants no points.");
      if (request.comment === "") report("comment", "Say why it is rejected.");
    }
  },
);
