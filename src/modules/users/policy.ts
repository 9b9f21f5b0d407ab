import { enforce, type Decision } from "../../auth/policy.js";
import type { Actor, RoleName } from "../../auth/roles.js";

/** What staff may do to a user account. */
export type UserAction = "create" | "update" | "changeRole" | "resetPassword" | "delete";

/**
 * Who may act on which accounts (README "Identity and security"): teachers act on students only; only admins act on
 * teachers and admins, and only admins change a role. Every account is visible (profiles are public),
 * so a refusal is a 403, never a 404. Pure: the last-admin rule needs the database and lives in the
 * accounts service.
 * @param actor - the caller
 * @param action - what they want to do
 * @param target - the account's role (for `create`, the role of the account to create)
 */
export function decideUserAction(actor: Pick<Actor, "role">, action: UserAction, target: { role: RoleName }): Decision {
  switch (actor.role) {
    case "admin":
      return { visible: true, allowed: true };
    case "teacher":
      if (action === "changeRole") return { visible: true, allowed: false, reason: "Only admins change roles." };
      return {
        visible: true,
        allowed: target.role === "student",
        reason: "Teachers may only manage student accounts.",
      };
    case "student":
      return { visible: true, allowed: false, reason: "You may not manage this account." };
  }
}

/**
 * Lets the action through or throws, by the one 404-or-403 rule.
 * @param actor - the caller
 * @param action - what they want to do
 * @param target - the account, or for `create` the account to create
 * @throws AppError permission_denied when the caller may not
 */
export function authorize(actor: Pick<Actor, "role">, action: UserAction, target: { role: RoleName }): void {
  enforce(decideUserAction(actor, action, target), "The user");
}
