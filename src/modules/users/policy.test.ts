import assert from "node:assert/strict";
import { roleNames, type RoleName } from "../../auth/roles.js";
import { mayManageUser, type UserAction } from "./policy.js";

const actions: readonly UserAction[] = ["create", "update", "changeRole", "resetPassword", "delete"];

/**
 * The rule of api.md section 3, written independently of the implementation: admins may do
 * everything; teachers everything but changing a role, and on students only; students nothing.
 */
function expected(actor: RoleName, action: UserAction, target: RoleName): boolean {
  if (actor === "admin") return true;
  if (actor === "teacher") return action !== "changeRole" && target === "student";
  return false;
}

describe("mayManageUser (api.md section 3)", () => {
  it("covers the three roles", () => {
    assert.deepEqual([...roleNames], ["student", "teacher", "admin"]);
  });

  for (const actor of roleNames) {
    for (const action of actions) {
      for (const target of roleNames) {
        const allowed = expected(actor, action, target);
        it(`${actor} ${allowed ? "may" : "may not"} ${action} a ${target}`, () => {
          assert.equal(mayManageUser({ role: actor }, action, { role: target }), allowed);
        });
      }
    }
  }

  it("allows exactly the expected number of combinations", () => {
    const allowed = roleNames.flatMap((actor) =>
      actions.flatMap((action) =>
        roleNames.filter((target) => mayManageUser({ role: actor }, action, { role: target })).map(() => 1),
      ),
    );
    // Admin: 5 actions × 3 targets; teacher: 4 actions × students only; student: none.
    assert.equal(allowed.length, 15 + 4);
  });
});
