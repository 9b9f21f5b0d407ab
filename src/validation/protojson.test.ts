import assert from "node:assert/strict";
import { z } from "zod";
import {
  enumNames,
  protoBool,
  protoEnum,
  protoInt32,
  protoInt64,
  protoMessage,
  protoOptional,
  protoRepeated,
  protoRequest,
  protoString,
  protoTimestamp,
} from "./protojson.js";
import { violationsOf } from "./violations.js";

/** An enum shaped as ts-proto emits it: names to numbers, numbers back to names, and UNRECOGNIZED. */
const Role = {
  UNSPECIFIED: 0,
  STUDENT: 1,
  TEACHER: 2,
  UNRECOGNIZED: -1,
  0: "UNSPECIFIED",
  1: "STUDENT",
  2: "TEACHER",
  "-1": "UNRECOGNIZED",
} as const;

type Role = 0 | 1 | 2 | -1;

/** The generated `roleToJSON`: the ProtoJSON name carries the enum's prefix. */
function roleToJSON(value: Role): string {
  switch (value) {
    case 0:
      return "ROLE_UNSPECIFIED";
    case 1:
      return "ROLE_STUDENT";
    case 2:
      return "ROLE_TEACHER";
    case -1:
      return "UNRECOGNIZED";
  }
}

/** Parses and returns the violations, failing the test if the value was accepted. */
function violationsFor(schema: z.ZodType, value: unknown): { field: string; description: string }[] {
  const parsed = schema.safeParse(value);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(value)} to be refused`);
  return parsed.success ? [] : violationsOf(parsed.error);
}

/** Asserts `schema` turns `value` into `expected`. */
function accepts(schema: z.ZodType, value: unknown, expected: unknown): void {
  const parsed = schema.safeParse(value);
  assert.ok(parsed.success, `expected ${JSON.stringify(value)} to be accepted: ${parsed.error?.message}`);
  assert.deepEqual(parsed.data, expected);
}

/** Asserts `schema` refuses `value`. */
function refuses(schema: z.ZodType, value: unknown): void {
  assert.equal(schema.safeParse(value).success, false, `expected ${JSON.stringify(value)} to be refused`);
}

/** Wraps a field in a request so absence can be tested the way bodies see it. */
const field = (schema: z.ZodType) => protoRequest({ value: schema });

describe("ProtoJSON zod primitives (src/validation/protojson.ts)", () => {
  describe("protoString", () => {
    it("treats absent, null and the empty string alike", () => {
      const schema = field(protoString());
      accepts(schema, {}, { value: "" });
      accepts(schema, { value: null }, { value: "" });
      accepts(schema, { value: "" }, { value: "" });
      accepts(schema, { value: "hello" }, { value: "hello" });
    });

    it("runs the checks on the default, so a required string refuses absent, null and empty", () => {
      const schema = field(protoString(z.string().min(1)));
      for (const body of [{}, { value: null }, { value: "" }]) {
        const violations = violationsFor(schema, body);
        assert.equal(violations.length, 1, JSON.stringify(body));
        assert.equal(violations[0]?.field, "value");
      }
      accepts(schema, { value: "x" }, { value: "x" });
    });

    it("refuses values that are not strings", () => {
      const schema = field(protoString());
      for (const value of [1, true, [], {}]) refuses(schema, { value });
    });

    it("applies max lengths", () => {
      const schema = protoString(z.string().max(3));
      accepts(schema, "abc", "abc");
      refuses(schema, "abcd");
    });
  });

  describe("protoBool", () => {
    it("defaults absent and null to false and refuses strings", () => {
      const schema = field(protoBool());
      accepts(schema, {}, { value: false });
      accepts(schema, { value: null }, { value: false });
      accepts(schema, { value: true }, { value: true });
      refuses(schema, { value: "true" });
    });
  });

  describe("protoInt32", () => {
    it("takes numbers and decimal strings, and defaults to 0", () => {
      const schema = field(protoInt32());
      accepts(schema, { value: 42 }, { value: 42 });
      accepts(schema, { value: "42" }, { value: 42 });
      accepts(schema, { value: "-7" }, { value: -7 });
      accepts(schema, {}, { value: 0 });
      accepts(schema, { value: null }, { value: 0 });
    });

    it("refuses fractions, non-decimal strings and values outside the int32 range", () => {
      const schema = protoInt32();
      for (const value of [1.5, "1.5", "abc", "", "0x10", "1e3", "01", 2 ** 31, -(2 ** 31) - 1, "2147483648", true]) {
        refuses(schema, value);
      }
      accepts(schema, 2 ** 31 - 1, 2 ** 31 - 1);
      accepts(schema, -(2 ** 31), -(2 ** 31));
    });

    it("applies narrower bounds after the range, including to the default", () => {
      const schema = field(protoInt32(z.number().min(1).max(100)));
      accepts(schema, { value: 100 }, { value: 100 });
      refuses(schema, { value: 101 });
      assert.equal(violationsFor(schema, {})[0]?.field, "value");
    });
  });

  describe("protoInt64", () => {
    it("takes decimal strings and normalises safe integer numbers to strings", () => {
      const schema = field(protoInt64());
      accepts(schema, { value: "123" }, { value: "123" });
      accepts(schema, { value: "-9223372036854775808" }, { value: "-9223372036854775808" });
      accepts(schema, { value: "9223372036854775807" }, { value: "9223372036854775807" });
      accepts(schema, { value: 123 }, { value: "123" });
      accepts(schema, { value: -5 }, { value: "-5" });
      accepts(schema, {}, { value: "0" });
      accepts(schema, { value: null }, { value: "0" });
    });

    it("refuses non-integers, unsafe numbers and values outside the 64-bit range", () => {
      const schema = protoInt64();
      for (const value of ["abc", "1.5", 1.5, "", "9223372036854775808", "-9223372036854775809", 2 ** 63, true]) {
        refuses(schema, value);
      }
      const violations = violationsFor(field(schema), { value: "1.5" });
      assert.deepEqual(violations, [{ field: "value", description: "Expected a 64-bit integer as a decimal string." }]);
      assert.deepEqual(violationsFor(field(schema), { value: "9223372036854775808" }), [
        { field: "value", description: "Out of the 64-bit range." },
      ]);
    });
  });

  describe("protoEnum and enumNames", () => {
    it("collects the ProtoJSON names, leaving out UNRECOGNIZED and, by default, the zero value", () => {
      assert.deepEqual(enumNames(Role, roleToJSON), ["ROLE_STUDENT", "ROLE_TEACHER"]);
      assert.deepEqual(enumNames(Role, roleToJSON, { includeUnspecified: true }), [
        "ROLE_UNSPECIFIED",
        "ROLE_STUDENT",
        "ROLE_TEACHER",
      ]);
    });

    it("refuses an enum with no usable values", () => {
      const empty = { UNSPECIFIED: 0, UNRECOGNIZED: -1, 0: "UNSPECIFIED", "-1": "UNRECOGNIZED" };
      assert.throws(() => enumNames(empty, roleToJSON), /without values/);
    });

    it("accepts names and refuses numbers, UNRECOGNIZED, the zero value and unknown names", () => {
      const schema = field(protoEnum(enumNames(Role, roleToJSON), "ROLE_UNSPECIFIED"));
      accepts(schema, { value: "ROLE_STUDENT" }, { value: "ROLE_STUDENT" });
      accepts(schema, { value: "ROLE_TEACHER" }, { value: "ROLE_TEACHER" });
      for (const value of [1, 0, "1", "UNRECOGNIZED", "ROLE_UNSPECIFIED", "STUDENT", "role_student", -1]) {
        const violations = violationsFor(schema, { value });
        assert.equal(violations[0]?.field, "value", JSON.stringify(value));
      }
    });

    it("refuses an absent or null value when the zero value is not a choice", () => {
      const schema = field(protoEnum(enumNames(Role, roleToJSON), "ROLE_UNSPECIFIED"));
      assert.equal(violationsFor(schema, {})[0]?.field, "value");
      assert.equal(violationsFor(schema, { value: null })[0]?.field, "value");
    });

    it("defaults to the zero value when it is a choice", () => {
      const names = enumNames(Role, roleToJSON, { includeUnspecified: true });
      const schema = field(protoEnum(names, "ROLE_UNSPECIFIED"));
      accepts(schema, {}, { value: "ROLE_UNSPECIFIED" });
      accepts(schema, { value: null }, { value: "ROLE_UNSPECIFIED" });
      refuses(schema, { value: "UNRECOGNIZED" });
    });
  });

  describe("protoTimestamp", () => {
    const schema = field(protoTimestamp());

    it("accepts RFC 3339 with Z or an offset and fractions of up to 9 digits", () => {
      for (const value of [
        "2026-11-22T10:00:00Z",
        "2026-11-22T10:00:00+03:00",
        "2026-11-22T10:00:00-05:30",
        "2026-11-22T10:00:00.5Z",
        "2026-11-22T10:00:00.123456789Z",
        "2024-02-29T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
      ]) {
        accepts(schema, { value }, { value });
      }
    });

    it("leaves absent and null unset", () => {
      accepts(schema, {}, {});
      accepts(schema, { value: null }, { value: undefined });
    });

    it("refuses impossible dates, wrong shapes, a missing offset and numbers", () => {
      for (const value of [
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-11-22 10:00:00Z",
        "2026-11-22T25:00:00Z",
        "2026-11-22T10:60:00Z",
        "2026-11-22T10:00:60Z",
        "2026-11-22T10:00:00",
        "2026-11-22T10:00:00+24:00",
        "2026-11-22T10:00:00.1234567890Z",
        "0000-01-01T00:00:00Z",
        "2026-11-22",
        "",
        1_700_000_000,
        1_700_000_000_000,
      ]) {
        const violations = violationsFor(schema, { value });
        assert.equal(violations[0]?.field, "value", JSON.stringify(value));
      }
    });

    it("says why: the shape, or a date and time that does not exist", () => {
      assert.deepEqual(violationsFor(schema, { value: "2026-11-22 10:00:00Z" }), [
        { field: "value", description: "Expected an RFC 3339 timestamp such as 2026-11-22T10:00:00Z." },
      ]);
      assert.deepEqual(violationsFor(schema, { value: "2026-02-30T00:00:00Z" }), [
        { field: "value", description: "Not a real date and time." },
      ]);
    });
  });

  describe("protoMessage", () => {
    it("leaves absent and null unset and checks a present message strictly", () => {
      const schema = field(protoMessage({ name: protoString(z.string().min(1)) }));
      accepts(schema, {}, {});
      accepts(schema, { value: null }, { value: undefined });
      accepts(schema, { value: { name: "x" } }, { value: { name: "x" } });
      assert.deepEqual(
        violationsFor(schema, { value: { name: "x", extra: 1 } }).map((violation) => violation.field),
        ["value.extra"],
      );
    });
  });

  describe("protoRepeated", () => {
    it("turns absent and null into the empty list", () => {
      const schema = field(protoRepeated(protoString()));
      accepts(schema, {}, { value: [] });
      accepts(schema, { value: null }, { value: [] });
      accepts(schema, { value: ["a", null] }, { value: ["a", ""] });
    });

    it("checks each item and the maximum count", () => {
      const schema = field(protoRepeated(protoString(z.string().min(1)), { max: 2 }));
      accepts(schema, { value: ["a", "b"] }, { value: ["a", "b"] });
      assert.deepEqual(
        violationsFor(schema, { value: ["a", "b", "c"] }).map((violation) => violation.field),
        ["value"],
      );
      assert.deepEqual(
        violationsFor(schema, { value: ["a", ""] }).map((violation) => violation.field),
        ["value.1"],
      );
      refuses(schema, { value: "a" });
    });

    it("caps lists at 1000 items unless told otherwise", () => {
      const schema = protoRepeated(protoString());
      accepts(
        schema,
        Array.from({ length: 1000 }, () => "x"),
        Array.from({ length: 1000 }, () => "x"),
      );
      refuses(
        schema,
        Array.from({ length: 1001 }, () => "x"),
      );
    });
  });

  describe("protoOptional", () => {
    it("leaves absent and null unset but checks any present value, the default included", () => {
      const schema = field(protoOptional(z.string().min(1)));
      accepts(schema, {}, {});
      accepts(schema, { value: null }, { value: undefined });
      accepts(schema, { value: "x" }, { value: "x" });
      assert.equal(violationsFor(schema, { value: "" })[0]?.field, "value");
    });
  });

  describe("protoRequest", () => {
    it("refuses unknown keys at every level and keeps known ones", () => {
      const schema = protoRequest({
        name: protoString(),
        items: protoRepeated(protoRequest({ id: protoString() })),
      });
      accepts(schema, { name: "a", items: [{ id: "1" }] }, { name: "a", items: [{ id: "1" }] });
      assert.deepEqual(
        violationsFor(schema, { name: "a", Name: "b", items: [{ id: "1", ID: "2" }] })
          .map((violation) => violation.field)
          .sort(),
        ["Name", "items.0.ID"],
      );
    });

    it("refuses snake_case spellings of camelCase fields", () => {
      const schema = protoRequest({ fieldViolations: protoRepeated(protoString()) });
      assert.deepEqual(violationsFor(schema, { field_violations: [] }), [
        { field: "field_violations", description: "Unknown field." },
      ]);
    });
  });
});

describe("violationsOf (src/validation/violations.ts)", () => {
  const schema = protoRequest({
    a: protoRepeated(protoRequest({ b: protoString(z.string().min(1, "Must not be empty.")) })),
    c: protoInt32(),
  });

  it("gives dotted paths through lists and nested messages", () => {
    assert.deepEqual(violationsFor(schema, { a: [{ b: "ok" }, { b: "" }] }), [
      { field: "a.1.b", description: "Must not be empty." },
    ]);
    assert.deepEqual(violationsFor(schema, { a: [{ b: "" }] }), [
      { field: "a.0.b", description: "Must not be empty." },
    ]);
  });

  it("reports one violation per unknown key, each under its own path", () => {
    const violations = violationsFor(schema, { x: 1, y: 2, a: [{ b: "ok", z: 3 }] });
    assert.deepEqual(
      [...violations].sort((left, right) => left.field.localeCompare(right.field)),
      [
        { field: "a.0.z", description: "Unknown field." },
        { field: "x", description: "Unknown field." },
        { field: "y", description: "Unknown field." },
      ],
    );
  });

  it("reports every bad field at once", () => {
    const fields = violationsFor(schema, { a: [{ b: "" }, { b: "" }], c: "x" }).map((violation) => violation.field);
    assert.deepEqual(fields.sort(), ["a.0.b", "a.1.b", "c"]);
  });

  it("puts a prefix in front of every path, unknown keys included", () => {
    const parsed = schema.safeParse({ a: [{ b: "" }], extra: true });
    assert.equal(parsed.success, false);
    if (parsed.success) return;
    assert.deepEqual(
      violationsOf(parsed.error, "query")
        .map((violation) => violation.field)
        .sort(),
      ["query.a.0.b", "query.extra"],
    );
  });

  it("names the root with an empty path when the value itself is wrong", () => {
    assert.deepEqual(
      violationsFor(schema, "not an object").map((violation) => violation.field),
      [""],
    );
  });
});
