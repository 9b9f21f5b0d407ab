import type { Event, EventRegistration } from "../../../generated/shtp/v1/events.js";
import { presentUserSummary } from "../users/presenter.js";
import type { EventRegistrationRow, EventRow } from "./service.js";

/**
 * An event as the caller sees it (`registered` is about the caller).
 * @param row - from loadEvent or listEvents
 */
export function presentEvent(row: EventRow): Event {
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
 * @param row - from listRegistrations
 */
export function presentRegistration(row: EventRegistrationRow): EventRegistration {
  return {
    user: presentUserSummary(row),
    registeredAt: row.registeredAt,
    attendedAt: row.attendedAt ?? undefined,
  };
}
