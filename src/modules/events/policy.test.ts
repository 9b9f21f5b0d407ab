import assert from "node:assert/strict";
import { roleNames } from "../../auth/roles.js";
import { AppError } from "../../errors/index.js";
import { authorizeEventEdit, mayEditEvent, seesAllEvents } from "./policy.js";

/** api.md section 6 as a table: who sees every event, and who edits an event by whom. */
describe("event policy (api.md section 6)", () => {
  const me = "00000000-0000-4000-8000-000000000001";
  const someoneElse = "00000000-0000-4000-8000-000000000002";
  const authors = { own: me, another: someoneElse, deleted: null } as const;

  /** Admins edit any event; teachers their own; students none (their route gate refuses them first). */
  const table = {
    student: { own: false, another: false, deleted: false },
    teacher: { own: true, another: false, deleted: false },
    admin: { own: true, another: true, deleted: true },
  } as const;

  for (const role of roleNames) {
    it(`${role} ${seesAllEvents({ role }) ? "sees every event" : "sees only their audience's and own"}`, () => {
      assert.equal(seesAllEvents({ role }), role !== "student");
    });
    for (const [whose, authorId] of Object.entries(authors) as [keyof typeof authors, string | null][]) {
      const allowed = table[role][whose];
      it(`${role} ${allowed ? "may" : "may not"} edit an event of ${whose} author`, () => {
        assert.equal(mayEditEvent({ id: me, role }, { authorId }), allowed);
        if (allowed) authorizeEventEdit({ id: me, role }, { authorId });
        else {
          assert.throws(
            () => authorizeEventEdit({ id: me, role }, { authorId }),
            (error) => error instanceof AppError && error.code === "permission_denied",
          );
        }
      });
    }
  }
});
