import { z } from "zod";
import {
  CreateBannerRequest,
  MarkReadRequest,
  SendMessageRequest,
  UpdateBannerRequest,
} from "../../../generated/shtp/v1/notifications.js";
import { chosenEnum, queryFlag, requiredText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { each, required, requestBody } from "../../validation/rules.js";

export const NotificationListQuerySchema = z.strictObject({ ...pageQuery, unread: queryFlag() });

const MAX_BIGINT = 2n ** 63n - 1n;

/** The id of an event the stream sent (a notification's sequence number), to resume after it. */
const lastEventId = z
  .string()
  // A sequence number is a bigint: nineteen digits may still be past its largest value.
  .refine((id) => /^\d{1,19}$/.test(id) && BigInt(id) <= MAX_BIGINT, "Must be an event id this stream sent.")
  .optional();

export const NotificationStreamQuerySchema = z.strictObject({
  /** `protobuf` sends each event's data as base64 of a serialized shtp.v1.Notification. */
  encoding: z.enum(["json", "protobuf"]).default("json"),
  /**
   * `Last-Event-ID` for a client that opens a new EventSource (which cannot set the header) to resume;
   * the header wins when both are sent, as it is what the browser's own reconnect sends.
   */
  lastEventId: lastEventId.describe(
    "The id of the last event received, to resume after it, as the Last-Event-ID header does; the header wins.",
  ),
});

/** `Last-Event-ID`: the sequence number of the last event the client received, to resume after it. */
export const NotificationStreamHeadersSchema = z.object({ "last-event-id": lastEventId });

export const NotificationMarkReadBody = requestBody(
  MarkReadRequest,
  { ids: each(uuidField("notification"), { max: 1000 }) },
  (request, report) => {
    if (request.ids.length > 0 === request.all) report("ids", "Give either some ids or all: true.");
  },
);

export const NotificationSendBody = requestBody(SendMessageRequest, {
  text: requiredText(2000),
  severity: chosenEnum("Choose INFO or WARNING."),
  audience: required(undefined, "Choose exactly one audience: userId, groupId, learningClass or everyone."),
  userId: uuidField("user"),
  groupId: uuidField("group"),
  learningClass: requiredText(16),
  everyone: z.literal(true, "Set everyone to true, or choose another audience."),
});

const bannerText = requiredText(1000);

export const BannerCreateBody = requestBody(
  CreateBannerRequest,
  { text: bannerText, severity: chosenEnum("Choose a severity.") },
  (banner, report) => {
    if (banner.startsAt && banner.endsAt && banner.startsAt >= banner.endsAt)
      report("endsAt", "Must be after startsAt.");
  },
);

export const BannerUpdateBody = requestBody(UpdateBannerRequest, {
  text: bannerText,
  severity: chosenEnum("Choose a severity."),
});

export const BannerIdParamsSchema = z.strictObject({ id: uuidField("banner") });
