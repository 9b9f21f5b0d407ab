import type { Db, TransactionDb } from "../../db/db.js";
import type { Actor } from "../../auth/roles.js";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type FieldViolation,
} from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { assertGroupsExist } from "../groups/service.js";
import { notify } from "../notifications/service.js";
import { authorize, listScope, type EventAction } from "./policy.js";
import {
  deleteEventRow,
  eventsPage,
  findEvent,
  insertEvent,
  registeredUserIds,
  updateEventRow,
  type EventAudience,
  type EventFields,
  type EventListRow,
  type EventRow,
} from "./queries.js";
import { eventTimeRules, instantIdCursor, type EventListQuery } from "./schema.js";

export type { EventAudience, EventFields, EventListRow, EventRow } from "./queries.js";

/**
 * One event, loaded for the caller and checked for the action: 404 when it is missing or the caller
 * may not see it (the two are never told apart), 403 when they see it but may not do this.
 * @param options.lock - lock the row (FOR UPDATE) for a change; registrations then wait for it
 * @throws AppError not_found, permission_denied
 */
export async function loadEvent(
  db: Db,
  actor: Actor,
  id: string,
  action: EventAction,
  options: { lock?: boolean } = {},
): Promise<EventRow> {
  const event = await findEvent(db, actor.id, id, options);
  if (!event) throw NotFoundError("The event");
  authorize(actor, action, event);
  return event;
}

/**
 * A page of the events the caller sees, in start order, keyset-paged on (starts_at, id): staff every
 * event, a student their audience's and those they are registered for; `mine` only the latter.
 * @param query - the window on starts_at (`from` inclusive, `to` exclusive), `mine`, limit and cursor
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listEvents(
  db: Db,
  actor: Actor,
  query: EventListQuery,
): Promise<{ items: EventListRow[]; nextCursor: string }> {
  const rows = await eventsPage(db, actor.id, listScope(actor, query.mine), {
    from: query.from,
    to: query.to,
    after: query.cursor ? decodeCursor(query.cursor, instantIdCursor) : undefined,
    limit: query.limit + 1,
  });
  return pageOf(rows, query.limit, (row) => [row.startsKey, row.id]);
}

/**
 * One event as the caller may see it.
 * @throws AppError not_found
 */
export const getEvent = (db: Db, actor: Actor, id: string): Promise<EventRow> => loadEvent(db, actor, id, "read");

/** Each named group with the request field that named it. */
const audienceGroups = (audience: EventAudience) =>
  audience.groupIds.map((id, index) => ({ id, field: `audience.groupIds.${index}` }));

/**
 * Creates an event and announces it: one EVENT_CREATED notification to every student of its audience,
 * written by one INSERT … SELECT in the same transaction, so the statement count does not depend on
 * the audience's size. Staff are not notified: they see every event and are not its audience.
 * @throws AppError failed_precondition for an unknown group id (`audience.groupIds.<i>`)
 */
export async function createEvent(db: TransactionDb, actor: Actor, fields: EventFields): Promise<EventRow> {
  await assertGroupsExist(db, audienceGroups(fields.audience));
  const event = await insertEvent(db, actor.id, fields);
  await notify(
    db,
    { kind: "students", groupIds: event.audienceGroupIds, learningClasses: event.audienceClasses },
    {
      type: "event_created",
      payload: { eventId: event.id, title: event.title, startsAt: event.startsAt.toISOString() },
    },
  );
  return event;
}

/** The changes of a PATCH: absent = keep, present = set; a present audience replaces the old one. */
export type EventChanges = Partial<EventFields>;

/**
 * The time rules over the merged event. The violation names the field the client sent: the other
 * instant when given, else startsAt (which moved against the stored value).
 */
function timeViolations(merged: EventFields, changes: EventChanges): FieldViolation[] {
  return eventTimeRules.flatMap((rule) =>
    rule.holds(merged.startsAt.getTime(), merged[rule.field].getTime())
      ? []
      : changes[rule.field] === undefined
        ? [{ field: "startsAt", description: `Conflicts with the stored ${rule.field}; send ${rule.field} too.` }]
        : [{ field: rule.field, description: rule.message }],
  );
}

/**
 * Changes an event (its author or an admin). The row stays locked until commit, so registrations wait
 * and a lowered capacity is checked against the final count.
 * @throws AppError not_found, permission_denied, invalid_argument (time order), failed_precondition
 *   (capacity below the registrations, unknown group)
 */
export async function updateEvent(
  db: TransactionDb,
  actor: Actor,
  id: string,
  changes: EventChanges,
): Promise<EventRow> {
  const event = await loadEvent(db, actor, id, "edit", { lock: true });
  const merged: EventFields = {
    title: changes.title ?? event.title,
    description: changes.description ?? event.description,
    location: changes.location ?? event.location,
    startsAt: changes.startsAt ?? event.startsAt,
    endsAt: changes.endsAt ?? event.endsAt,
    capacity: changes.capacity ?? event.capacity,
    registrationDeadline: changes.registrationDeadline ?? event.registrationDeadline,
    audience: changes.audience ?? { groupIds: event.audienceGroupIds, learningClasses: event.audienceClasses },
  };
  const violations = timeViolations(merged, changes);
  if (violations.length > 0) throw InvalidArgumentError("The event's times are out of order.", violations);
  if (merged.capacity !== 0 && merged.capacity < event.registeredCount) {
    throw FailedPreconditionError(`${event.registeredCount} students are registered; the capacity cannot be lower.`, [
      { field: "capacity", description: `At least ${event.registeredCount}, or 0 for unlimited.` },
    ]);
  }
  if (changes.audience) await assertGroupsExist(db, audienceGroups(changes.audience));
  return updateEventRow(db, actor.id, id, merged);
}

/** @returns the instant in the words of a message: `2026-12-01 10:00 UTC` */
const humanInstant = (instant: Date) => `${instant.toISOString().slice(0, 16).replace("T", " ")} UTC`;

/**
 * Deletes an event (its author or an admin) and, by cascade, its registrations. If it has not ended,
 * each registered student first gets a MESSAGE (warning) that it was cancelled, in the same
 * transaction: one statement reads who is registered, one writes all their notifications, whatever
 * their number. Deleting a past event is housekeeping, not a cancellation, and attendance already
 * counted towards medals stays counted.
 * @throws AppError not_found, permission_denied
 */
export async function deleteEvent(db: TransactionDb, actor: Actor, id: string): Promise<void> {
  const event = await loadEvent(db, actor, id, "edit", { lock: true });
  if (!event.ended && event.registeredCount > 0) {
    await notify(
      db,
      { kind: "users", userIds: await registeredUserIds(db, id) },
      {
        type: "message",
        payload: {
          text: `The event “${event.title}” on ${humanInstant(event.startsAt)} was cancelled.`,
          severity: "warning",
        },
      },
    );
  }
  await deleteEventRow(db, id);
}
