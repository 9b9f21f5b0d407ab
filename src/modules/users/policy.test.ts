import assert from "node:assert/strict";
import { roleNames, type RoleName } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { authorize, decideUserAction, type UserAction } from "./policy.js";

const actions: readonly UserAction[] = ["create", "update", "changeRole", "resetPassword", "delete"];

/**
 * The account rule (README "Identity and security"), written independently of the implementation: admins may do
 * everything; teachers everything but changing a role, and on students only; students nothing.
 */
function expected(actor: RoleName, action: UserAction, target: RoleName): boolean {
  if (actor === "admin") return true;
  if (actor === "teacher") return action !== "changeRole" && target === "student";
  return false;
}

/** @returns whether authorize let the action through; a refusal must be a 403, never a 404 */
function passes(actor: RoleName, action: UserAction, target: RoleName): boolean {
  try {
    authorize({ role: actor }, action, { role: target });
    return true;
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "permission_denied");
    return false;
  }
}

describe("user account policy", () => {
  it("covers the three roles", () => {
    assert.deepEqual([...roleNames], ["student", "teacher", "admin"]);
  });

  for (const actor of roleNames) {
    for (const action of actions) {
      for (const target of roleNames) {
        const allowed = expected(actor, action, target);
        it(`${actor} ${allowed ? "may" : "may not"} ${action} a ${target}`, () => {
          const decision = decideUserAction({ role: actor }, action, { role: target });
          assert.equal(decision.visible, true, "accounts are never hidden: a refusal is a 403");
          assert.equal(decision.allowed, allowed);
          if (!allowed) assert.ok(decision.reason, "a refusal says why");
          assert.equal(passes(actor, action, target), allowed);
        });
      }
    }
  }

  it("allows exactly the expected number of combinations", () => {
    const allowed = roleNames.flatMap((actor) =>
      actions.flatMap((action) => roleNames.filter((target) => passes(actor, action, target)).map(() => 1)),
    );
    // Admin: 5 actions × 3 targets; teacher: 4 actions × students only; student: none.
    assert.equal(allowed.length, 15 + 4);
  });
});
