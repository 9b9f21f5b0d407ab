import {
  BannerSeverity,
  MessageSeverity,
  NotificationType,
  type Banner as BannerMessage,
  type Notification,
  type SendMessageRequest,
  type StreamTicket,
} from "../../../generated/shtp/v1/notifications.js";
import { storedNameOf } from "../../contract/enums.js";
import { InvalidArgumentError } from "../../errors/index.js";
import { presentVerdict } from "../submissions/presenter.js";
import type { IssuedStreamTicket } from "../auth/service.js";
import { presentMedal } from "../medals/presenter.js";
import type { Banner, BannerSeverityName } from "./banner.model.js";
import type { MessageAudience, MessageSeverityName, NotificationContent } from "./content.js";
import type { NotificationRow } from "./queries.js";

const protoMessageSeverities: Record<MessageSeverityName, MessageSeverity> = {
  info: MessageSeverity.INFO,
  warning: MessageSeverity.WARNING,
};

const protoBannerSeverities: Record<BannerSeverityName, BannerSeverity> = {
  success: BannerSeverity.SUCCESS,
  info: BannerSeverity.INFO,
  warning: BannerSeverity.WARNING,
  error: BannerSeverity.ERROR,
};

/** @returns our name of a validated proto message severity (zod refused UNSPECIFIED) */
export const messageSeverityName = (severity: MessageSeverity): MessageSeverityName =>
  storedNameOf(protoMessageSeverities, severity);

/** @returns our name of a validated proto banner severity (zod refused UNSPECIFIED) */
export const bannerSeverityName = (severity: BannerSeverity): BannerSeverityName =>
  storedNameOf(protoBannerSeverities, severity);

/**
 * The audience a send request chose, as the service takes it.
 * @throws AppError invalid_argument when none was chosen (the schema's `required` rule refuses that first)
 */
export function messageAudienceOf(audience: SendMessageRequest["audience"]): MessageAudience {
  switch (audience?.$case) {
    case "userId":
      return { kind: "user", userId: audience.value };
    case "groupId":
      return { kind: "group", groupId: audience.value };
    case "learningClass":
      return { kind: "learningClass", learningClass: audience.value };
    case "everyone":
      return { kind: "everyone" };
    case undefined:
      throw InvalidArgumentError("Choose an audience.", [{ field: "userId", description: "Required." }]);
  }
}

/**
 * Maps a stored row onto the wire message, payload member by type. The database guarantees the
 * payload's keys and JSON types, so the casts below only restate that guarantee.
 * @param row - a notification row
 */
export function presentNotification(row: NotificationRow): Notification {
  const base = { id: row.id, createdAt: row.createdAt, readAt: row.readAt ?? undefined };
  const content = { type: row.type, payload: row.payload } as NotificationContent;
  switch (content.type) {
    case "achievement_accepted":
      return {
        ...base,
        type: NotificationType.ACHIEVEMENT_ACCEPTED,
        payload: {
          $case: "achievementAccepted",
          value: {
            achievementId: content.payload.achievementId,
            title: content.payload.title,
            points: content.payload.points,
          },
        },
      };
    case "achievement_rejected":
      return {
        ...base,
        type: NotificationType.ACHIEVEMENT_REJECTED,
        payload: {
          $case: "achievementRejected",
          value: {
            achievementId: content.payload.achievementId,
            title: content.payload.title,
            comment: content.payload.comment,
          },
        },
      };
    case "event_created":
      return {
        ...base,
        type: NotificationType.EVENT_CREATED,
        payload: {
          $case: "eventCreated",
          value: {
            eventId: content.payload.eventId,
            title: content.payload.title,
            startsAt: new Date(content.payload.startsAt),
          },
        },
      };
    case "medal_awarded":
      return {
        ...base,
        type: NotificationType.MEDAL_AWARDED,
        payload: { $case: "medalAwarded", value: { medal: presentMedal(content.payload.medal) } },
      };
    case "message":
      return {
        ...base,
        type: NotificationType.MESSAGE,
        payload: {
          $case: "message",
          value: { text: content.payload.text, severity: protoMessageSeverities[content.payload.severity] },
        },
      };
    case "submission_judged":
      return {
        ...base,
        type: NotificationType.SUBMISSION_JUDGED,
        payload: {
          $case: "submissionJudged",
          value: {
            submissionId: content.payload.submissionId,
            taskId: content.payload.taskId,
            title: content.payload.title,
            verdict: presentVerdict(content.payload.verdict),
            failedTest: content.payload.failedTest,
          },
        },
      };
  }
}

/** A banner field by field, as the wire shows it. */
export function presentBanner(banner: Banner): BannerMessage {
  return {
    id: banner.id,
    text: banner.text,
    severity: protoBannerSeverities[banner.severity],
    active: banner.active,
    startsAt: banner.startsAt ?? undefined,
    endsAt: banner.endsAt ?? undefined,
    createdAt: banner.createdAt,
    updatedAt: banner.updatedAt,
  };
}

/**
 * A stream ticket as its mint answers it.
 * @param ticket - what the auth service issued
 */
export const presentStreamTicket = (ticket: IssuedStreamTicket): StreamTicket => ({
  ticket: ticket.ticket,
  expiresIn: ticket.expiresIn,
});
