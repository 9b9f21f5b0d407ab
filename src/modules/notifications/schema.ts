import { z } from "zod";
import {
  bannerSeverityToJSON,
  BannerSeverity,
  messageSeverityToJSON,
  MessageSeverity,
} from "../../../generated/shtp/v1/notifications.js";
import { pageQuery } from "../../validation/paging.js";
import {
  enumNames,
  protoBool,
  protoEnum,
  protoOptional,
  protoRepeated,
  protoRequest,
  protoString,
  protoTimestamp,
} from "../../validation/protojson.js";

export const NotificationListQuerySchema = z.strictObject({
  ...pageQuery,
  unread: z
    .enum(["true", "false"])
    .optional()
    .transform((value) => value === "true"),
});

export const NotificationStreamQuerySchema = z.strictObject({
  /** `protobuf` sends each event's data as base64 of a serialized shtp.v1.Notification. */
  encoding: z.enum(["json", "protobuf"]).default("json"),
});

export const NotificationMarkReadSchema = protoRequest({
  ids: protoRepeated(z.uuid("A notification id."), { max: 1000 }),
  all: protoBool(),
}).superRefine((value, context) => {
  if (value.ids.length > 0 === value.all) {
    context.addIssue({ code: "custom", path: ["ids"], message: "Give either some ids or all: true." });
  }
});

const audienceKeys = ["userId", "groupId", "learningClass", "everyone"] as const;

export const NotificationSendSchema = protoRequest({
  text: protoString(z.string().trim().min(1, "Required.").max(2000)),
  severity: protoEnum(enumNames(MessageSeverity, messageSeverityToJSON), "MESSAGE_SEVERITY_UNSPECIFIED"),
  userId: protoOptional(z.uuid("A user id.")),
  groupId: protoOptional(z.uuid("A group id.")),
  learningClass: protoOptional(z.string().trim().min(1).max(16)),
  everyone: protoOptional(z.literal(true, "Set everyone to true, or choose another audience.")),
}).superRefine((value, context) => {
  const chosen = audienceKeys.filter((key) => value[key] !== undefined);
  if (chosen.length !== 1) {
    context.addIssue({
      code: "custom",
      path: [chosen[1] ?? "userId"],
      message: "Choose exactly one audience: userId, groupId, learningClass or everyone.",
    });
  }
});

const bannerSeverity = protoEnum(enumNames(BannerSeverity, bannerSeverityToJSON), "BANNER_SEVERITY_UNSPECIFIED");
const bannerText = z.string().trim().min(1, "Required.").max(1000);

export const BannerCreateSchema = protoRequest({
  text: protoString(bannerText),
  severity: bannerSeverity,
  active: protoBool(),
  startsAt: protoTimestamp(),
  endsAt: protoTimestamp(),
}).superRefine((value, context) => {
  if (value.startsAt && value.endsAt && Date.parse(value.startsAt) >= Date.parse(value.endsAt)) {
    context.addIssue({ code: "custom", path: ["endsAt"], message: "Must be after startsAt." });
  }
});

export const BannerUpdateSchema = protoRequest({
  text: protoOptional(bannerText),
  severity: protoOptional(z.enum(enumNames(BannerSeverity, bannerSeverityToJSON))),
  active: protoOptional(z.boolean()),
  startsAt: protoTimestamp(),
  endsAt: protoTimestamp(),
  clearStartsAt: protoBool(),
  clearEndsAt: protoBool(),
});

export const BannerIdParamsSchema = z.strictObject({ id: z.uuid("A banner id.") });
