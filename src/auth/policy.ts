import { NotFoundError, PermissionDeniedError } from "../errors/index.js";
import type { Actor } from "./roles.js";

/** What a policy decides about one caller, one action and one row. */
export interface Decision {
  /** Whether the caller may know the row exists at all. */
  visible: boolean;
  /** Whether the caller may perform the action on it. */
  allowed: boolean;
  /** Why not, when it is visible but not allowed; shown to the caller. */
  reason?: string;
}

/**
 * The one rule for 404 against 403, which every module's `authorize` ends in: a row the caller may
 * not see answers 404, exactly as a missing one (so ids never leak); a row they see but may not act on
 * answers 403.
 * @param decision - the policy's verdict
 * @param what - the row's name for the 404 (`The event`)
 * @throws AppError not_found or permission_denied
 */
export function enforce(decision: Decision, what: string): void {
  if (!decision.visible) throw NotFoundError(what);
  if (!decision.allowed) throw PermissionDeniedError(decision.reason);
}

/**
 * The rule of authored rows (events, tasks, contests): their author, while a teacher, or any admin
 * may change them. A row whose author's account is gone (null) is left to admins.
 * @param authorId - the row's author, or null
 */
export const authorOrAdmin = (actor: Pick<Actor, "id" | "role">, authorId: string | null): boolean =>
  actor.role === "admin" || (actor.role === "teacher" && authorId === actor.id);
