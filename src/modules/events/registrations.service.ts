import type { Db, TransactionDb } from "../../db/db.js";
import type { Actor } from "../../auth/roles.js";
import { ConflictError, FailedPreconditionError, NotFoundError } from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { awardEarnedMedals } from "../medals/service.js";
import { loadEvent, type EventRow } from "./events.service.js";
import {
  deleteRegistration,
  insertRegistration,
  markAttended,
  registrationsPage,
  unregisteredPositions,
  type EventRegistrationRow,
} from "./queries.js";
import { instantIdCursor } from "./schema.js";

export type { EventRegistrationRow } from "./queries.js";

const eventFull = () => ConflictError("The event is full.");
const alreadyRegistered = () => ConflictError("You are already registered for this event.");

/**
 * Registers the calling student. The checks before the insert give clear answers in the common case;
 * the database decides under races (the primary key, and the capacity constraint under the event's
 * row lock).
 * @returns the event as the student now sees it
 * @throws AppError not_found (missing or outside their audience), conflict (already registered, full),
 *   failed_precondition (after the deadline)
 */
export async function registerForEvent(db: TransactionDb, actor: Actor, id: string): Promise<EventRow> {
  const event = await loadEvent(db, actor, id, "register");
  if (event.registered) throw alreadyRegistered();
  if (event.registrationClosed) throw FailedPreconditionError("Registration for this event has closed.");
  if (event.capacity > 0 && event.registeredCount >= event.capacity) throw eventFull();
  const outcome = await insertRegistration(db, id, actor.id);
  if (outcome === "duplicate") throw alreadyRegistered();
  if (outcome === "full") throw eventFull();
  return loadEvent(db, actor, id, "read");
}

/**
 * Cancels the calling student's registration, until the event starts (afterwards the registration is
 * the attendance record). The delete trigger lowers the counter. The event's row is locked first: a
 * move of the event holds it while it updates the registrations, so taking the registration first
 * could deadlock with it.
 * @throws AppError not_found (no such event for them, or not registered), failed_precondition (started)
 */
export async function cancelRegistration(db: TransactionDb, actor: Actor, id: string): Promise<void> {
  const event = await loadEvent(db, actor, id, "register", { lock: true });
  if (!event.registered) throw NotFoundError("Your registration");
  if (event.started)
    throw FailedPreconditionError("The event has started; the registration can no longer be cancelled.");
  await deleteRegistration(db, id, actor.id);
}

/**
 * An event's registrations in registration order, keyset-paged on (event_id, registered_at, user_id).
 * @throws AppError not_found, invalid_argument for a cursor of another list
 */
export async function listRegistrations(
  db: Db,
  actor: Actor,
  id: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: EventRegistrationRow[]; nextCursor: string }> {
  await loadEvent(db, actor, id, "manage-registrations");
  const after = query.cursor ? decodeCursor(query.cursor, instantIdCursor) : undefined;
  const rows = await registrationsPage(db, id, after, query.limit + 1);
  return pageOf(rows, query.limit, (row) => [row.registeredKey, row.id]);
}

/**
 * Marks registered students as attended, once the event has started. Only registrations not marked
 * yet are marked and counted, so marking twice (or concurrently) never counts twice. Then medals now
 * earned ("5 events attended") are awarded with their notifications, in the same transaction.
 * @param userIds - the students; every one must be registered
 * @returns how many were newly marked
 * @throws AppError not_found, failed_precondition (not started yet; ids not registered, one violation each)
 */
export async function markAttendance(
  db: TransactionDb,
  actor: Actor,
  id: string,
  userIds: readonly string[],
): Promise<number> {
  const event = await loadEvent(db, actor, id, "manage-registrations");
  if (!event.started) throw FailedPreconditionError("Attendance can be marked once the event has started.");
  if (userIds.length === 0) return 0;
  const unregistered = await unregisteredPositions(db, id, userIds);
  if (unregistered.length > 0) {
    throw FailedPreconditionError(
      "Only students registered for the event can be marked as attended.",
      unregistered.map((position) => ({ field: `userIds.${position}`, description: "Not registered for this event." })),
    );
  }
  const marked = await markAttended(db, id, userIds);
  await awardEarnedMedals(db, marked);
  return marked.length;
}
