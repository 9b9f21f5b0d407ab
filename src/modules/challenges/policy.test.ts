import assert from "node:assert/strict";
import { isStaff, roleNames } from "../../auth/roles.js";
import { decide } from "./policy.js";

/** Sections 2 and 3 of the assignments contract as a table: whose eyes a day challenge reaches. */
describe("day challenge policy (assignments contract, sections 2 and 3)", () => {
  const callers = [undefined, ...roleNames.map((role) => ({ role }))];
  for (const caller of callers) {
    for (const reached of [true, false]) {
      const expected = reached || (caller !== undefined && isStaff(caller));
      it(`${caller?.role ?? "anonymous"}: a day that ${reached ? "has come" : "has not come"} → ${expected ? "visible" : "404"}`, () => {
        const decision = decide(caller, "read", { reached });
        assert.equal(decision.visible, expected);
        assert.equal(decision.allowed, true);
      });
    }
  }
});
