import assert from "node:assert/strict";
import { roleNames, type RoleName } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { authorize, type AchievementAction, type AchievementFacts } from "./policy.js";
import type { AchievementStatusName } from "./queries.js";

type Outcome = "ok" | "404" | "403";
type Whose = "own" | "another's";

const me = "00000000-0000-4000-8000-000000000001";
const someoneElse = "00000000-0000-4000-8000-000000000002";
const actions: readonly AchievementAction[] = ["read", "readProof", "moderate", "delete"];
const statuses: readonly AchievementStatusName[] = ["pending", "accepted", "rejected"];

/**
 * Who may do what with one achievement, written out rather than derived: per role and action, the
 * outcome on the caller's own achievement and on another user's, each pending / accepted / rejected.
 * Students never see others' achievements (404); nobody moderates their own (403); owners delete only
 * while pending, admins always, teachers never others' (403).
 */
const table: Record<RoleName, Record<AchievementAction, Record<Whose, [Outcome, Outcome, Outcome]>>> = {
  student: {
    read: { own: ["ok", "ok", "ok"], "another's": ["404", "404", "404"] },
    readProof: { own: ["ok", "ok", "ok"], "another's": ["404", "404", "404"] },
    moderate: { own: ["403", "403", "403"], "another's": ["404", "404", "404"] },
    delete: { own: ["ok", "403", "403"], "another's": ["404", "404", "404"] },
  },
  teacher: {
    read: { own: ["ok", "ok", "ok"], "another's": ["ok", "ok", "ok"] },
    readProof: { own: ["ok", "ok", "ok"], "another's": ["ok", "ok", "ok"] },
    moderate: { own: ["403", "403", "403"], "another's": ["ok", "ok", "ok"] },
    delete: { own: ["ok", "403", "403"], "another's": ["403", "403", "403"] },
  },
  admin: {
    read: { own: ["ok", "ok", "ok"], "another's": ["ok", "ok", "ok"] },
    readProof: { own: ["ok", "ok", "ok"], "another's": ["ok", "ok", "ok"] },
    moderate: { own: ["403", "403", "403"], "another's": ["ok", "ok", "ok"] },
    delete: { own: ["ok", "ok", "ok"], "another's": ["ok", "ok", "ok"] },
  },
};

/** What authorize did, in the table's words. */
function outcomeOf(role: RoleName, action: AchievementAction, achievement: AchievementFacts | undefined): Outcome {
  try {
    authorize({ id: me, role }, action, achievement);
    return "ok";
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return "404";
    if (error instanceof AppError && error.code === "permission_denied") return "403";
    throw error;
  }
}

describe("achievement policy: role × action", () => {
  for (const role of roleNames) {
    for (const action of actions) {
      for (const whose of ["own", "another's"] as const) {
        statuses.forEach((status, index) => {
          const expected = table[role][action][whose][index];
          it(`${role} ${action} on ${whose} ${status} achievement: ${expected}`, () => {
            const achievement = { userId: whose === "own" ? me : someoneElse, status };
            assert.equal(outcomeOf(role, action, achievement), expected);
          });
        });
      }
      it(`${role} ${action} on a missing achievement: 404`, () => {
        assert.equal(outcomeOf(role, action, undefined), "404");
      });
    }
  }

  it("names the rule a visible, refused caller broke", () => {
    assert.throws(
      () => authorize({ id: me, role: "teacher" }, "moderate", { userId: me, status: "pending" }),
      (error) => error instanceof AppError && error.message === "Nobody moderates their own achievement.",
    );
    assert.throws(
      () => authorize({ id: me, role: "student" }, "delete", { userId: me, status: "accepted" }),
      (error) => error instanceof AppError && /Only a pending achievement/.test(error.message),
    );
  });
});
