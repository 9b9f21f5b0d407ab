import { enforce, type Decision } from "../../auth/policy.js";
import { isStaff, type Actor } from "../../auth/roles.js";

/**
 * Who may do what with events (README "Events"): pure functions over the caller and the loaded row,
 * plus the visibility predicate in SQL that this module's queries use, so lists scope in the query
 * exactly as single reads are judged here.
 */

/** What a caller does with one event. */
export type EventAction = "read" | "edit" | "register" | "manage-registrations";

/** The facts of a loaded event that decide who may do what with it. */
export interface EventFacts {
  /** Null once the author's account is gone. */
  authorId: string | null;
  /** Whether the caller's group or learning class is in the audience (or the audience is everyone). */
  inAudience: boolean;
  /** Whether the caller is registered for it. */
  registered: boolean;
}

/**
 * Visibility: staff see every event; a student sees the events of their audience and those they are
 * registered for (even after the audience changed). Anything else does not exist for them.
 */
const seesEvent = (actor: Pick<Actor, "role">, event: EventFacts): boolean =>
  isStaff(actor) || event.inAudience || event.registered;

/** Whether a visible event allows the action, and why not. */
function allows(actor: Pick<Actor, "id" | "role">, action: EventAction, event: EventFacts): Omit<Decision, "visible"> {
  switch (action) {
    case "read":
      return { allowed: true };
    case "edit":
      // The author or an admin; another teacher sees the event, so they get 403, not 404.
      return {
        allowed: isStaff(actor) && (actor.role === "admin" || event.authorId === actor.id),
        reason: "Only the event's author or an admin may change it.",
      };
    case "register":
      return { allowed: actor.role === "student", reason: "Only students register for events." };
    case "manage-registrations":
      return { allowed: isStaff(actor), reason: "Only teachers and admins manage registrations." };
  }
}

/**
 * The one object-level check of every event route: 404 when the caller may not see the event (as a
 * missing one), 403 when they see it but may not do this.
 * @param event - the event as loaded for this caller
 * @throws AppError not_found or permission_denied
 */
export function authorize(actor: Pick<Actor, "id" | "role">, action: EventAction, event: EventFacts): void {
  enforce({ visible: seesEvent(actor, event), ...allows(actor, action, event) }, "The event");
}

/** Which events a list shows: every one (staff), a student's visible ones, or only the caller's registrations. */
export type EventListScope = "all" | "visible" | "registered";

/**
 * @param mine - the caller asked for the events they are registered for
 * @returns the scope of the caller's list, the set visibility allows
 */
export const listScope = (actor: Pick<Actor, "role">, mine: boolean): EventListScope =>
  mine ? "registered" : isStaff(actor) ? "all" : "visible";

/**
 * The audience test for the caller (`:viewerId`) over one loaded event `e`: one overlap (&&) of the
 * event's keys with the student's keys (see the migrations; lists find the same events through
 * event_audience_keys). The keys are read once per statement (an InitPlan). For this module's queries only.
 */
export const audienceIncludesViewer = `e.audience_keys && (SELECT event_viewer_keys(v.group_id, v.learning_class)
  FROM users v WHERE v.id = :viewerId)`;
