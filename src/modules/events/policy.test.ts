import assert from "node:assert/strict";
import { roleNames, type RoleName } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { authorize, listScope, type EventAction, type EventFacts, type EventListScope } from "./policy.js";

const me = "00000000-0000-4000-8000-000000000001";
const someoneElse = "00000000-0000-4000-8000-000000000002";

/** The events a caller can meet, by how they relate to the caller. */
const situations = {
  "their own, in their audience": { authorId: me, inAudience: true, registered: false },
  "another author's, in their audience": { authorId: someoneElse, inAudience: true, registered: false },
  "a deleted author's, in their audience": { authorId: null, inAudience: true, registered: false },
  "another author's, outside their audience": { authorId: someoneElse, inAudience: false, registered: false },
  "another author's, outside their audience, registered": {
    authorId: someoneElse,
    inAudience: false,
    registered: true,
  },
} as const satisfies Record<string, EventFacts>;

type Situation = keyof typeof situations;
type Outcome = "ok" | 404 | 403;

/** Outcomes in the order of `situations`. */
type Row = readonly [Outcome, Outcome, Outcome, Outcome, Outcome];

/**
 * The event rules of README "Events" as a table, written independently of the implementation. Staff see every event; a
 * student sees their audience's and those they are registered for (anything else is 404). Admins edit
 * any event, teachers their own, students none; only students register; only staff manage
 * registrations. Visible but not allowed is 403. (Route gates refuse some of these callers first; the
 * policy answers for them all the same.)
 */
const table: Record<RoleName, Record<EventAction, Row>> = {
  student: {
    read: ["ok", "ok", "ok", 404, "ok"],
    edit: [403, 403, 403, 404, 403],
    register: ["ok", "ok", "ok", 404, "ok"],
    "manage-registrations": [403, 403, 403, 404, 403],
  },
  teacher: {
    read: ["ok", "ok", "ok", "ok", "ok"],
    edit: ["ok", 403, 403, 403, 403],
    register: [403, 403, 403, 403, 403],
    "manage-registrations": ["ok", "ok", "ok", "ok", "ok"],
  },
  admin: {
    read: ["ok", "ok", "ok", "ok", "ok"],
    edit: ["ok", "ok", "ok", "ok", "ok"],
    register: [403, 403, 403, 403, 403],
    "manage-registrations": ["ok", "ok", "ok", "ok", "ok"],
  },
};

/** @returns what authorize did: passed, or the status of the error it threw */
function outcomeOf(role: RoleName, action: EventAction, event: EventFacts): Outcome {
  try {
    authorize({ id: me, role }, action, event);
    return "ok";
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    if (error.code === "not_found") return 404;
    assert.equal(error.code, "permission_denied");
    return 403;
  }
}

describe("event policy", () => {
  const actions = Object.keys(table.student) as EventAction[];
  const names = Object.keys(situations) as Situation[];

  for (const role of roleNames) {
    for (const action of actions) {
      for (const [index, name] of names.entries()) {
        const expected = table[role][action][index];
        it(`${role} ${action} on ${name}: ${expected}`, () => {
          assert.equal(outcomeOf(role, action, situations[name]), expected);
        });
      }
    }
  }

  it("names the event in its 404 and the rule in its 403", () => {
    assert.throws(
      () => authorize({ id: me, role: "student" }, "read", situations["another author's, outside their audience"]),
      (error) => error instanceof AppError && error.message === "The event was not found.",
    );
    assert.throws(
      () => authorize({ id: me, role: "teacher" }, "edit", situations["another author's, in their audience"]),
      (error) => error instanceof AppError && /author or an admin/.test(error.message),
    );
  });

  /** Lists show what visibility allows: staff every event, students their visible ones; `mine` the registrations. */
  const scopes: Record<RoleName, { mine: EventListScope; all: EventListScope }> = {
    student: { mine: "registered", all: "visible" },
    teacher: { mine: "registered", all: "all" },
    admin: { mine: "registered", all: "all" },
  };
  for (const role of roleNames) {
    it(`${role} lists ${scopes[role].all} events, and with mine=true the ${scopes[role].mine} ones`, () => {
      assert.equal(listScope({ role }, false), scopes[role].all);
      assert.equal(listScope({ role }, true), scopes[role].mine);
    });
  }
});
