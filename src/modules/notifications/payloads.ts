import { MessageSeverity, NotificationType, type Notification } from "../../../generated/shtp/v1/notifications.js";
import { medalOf, type MedalName } from "../medals/catalogue.js";
import { presentVerdict } from "../submissions/presenter.js";
import type { VerdictName } from "../submissions/service.js";

export type MessageSeverityName = "info" | "warning";

/**
 * The one shape of a notification as stored: its type and a payload the database checks against
 * that type (see the `notification_payload_is_valid` function in the migration). Every module that
 * notifies writes through these types.
 */
export type NotificationContent =
  | { type: "achievement_accepted"; payload: { achievementId: string; title: string; points: number } }
  | { type: "achievement_rejected"; payload: { achievementId: string; title: string; comment: string } }
  | { type: "event_created"; payload: { eventId: string; title: string; startsAt: string } }
  | { type: "medal_awarded"; payload: { medal: MedalName } }
  | { type: "message"; payload: { text: string; severity: MessageSeverityName } }
  | {
      type: "submission_judged";
      /** `failedTest` is 0 when no test failed (accepted, or not compiled). */
      payload: { submissionId: string; taskId: string; title: string; verdict: VerdictName; failedTest: number };
    };

export type NotificationTypeName = NotificationContent["type"];

/** A notification row as list queries select it. */
export interface NotificationRow {
  id: string;
  seq: string;
  userId: string;
  type: NotificationTypeName;
  payload: unknown;
  createdAt: Date;
  readAt: Date | null;
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
        payload: { $case: "achievementAccepted", value: content.payload },
      };
    case "achievement_rejected":
      return {
        ...base,
        type: NotificationType.ACHIEVEMENT_REJECTED,
        payload: { $case: "achievementRejected", value: content.payload },
      };
    case "event_created":
      return {
        ...base,
        type: NotificationType.EVENT_CREATED,
        payload: { $case: "eventCreated", value: { ...content.payload, startsAt: new Date(content.payload.startsAt) } },
      };
    case "medal_awarded":
      return {
        ...base,
        type: NotificationType.MEDAL_AWARDED,
        payload: { $case: "medalAwarded", value: { medal: medalOf(content.payload.medal) } },
      };
    case "message":
      return {
        ...base,
        type: NotificationType.MESSAGE,
        payload: {
          $case: "message",
          value: {
            text: content.payload.text,
            severity: content.payload.severity === "warning" ? MessageSeverity.WARNING : MessageSeverity.INFO,
          },
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
