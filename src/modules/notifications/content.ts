import type { MedalName } from "../medals/catalogue.js";
import type { VerdictName } from "../submissions/service.js";

/** A message's severity, as stored in its payload. */
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

/** The stored name of a notification's type. */
export type NotificationTypeName = NotificationContent["type"];

/** Who receives a notification; resolved set-based inside one INSERT … SELECT. */
export type Recipients =
  | { kind: "users"; userIds: readonly string[] }
  | { kind: "group"; groupId: string }
  | { kind: "learningClass"; learningClass: string }
  | { kind: "everyone" }
  /** Every student of an audience; both lists empty = every student (the events/contests audience model). */
  | { kind: "students"; groupIds: readonly string[]; learningClasses: readonly string[] };

/** Who a staff message goes to: exactly one of these, as the request's `audience` oneof names it. */
export type MessageAudience =
  | { kind: "user"; userId: string }
  | { kind: "group"; groupId: string }
  | { kind: "learningClass"; learningClass: string }
  | { kind: "everyone" };
