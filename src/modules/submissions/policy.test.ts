import assert from "node:assert/strict";
import { roleNames } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { decide, listedUser, type SubmissionAction } from "./policy.js";

/** Section 2 of the assignments contract as a table: who sees and acts on which submission. */
describe("submission policy (assignments contract, section 2)", () => {
  const me = "00000000-0000-4000-8000-000000000001";
  const someoneElse = "00000000-0000-4000-8000-000000000002";

  /** [visible, allowed] per role and owner. */
  const table: Record<SubmissionAction, Record<string, { own: [boolean, boolean]; other: [boolean, boolean] }>> = {
    read: {
      student: { own: [true, true], other: [false, true] },
      teacher: { own: [true, true], other: [true, true] },
      admin: { own: [true, true], other: [true, true] },
    },
    readSource: {
      student: { own: [true, true], other: [false, true] },
      teacher: { own: [true, true], other: [true, true] },
      admin: { own: [true, true], other: [true, true] },
    },
    reject: {
      student: { own: [true, false], other: [false, false] },
      teacher: { own: [true, true], other: [true, true] },
      admin: { own: [true, true], other: [true, true] },
    },
    rejudge: {
      student: { own: [true, false], other: [false, false] },
      teacher: { own: [true, true], other: [true, true] },
      admin: { own: [true, true], other: [true, true] },
    },
  };

  for (const [action, byRole] of Object.entries(table) as [SubmissionAction, (typeof table)["read"]][]) {
    for (const role of roleNames) {
      for (const whose of ["own", "other"] as const) {
        const [visible, allowed] = byRole[role]?.[whose] ?? [false, false];
        it(`${role}: ${action} ${whose === "own" ? "their own" : "another's"} submission → ${visible ? (allowed ? "allowed" : "403") : "404"}`, () => {
          const decision = decide({ id: me, role }, action, { userId: whose === "own" ? me : someoneElse });
          assert.equal(decision.visible, visible);
          if (visible) assert.equal(decision.allowed, allowed);
        });
      }
    }
  }

  it("lists: staff filter by anyone or no one; a student is held to their own and refused another's (403)", () => {
    for (const role of ["teacher", "admin"] as const) {
      assert.equal(listedUser({ id: me, role }, undefined), undefined);
      assert.equal(listedUser({ id: me, role }, someoneElse), someoneElse);
    }
    assert.equal(listedUser({ id: me, role: "student" }, undefined), me);
    assert.equal(listedUser({ id: me, role: "student" }, me.toUpperCase()), me);
    assert.throws(
      () => listedUser({ id: me, role: "student" }, someoneElse),
      (error) => error instanceof AppError && error.code === "permission_denied",
    );
  });
});
