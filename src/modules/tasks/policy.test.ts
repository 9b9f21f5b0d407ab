import { checkAuthoredPolicy } from "../../testing/policy.js";
import { decide } from "./policy.js";

/** Section 2 of the assignments contract as a table: who sees, changes and rejudges which task. */
describe("task policy (assignments contract, section 2)", () => {
  checkAuthoredPolicy("task", decide, [
    {
      action: "read",
      author: "another",
      seenByStudent: false,
      expected: { student: "404", teacher: "ok", admin: "ok" },
    },
    { action: "read", author: "another", seenByStudent: true, expected: { student: "ok", teacher: "ok", admin: "ok" } },
    { action: "edit", author: "own", seenByStudent: true, expected: { student: "403", teacher: "ok", admin: "ok" } },
    {
      action: "edit",
      author: "another",
      seenByStudent: false,
      expected: { student: "404", teacher: "403", admin: "ok" },
    },
    {
      action: "delete",
      author: "none",
      seenByStudent: false,
      expected: { student: "404", teacher: "403", admin: "ok" },
    },
    { action: "delete", author: "own", seenByStudent: false, expected: { student: "404", teacher: "ok", admin: "ok" } },
    {
      action: "rejudge",
      author: "another",
      seenByStudent: true,
      expected: { student: "403", teacher: "ok", admin: "ok" },
    },
  ]);
});
