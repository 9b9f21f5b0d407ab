import { isStaff, type Actor } from "../../auth/roles.js";
import { authorOrAdmin, enforce, type Decision } from "../../auth/policy.js";

/**
 * Who may do what with contests (assignments contract, sections 2 and 3). Staff see every contest; a
 * student sees a contest once it has started and only if its audience holds them (the events'
 * audience model: their group, their learning class, or an empty audience meaning everyone). A
 * contest is edited and deleted by its author or an admin; its results are for staff, a student's
 * own row for that student.
 */

/** Whether the student `:viewerId` sees contest `c`: started, and their audience (binds `:viewerId`). */
export const studentSeesContest = `(c.starts_at <= now() AND c.audience_keys &&
  (SELECT event_viewer_keys(v.group_id, v.learning_class) FROM users v WHERE v.id = :viewerId))`;

/** What a caller may do with a contest. */
export type ContestAction = "read" | "edit" | "delete" | "results" | "ownResult";

/** The parts of a loaded contest the rules read. */
export interface ContestAccess {
  authorId: string | null;
  /** Decided in SQL for the caller (always true for staff). */
  visible: boolean;
}

/**
 * @param actor - the caller
 * @param action - what they want to do
 * @param contest - the loaded contest
 */
export function decide(actor: Pick<Actor, "id" | "role">, action: ContestAction, contest: ContestAccess): Decision {
  const visible = isStaff(actor) || contest.visible;
  switch (action) {
    case "read":
      return { visible, allowed: true };
    case "edit":
    case "delete":
      return {
        visible,
        allowed: authorOrAdmin(actor, contest.authorId),
        reason: "Only the contest's author or an admin may change it.",
      };
    case "results":
      return { visible, allowed: isStaff(actor), reason: "Only staff see a contest's results." };
    case "ownResult":
      return { visible, allowed: !isStaff(actor), reason: "Only students have a result of their own." };
  }
}

/**
 * @throws AppError not_found when the caller may not see the contest, permission_denied when they
 *   may not do this to it
 */
export function authorize(actor: Pick<Actor, "id" | "role">, action: ContestAction, contest: ContestAccess): void {
  enforce(decide(actor, action, contest), "The contest");
}
