import type { Actor } from "../../auth/roles.js";
import { PermissionDeniedError } from "../../errors/index.js";

/**
 * Who may do what with events: pure functions over the caller and the loaded row (style.md rule 11).
 * Visibility itself is a SQL predicate (service.ts), so lists and single reads scope in the query.
 */

/** @returns whether the caller sees every event (staff) rather than their audience's and their own */
export const seesAllEvents = (actor: Pick<Actor, "role">): boolean => actor.role !== "student";

/**
 * Editing and deleting: the author or an admin. A teacher who is not the author sees the event, so
 * they are refused with 403, not 404.
 * @param event - the loaded event (its author is null once the author's account is gone)
 */
export const mayEditEvent = (actor: Pick<Actor, "id" | "role">, event: { authorId: string | null }): boolean =>
  actor.role === "admin" || (actor.role === "teacher" && event.authorId === actor.id);

/**
 * @throws AppError permission_denied unless mayEditEvent
 */
export function authorizeEventEdit(actor: Pick<Actor, "id" | "role">, event: { authorId: string | null }): void {
  if (!mayEditEvent(actor, event)) throw PermissionDeniedError("Only the event's author or an admin may change it.");
}
