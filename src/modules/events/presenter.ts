import type {
  Event,
  EventAudience as EventAudienceMessage,
  EventRegistration,
} from "../../../generated/shtp/v1/events.js";
import { presentUserSummary } from "../users/presenter.js";
import type { EventAudience, EventListRow, EventRegistrationRow } from "./queries.js";

/**
 * The audience a request gave, as the service stores it; absent means everyone (both lists empty).
 * @param audience - validated by the schema (classes trimmed, group ids well-formed)
 */
export const audienceFromWire = (audience: EventAudienceMessage | undefined): EventAudience => ({
  groupIds: audience?.groupIds ?? [],
  learningClasses: audience?.learningClasses ?? [],
});

/**
 * An event as the caller sees it (`registered` is about the caller).
 * @param row - an event as loaded for the caller
 */
export function presentEvent(row: EventListRow): Event {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    location: row.location,
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    capacity: row.capacity,
    registrationDeadline: row.registrationDeadline,
    audience: { groupIds: row.audienceGroupIds, learningClasses: row.audienceClasses },
    authorId: row.authorId ?? "",
    registeredCount: row.registeredCount,
    registered: row.registered,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * One registration with the student's summary.
 * @param row - a row of a registrations page
 */
export function presentRegistration(row: EventRegistrationRow): EventRegistration {
  return {
    user: presentUserSummary(row),
    registeredAt: row.registeredAt,
    attendedAt: row.attendedAt ?? undefined,
  };
}
