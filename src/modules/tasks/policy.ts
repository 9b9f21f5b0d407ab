import { isStaff, type Actor } from "../../auth/roles.js";
import { authorOrAdmin, enforce, type Decision } from "../../auth/policy.js";

/**
 * Who may do what with tasks (assignments contract, section 2). Staff see every task; a student sees a
 * task only through a day challenge of today or earlier or a started contest of their audience, and
 * then only its demo tests. A task is edited and deleted by its author or an admin.
 */

/**
 * Whether the student `:viewerId` sees task `t` (binds `:viewerId` and `:zone`): a day challenge of
 * today or earlier in the school's time zone, or a started contest whose audience holds them (the
 * events' audience keys).
 */
export const studentSeesTask = `(EXISTS (SELECT 1 FROM day_challenges dc
    WHERE dc.task_id = t.id AND dc.day <= school_today(:zone))
  OR EXISTS (SELECT 1 FROM contest_tasks ct JOIN contests c ON c.id = ct.contest_id
    WHERE ct.task_id = t.id AND c.starts_at <= now()
      AND c.audience_keys && (SELECT event_viewer_keys(v.group_id, v.learning_class) FROM users v WHERE v.id = :viewerId)))`;

/** What a caller may do with a task. */
export type TaskAction = "read" | "edit" | "delete" | "rejudge";

/** The parts of a loaded task the rules read. */
export interface TaskAccess {
  authorId: string | null;
  /** Decided in SQL for the caller (always true for staff). */
  visible: boolean;
}

/**
 * @param actor - the caller
 * @param action - what they want to do
 * @param task - the loaded task
 * @returns the decision: reading needs visibility; edits the author or an admin; rejudging any staff
 */
export function decide(actor: Pick<Actor, "id" | "role">, action: TaskAction, task: TaskAccess): Decision {
  const visible = isStaff(actor) || task.visible;
  switch (action) {
    case "read":
      return { visible, allowed: true };
    case "edit":
    case "delete":
      return {
        visible,
        allowed: authorOrAdmin(actor, task.authorId),
        reason: "Only the task's author or an admin may change it.",
      };
    case "rejudge":
      return { visible, allowed: isStaff(actor), reason: "Only staff may rejudge." };
  }
}

/**
 * @throws AppError not_found when the caller may not see the task, permission_denied when they may
 *   not do this to it
 */
export function authorize(actor: Pick<Actor, "id" | "role">, action: TaskAction, task: TaskAccess): void {
  enforce(decide(actor, action, task), "The task");
}
