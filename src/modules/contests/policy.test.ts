import { checkAuthoredPolicy } from "../../testing/policy.js";
import { decide } from "./policy.js";

/** Sections 2 and 3 of the assignments contract as a table: who sees and acts on which contest. */
describe("contest policy (assignments contract, sections 2 and 3)", () => {
  checkAuthoredPolicy("contest", decide, [
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
      seenByStudent: true,
      expected: { student: "403", teacher: "403", admin: "ok" },
    },
    {
      action: "delete",
      author: "none",
      seenByStudent: false,
      expected: { student: "404", teacher: "403", admin: "ok" },
    },
    {
      action: "results",
      author: "another",
      seenByStudent: true,
      expected: { student: "403", teacher: "ok", admin: "ok" },
    },
    {
      action: "ownResult",
      author: "another",
      seenByStudent: true,
      expected: { student: "ok", teacher: "403", admin: "403" },
    },
    {
      action: "ownResult",
      author: "another",
      seenByStudent: false,
      expected: { student: "404", teacher: "403", admin: "403" },
    },
  ]);
});
