import { z } from "zod";
import {
  AchievementKind,
  achievementKindToJSON,
  AchievementStatus,
  achievementStatusToJSON,
  ModerationDecision,
  moderationDecisionToJSON,
} from "../../../generated/shtp/v1/achievements.js";
import { pageQuery } from "../../validation/paging.js";
import { enumNames, protoEnum, protoInt32, protoRequest, protoString } from "../../validation/protojson.js";

export const AchievementSubmitSchema = protoRequest({
  kind: protoEnum(enumNames(AchievementKind, achievementKindToJSON), "ACHIEVEMENT_KIND_UNSPECIFIED"),
  title: protoString(z.string().trim().min(1, "Required.").max(200)),
  description: protoString(z.string().trim().max(5000)),
});

export const AchievementListQuerySchema = z.strictObject({
  ...pageQuery,
  status: z.enum(enumNames(AchievementStatus, achievementStatusToJSON)).optional(),
});

export const AchievementPageQuerySchema = z.strictObject(pageQuery);

export const AchievementIdParamsSchema = z.strictObject({ id: z.uuid("An achievement id.") });

export const UserAchievementsParamsSchema = z.strictObject({ id: z.uuid("A user id.") });

export const ModerateAchievementSchema = protoRequest({
  decision: protoEnum(enumNames(ModerationDecision, moderationDecisionToJSON), "MODERATION_DECISION_UNSPECIFIED"),
  points: protoInt32(),
  comment: protoString(z.string().trim().max(2000)),
}).superRefine((value, context) => {
  if (value.decision === "MODERATION_DECISION_ACCEPT" && (value.points < 1 || value.points > 1000)) {
    context.addIssue({ code: "custom", path: ["points"], message: "Accepting takes 1 to 1000 points." });
  }
  if (value.decision === "MODERATION_DECISION_REJECT") {
    if (value.points !== 0) {
      context.addIssue({ code: "custom", path: ["points"], message: "A rejection grants no points." });
    }
    if (value.comment === "") {
      context.addIssue({ code: "custom", path: ["comment"], message: "Say why it is rejected." });
    }
  }
});
