import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { z } from "zod";
import { violationsOf } from "../errors/zod.js";
import { assertParsable, parseProtoJson, type JsonObject } from "./protojson.js";

/**
 * The derived ProtoJSON parser against a message that holds every kind of field the mapping knows.
 * The message is parsed from text here, as the contract's files are, so each rule of the proto3 JSON
 * mapping is tested whether or not today's API happens to use that field kind.
 */
const root = new protobuf.Root();
// protobufjs carries the well-known types itself; these names load them, not files.
root.loadSync(["timestamp", "duration", "wrappers", "struct"].map((name) => `google/protobuf/${name}.proto`));
protobuf.parse(
  `syntax = "proto3";
   package test.v1;
   import "google/protobuf/timestamp.proto";
   import "google/protobuf/duration.proto";
   import "google/protobuf/wrappers.proto";
   enum Colour { COLOUR_UNSPECIFIED = 0; COLOUR_RED = 1; COLOUR_GREEN = 2; }
   message Inner { string label = 1; repeated int32 counts = 2; }
   message Everything {
     string text_value = 1;
     bool flag = 2;
     int32 small = 3;
     uint32 unsigned_small = 4;
     int64 big = 5;
     uint64 unsigned_big = 6;
     double ratio = 7;
     bytes blob = 8;
     Colour colour = 9;
     optional string maybe_text = 10;
     optional int32 maybe_small = 11;
     Inner inner = 12;
     repeated Inner inners = 13;
     repeated string tags = 14;
     repeated Colour colours = 15;
     google.protobuf.Timestamp at = 16;
     google.protobuf.Duration took = 17;
     google.protobuf.Int32Value wrapped = 18;
     map<string, int64> totals = 19;
     oneof target { string user_id = 20; bool everyone = 21; }
     string renamed = 22 [json_name = "otherName"];
     map<bool, string> switches = 23;
     map<int32, Inner> by_number = 24;
   }
   message WithStruct { google.protobuf.Struct data = 1; }`,
  root,
  { keepCase: true },
);
root.resolveAll();
const Everything = root.lookupType("test.v1.Everything");

function accepts(json: JsonObject): JsonObject {
  const parsed = parseProtoJson(Everything, json);
  assert.ok(parsed.ok, `expected ${JSON.stringify(json)} to be accepted: ${JSON.stringify(parsed)}`);
  return parsed.ok ? parsed.value : {};
}

function refuses(json: JsonObject): { field: string; description: string }[] {
  const parsed = parseProtoJson(Everything, json);
  assert.equal(parsed.ok, false, `expected ${JSON.stringify(json)} to be refused`);
  return parsed.ok ? [] : parsed.violations;
}

const fieldsOf = (violations: { field: string }[]) => violations.map((violation) => violation.field);

describe("the derived ProtoJSON parser (src/validation/protojson.ts)", () => {
  describe("keys", () => {
    it("accepts lowerCamelCase and the original proto names, and answers lowerCamelCase", () => {
      assert.deepEqual(accepts({ textValue: "a", unsigned_small: 3 }), { textValue: "a", unsignedSmall: 3 });
      assert.deepEqual(accepts({ text_value: "a" }), { textValue: "a" });
    });

    it("takes a json_name and the proto name, not the camelCase of the proto name", () => {
      assert.deepEqual(accepts({ otherName: "x" }), { otherName: "x" });
      assert.deepEqual(accepts({ renamed: "x" }), { otherName: "x" });
    });

    it("refuses unknown keys, each with its path, nested ones included", () => {
      const violations = refuses({ colur: "COLOUR_RED", inner: { lable: "x" }, inners: [{}, { extra: 1 }] });
      assert.deepEqual(fieldsOf(violations), ["colur", "inner.lable", "inners.1.extra"]);
      assert.ok(violations.every((violation) => violation.description === "Unknown field."));
    });

    it("refuses the same field under both names", () => {
      assert.deepEqual(fieldsOf(refuses({ textValue: "a", text_value: "b" })), ["textValue"]);
    });
  });

  describe("null", () => {
    it("is the default of every field kind, and never an error", () => {
      const everyField = Object.fromEntries(Everything.fieldsArray.map((field) => [field.name, null]));
      assert.deepEqual(accepts(everyField), {});
    });

    it("is refused inside a list", () => {
      assert.deepEqual(fieldsOf(refuses({ tags: ["a", null] })), ["tags.1"]);
    });
  });

  describe("scalars", () => {
    it("leaves out implicit-presence defaults and keeps explicit ones", () => {
      assert.deepEqual(accepts({ textValue: "", flag: false, small: 0, big: "0", colour: "COLOUR_UNSPECIFIED" }), {});
      assert.deepEqual(accepts({ maybeText: "", maybeSmall: 0 }), { maybeText: "", maybeSmall: 0 });
    });

    it("takes 32-bit integers as numbers or decimal strings, exponents that name an integer included", () => {
      assert.deepEqual(accepts({ small: "42" }), { small: 42 });
      assert.deepEqual(accepts({ small: -7 }), { small: -7 });
      assert.deepEqual(accepts({ small: "1e2" }), { small: 100 });
      assert.deepEqual(accepts({ small: 1.0 }), { small: 1 });
      assert.deepEqual(accepts({ unsignedSmall: 4294967295 }), { unsignedSmall: 4294967295 });
    });

    it("refuses fractions, out-of-range values and non-numbers for 32-bit integers", () => {
      for (const small of [1.5, "1.5", 2 ** 31, "-2147483649", "abc", true, "0x10"]) {
        assert.deepEqual(fieldsOf(refuses({ small })), ["small"], JSON.stringify(small));
      }
      assert.deepEqual(fieldsOf(refuses({ unsignedSmall: -1 })), ["unsignedSmall"]);
    });

    it("takes 64-bit integers as strings or numbers and answers decimal strings", () => {
      assert.deepEqual(accepts({ big: "9223372036854775807" }), { big: "9223372036854775807" });
      assert.deepEqual(accepts({ big: -12 }), { big: "-12" });
      assert.deepEqual(accepts({ big: "-9223372036854775808" }), { big: "-9223372036854775808" });
      assert.deepEqual(accepts({ unsignedBig: "18446744073709551615" }), { unsignedBig: "18446744073709551615" });
      assert.deepEqual(accepts({ big: "1e3" }), { big: "1000" });
    });

    it("refuses 64-bit integers out of range, with fractions, or as inexact numbers", () => {
      for (const big of ["9223372036854775808", "1.5", 2 ** 60, "abc", ""]) {
        assert.deepEqual(fieldsOf(refuses({ big })), ["big"], String(big));
      }
      assert.deepEqual(fieldsOf(refuses({ unsignedBig: "-1" })), ["unsignedBig"]);
    });

    it("takes finite doubles as numbers or numeric strings and refuses NaN and infinities", () => {
      assert.deepEqual(accepts({ ratio: 0.25 }), { ratio: 0.25 });
      assert.deepEqual(accepts({ ratio: "2.5" }), { ratio: 2.5 });
      for (const ratio of ["NaN", "Infinity", "-Infinity", "x"]) {
        assert.deepEqual(fieldsOf(refuses({ ratio })), ["ratio"], ratio);
      }
    });

    it("checks JSON types: strings, booleans", () => {
      assert.deepEqual(fieldsOf(refuses({ textValue: 5, flag: "true" })), ["textValue", "flag"]);
    });

    it("takes bytes as standard or URL-safe base64, padded or not, and answers standard padded base64", () => {
      const bytes = Buffer.from([0xfb, 0xff, 0xbf]);
      assert.deepEqual(accepts({ blob: bytes.toString("base64") }), { blob: "+/+/" });
      assert.deepEqual(accepts({ blob: bytes.toString("base64url") }), { blob: "+/+/" });
      assert.deepEqual(accepts({ blob: "YQ" }), { blob: "YQ==" });
      assert.deepEqual(fieldsOf(refuses({ blob: "!!!" })), ["blob"]);
    });
  });

  describe("enums", () => {
    it("take names or numbers and answer names", () => {
      assert.deepEqual(accepts({ colour: "COLOUR_GREEN" }), { colour: "COLOUR_GREEN" });
      assert.deepEqual(accepts({ colour: 1 }), { colour: "COLOUR_RED" });
      assert.deepEqual(accepts({ colours: ["COLOUR_RED", 2] }), { colours: ["COLOUR_RED", "COLOUR_GREEN"] });
    });

    it("refuse names and numbers the enum lacks, UNRECOGNIZED included", () => {
      for (const colour of ["COLOUR_BLUE", "RED", 7, "UNRECOGNIZED", 1.5, true]) {
        assert.deepEqual(fieldsOf(refuses({ colour })), ["colour"], String(colour));
      }
    });
  });

  describe("well-known types", () => {
    it("take timestamps with any offset and up to nine fractional digits, answered in UTC", () => {
      assert.deepEqual(accepts({ at: "2026-11-22T10:00:00Z" }), { at: "2026-11-22T10:00:00.000Z" });
      assert.deepEqual(accepts({ at: "2026-11-22T13:30:00+03:30" }), { at: "2026-11-22T10:00:00.000Z" });
      assert.deepEqual(accepts({ at: "2026-11-22T05:00:00.123456789-05:00" }), { at: "2026-11-22T10:00:00.123Z" });
      assert.deepEqual(accepts({ at: "0001-01-01T00:00:00Z" }), { at: "0001-01-01T00:00:00.000Z" });
    });

    it("refuse timestamps that are not RFC 3339, not real or out of range", () => {
      for (const at of [
        "2026-11-22",
        "2026-11-22T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-11-22T25:00:00Z",
        "2026-11-22T10:00:00.1234567891Z",
        "0000-12-31T10:00:00Z",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        0,
      ]) {
        assert.deepEqual(fieldsOf(refuses({ at })), ["at"], String(at));
      }
    });

    it("take durations and wrappers in their JSON forms", () => {
      assert.deepEqual(accepts({ took: "1.5s", wrapped: "12" }), { took: "1.5s", wrapped: 12 });
      assert.deepEqual(fieldsOf(refuses({ took: "90m", wrapped: 1.5 })), ["took", "wrapped"]);
      for (const took of [1.5, "315576000001s", "-1.0000000001s"]) {
        assert.deepEqual(fieldsOf(refuses({ took })), ["took"], String(took));
      }
      assert.deepEqual(accepts({ took: "-315576000000.999999999s" }), { took: "-315576000000.999999999s" });
    });

    it("are refused at compile time when the API has no parser for them", () => {
      assert.throws(() => assertParsable(root.lookupType("test.v1.WithStruct")), /google\.protobuf\.Struct/);
      assert.doesNotThrow(() => assertParsable(Everything));
    });

    it("throw, rather than pass a value on unchecked, for a field type the parser does not know", () => {
      // Left unresolved on purpose: no .proto file can declare such a type, but a descriptor built by hand can.
      const odd = new protobuf.Root()
        .define("test.v2")
        .add(new protobuf.Type("Odd").add(new protobuf.Field("x", 1, "sfixed128")));
      assert.throws(() => parseProtoJson(odd.lookupType("Odd"), { x: 1 }), {
        message: "No ProtoJSON parser for the proto type sfixed128",
      });
    });
  });

  describe("messages, lists, maps and oneofs", () => {
    it("parse nested messages and lists of them with full paths", () => {
      assert.deepEqual(accepts({ inner: { label: "a", counts: ["1", 2] }, inners: [{ label: "b" }] }), {
        inner: { label: "a", counts: [1, 2] },
        inners: [{ label: "b" }],
      });
      assert.deepEqual(fieldsOf(refuses({ inners: [{ counts: [1, "x"] }], inner: "no" })).sort(), [
        "inner",
        "inners.0.counts.1",
      ]);
    });

    it("parse maps, keys and values by their types", () => {
      assert.deepEqual(accepts({ totals: { a: 1, b: "2" } }), { totals: { a: "1", b: "2" } });
      assert.deepEqual(fieldsOf(refuses({ totals: { a: "x" } })), ["totals.a"]);
    });

    it("refuse a value where a map belongs, and null as a map value", () => {
      assert.deepEqual(fieldsOf(refuses({ totals: ["a"] })), ["totals"]);
      assert.deepEqual(fieldsOf(refuses({ totals: "a=1" })), ["totals"]);
      assert.deepEqual(fieldsOf(refuses({ totals: { a: 1, b: null } })), ["totals.b"]);
    });

    it("take boolean and integer map keys in their text forms, with message values checked by path", () => {
      assert.deepEqual(accepts({ switches: { true: "on", false: "off" } }), { switches: { true: "on", false: "off" } });
      assert.deepEqual(accepts({ byNumber: { "7": { label: "seven" }, "-1": {} } }), {
        byNumber: { "7": { label: "seven" }, "-1": {} },
      });
      assert.deepEqual(
        fieldsOf(refuses({ switches: { yes: "on" }, by_number: { x: {}, "2": { lable: "two" }, "3": "three" } })),
        // Integer-like keys come first in a JavaScript object, whatever the order in the text.
        ["switches.yes", "byNumber.2.lable", "byNumber.3", "byNumber.x"],
      );
    });

    it("leave out an empty list, as the default it is", () => {
      assert.deepEqual(accepts({ tags: [], inners: [], textValue: "a" }), { textValue: "a" });
    });

    it("refuse a list where one value belongs, and a value where a list does", () => {
      assert.deepEqual(fieldsOf(refuses({ tags: "a", textValue: ["a"] })), ["tags", "textValue"]);
    });

    it("take one member of a oneof, by either name, and refuse a second", () => {
      assert.deepEqual(accepts({ user_id: "u" }), { userId: "u" });
      assert.deepEqual(accepts({ everyone: false }), { everyone: false });
      const violations = refuses({ userId: "u", everyone: true });
      assert.deepEqual(fieldsOf(violations), ["everyone"]);
      assert.match(violations[0]?.description ?? "", /Only one of userId, everyone/);
      assert.deepEqual(accepts({ userId: "u", everyone: null }), { userId: "u" });
    });

    it("reports every bad field at once", () => {
      assert.deepEqual(fieldsOf(refuses({ small: "x", colour: "NOPE", at: "then", extra: 1 })).sort(), [
        "at",
        "colour",
        "extra",
        "small",
      ]);
    });
  });
});

describe("violationsOf (src/errors/zod.ts)", () => {
  const schema = z.strictObject({ a: z.array(z.strictObject({ b: z.string().min(1, "Must not be empty.") })) });

  it("gives dotted paths through lists and nested objects, one per unknown key, behind a prefix", () => {
    const parsed = schema.safeParse({ a: [{ b: "ok" }, { b: "", z: 3 }], x: 1 });
    assert.equal(parsed.success, false);
    if (parsed.success) return;
    assert.deepEqual(
      violationsOf(parsed.error, "query")
        .map((violation) => violation.field)
        .sort(),
      ["query.a.1.b", "query.a.1.z", "query.x"],
    );
  });
});
