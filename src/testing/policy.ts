import assert from "node:assert/strict";
import type { Decision } from "../auth/policy.js";
import { roleNames, type Actor, type RoleName } from "../auth/roles.js";

/** What a policy answers, as the HTTP status it becomes: allowed, 403 or 404. */
export type Outcome = "ok" | "403" | "404";

/** One row of an authored-row policy table (tasks, contests). */
export interface AuthoredCase<Action extends string> {
  action: Action;
  /** Whose row: the caller's own, another author's, or one whose author's account is gone. */
  author: "own" | "another" | "none";
  /** Whether the row is one a student may see (decided in SQL for the caller). */
  seenByStudent: boolean;
  expected: Record<RoleName, Outcome>;
}

const outcomeOf = (decision: Decision): Outcome => (!decision.visible ? "404" : decision.allowed ? "ok" : "403");

/**
 * Registers one test per case and role of an authored-row policy: the policy's decision must be the
 * expected outcome.
 * @param what - the row's name in test titles (`task`)
 * @param decide - the policy
 * @param cases - the table
 */
export function checkAuthoredPolicy<Action extends string>(
  what: string,
  decide: (
    actor: Pick<Actor, "id" | "role">,
    action: Action,
    row: { authorId: string | null; visible: boolean },
  ) => Decision,
  cases: readonly AuthoredCase<Action>[],
): void {
  const me = "00000000-0000-4000-8000-000000000001";
  const authors = { own: me, another: "00000000-0000-4000-8000-000000000002", none: null };
  for (const { action, author, seenByStudent, expected } of cases) {
    for (const role of roleNames) {
      const title = `${role}: ${action} a ${what} of ${author === "own" ? "their own" : author === "another" ? "another author" : "no author"}${seenByStudent ? " that a student sees" : ""} → ${expected[role]}`;
      it(title, () => {
        const decision = decide({ id: me, role }, action, { authorId: authors[author], visible: seenByStudent });
        assert.equal(outcomeOf(decision), expected[role]);
      });
    }
  }
}
