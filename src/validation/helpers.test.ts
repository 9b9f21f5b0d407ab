import assert from "node:assert/strict";
import { z } from "zod";
import { AppError } from "../errors/index.js";
import { chosenEnum, enumNames, queryFlag, seqCursor } from "./fields.js";
import { decodeCursor, encodeCursor, pageOf } from "./paging.js";
import { assertReferencesKnown } from "./references.js";

/** Catches the AppError `action` must throw. */
function appErrorOf(action: () => unknown): AppError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    return error;
  }
  assert.fail("expected an AppError");
}

describe("the shared field rules, cursors and references (src/validation)", () => {
  describe("enumNames", () => {
    enum Shade {
      SHADE_UNSPECIFIED = 0,
      SHADE_LIGHT = 1,
      SHADE_DARK = 2,
    }
    const shadeToJSON = (value: Shade) => Shade[value];

    it("lists the names of every value but the zero one, in order", () => {
      assert.deepEqual(enumNames(Shade, shadeToJSON), ["SHADE_LIGHT", "SHADE_DARK"]);
    });

    it("refuses an enum with nothing but its zero value, which no filter could ever match", () => {
      enum Empty {
        EMPTY_UNSPECIFIED = 0,
      }
      assert.throws(() => enumNames(Empty, (value: Empty) => Empty[value]), /An enum without values/);
    });
  });

  it("reads a query flag as true, false or absent, and refuses anything else", () => {
    const flag = z.strictObject({ mine: queryFlag() });
    assert.deepEqual(flag.parse({ mine: "true" }), { mine: true });
    assert.deepEqual(flag.parse({ mine: "false" }), { mine: false });
    assert.deepEqual(flag.parse({}), { mine: false });
    for (const mine of ["1", "yes", "TRUE", ""]) assert.equal(flag.safeParse({ mine }).success, false, mine);
  });

  it("refuses the zero value of a chosen enum with the given message", () => {
    const rule = chosenEnum("Pick a shade.");
    assert.equal(rule.parse(2), 2);
    const parsed = rule.safeParse(0);
    assert.equal(parsed.success, false);
    assert.equal(parsed.error?.issues[0]?.message, "Pick a shade.");
  });

  describe("cursors", () => {
    it("round-trip a position, and a page names the next one only when there is more", () => {
      const rows = [{ seq: "1" }, { seq: "2" }, { seq: "3" }];
      const full = pageOf(rows, 2, (row) => [row.seq]);
      assert.deepEqual(full.items, rows.slice(0, 2));
      assert.deepEqual(decodeCursor(full.nextCursor, seqCursor), ["2"]);
      assert.deepEqual(
        pageOf(rows, 3, (row) => [row.seq]),
        { items: rows, nextCursor: "" },
      );
      assert.deepEqual(
        pageOf([], 3, (row: { seq: string }) => [row.seq]),
        { items: [], nextCursor: "" },
      );
    });

    it("refuse anything but a cursor of the same ordering with 400 on `cursor`", () => {
      const notJson = Buffer.from("{not json").toString("base64url");
      for (const cursor of ["", "%%%", notJson, encodeCursor([1]), encodeCursor(["1", "2"]), encodeCursor(["-1"])]) {
        const error = appErrorOf(() => decodeCursor(cursor, seqCursor));
        assert.equal(error.code, "invalid_argument", cursor);
        assert.deepEqual(
          error.fieldViolations.map((violation) => violation.field),
          ["cursor"],
        );
      }
    });
  });

  describe("assertReferencesKnown", () => {
    const known = new Set(["5d0b3f5c-8a53-4b0e-9a43-4c1f1e8e0d7a", "0e4b1c6f-2d7a-4f59-8a9b-3c2d1e0f9a8b"]);

    it("passes ids that were found, whatever their case", () => {
      assert.doesNotThrow(() =>
        assertReferencesKnown(
          [
            { id: "5D0B3F5C-8A53-4B0E-9A43-4C1F1E8E0D7A", field: "groupId" },
            { id: "0e4b1c6f-2d7a-4f59-8a9b-3c2d1e0f9a8b", field: "groupIds.1" },
          ],
          known,
          "group",
        ),
      );
      assert.doesNotThrow(() => assertReferencesKnown([], known, "group"));
    });

    it("answers 422 with one violation per unknown id, on the field that named it", () => {
      const one = appErrorOf(() =>
        assertReferencesKnown([{ id: "9f1c2b3a-0000-4000-8000-000000000000", field: "groupId" }], known, "group"),
      );
      assert.equal(one.code, "failed_precondition");
      assert.equal(one.status, 422);
      assert.equal(one.message, "The group does not exist.");
      assert.deepEqual(one.fieldViolations, [{ field: "groupId", description: "No such group." }]);
      const two = appErrorOf(() =>
        assertReferencesKnown(
          [
            { id: "9f1c2b3a-0000-4000-8000-000000000000", field: "taskIds.0" },
            { id: "5d0b3f5c-8a53-4b0e-9a43-4c1f1e8e0d7a", field: "taskIds.1" },
            { id: "9f1c2b3a-0000-4000-8000-000000000001", field: "taskIds.2" },
          ],
          known,
          "task",
        ),
      );
      assert.equal(two.message, "Some tasks do not exist.");
      assert.deepEqual(
        two.fieldViolations.map((violation) => violation.field),
        ["taskIds.0", "taskIds.2"],
      );
    });
  });
});
