import type { Actor, RoleName } from "../../auth/roles.js";

/** What staff may do to a user account. */
export type UserAction = "create" | "update" | "changeRole" | "resetPassword" | "delete";

/**
 * Who may act on which accounts (api.md section 3): teachers act on students only; only admins act on
 * teachers and admins, and only admins change a role. Pure: the last-admin rule needs the database
 * and lives in the service.
 * @param actor - the caller
 * @param action - what they want to do
 * @param target - the account's role (for `create`, the role of the account to create)
 */
export function mayManageUser(actor: Pick<Actor, "role">, action: UserAction, target: { role: RoleName }): boolean {
  switch (actor.role) {
    case "admin":
      return true;
    case "teacher":
      return action !== "changeRole" && target.role === "student";
    case "student":
      return false;
  }
}
