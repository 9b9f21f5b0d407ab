import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { componentName, ProtoSchemaBuilder } from "./openapi-schemas.js";

/**
 * Schemas of message shapes the contract does not use yet (maps, other packages, Empty), from a
 * contract parsed here as the real one is, so OpenAPI follows the .proto file the day a module does.
 */
const root = new protobuf.Root();
root.loadSync(["google/protobuf/timestamp.proto", "google/protobuf/empty.proto"]);
protobuf.parse(
  `syntax = "proto3";
   package test.v1;
   import "google/protobuf/timestamp.proto";
   import "google/protobuf/empty.proto";
   enum Level { LEVEL_UNSPECIFIED = 0; LEVEL_LOW = 1; LEVEL_HIGH = 2; }
   message Tally { uint64 count = 1; }
   // Totals per name.
   message Board {
     // Each name's tally.
     map<string, Tally> by_name = 1;
     map<string, int64> points = 2;
     repeated Level levels = 3;
     google.protobuf.Timestamp at = 4;
     google.protobuf.Empty nothing = 5;
   }`,
  root,
  { keepCase: true, alternateCommentMode: true },
);
root.resolveAll();

describe("ProtoSchemaBuilder (src/contract/openapi-schemas.ts)", () => {
  it("names components of other packages by their full name, and ours without the package", () => {
    assert.equal(componentName("test.v1.Board"), "test_v1_Board");
    assert.equal(componentName("shtp.v1.VersionInfo"), "VersionInfo");
  });

  it("describes maps as objects of their value's schema, following message references", () => {
    const builder = new ProtoSchemaBuilder(root);
    assert.deepEqual(builder.refTo("test.v1.Board"), { $ref: "#/components/schemas/test_v1_Board" });
    const board = builder.components.test_v1_Board as { description?: string; properties: Record<string, unknown> };
    assert.equal(board.description, "Totals per name.");
    assert.deepEqual(board.properties.byName, {
      type: "object",
      additionalProperties: { $ref: "#/components/schemas/test_v1_Tally" },
      description: "Each name's tally.",
    });
    assert.deepEqual(board.properties.points, {
      type: "object",
      additionalProperties: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
    });
    assert.deepEqual(board.properties.levels, {
      type: "array",
      items: { type: "string", enum: ["LEVEL_LOW", "LEVEL_HIGH"] },
    });
    assert.deepEqual(board.properties.at, { type: "string", format: "date-time" });
    assert.deepEqual(board.properties.nothing, { type: "object", additionalProperties: false });
    assert.deepEqual(Object.keys(builder.components).sort(), ["test_v1_Board", "test_v1_Tally"]);
    assert.deepEqual((builder.components.test_v1_Tally as { properties: unknown }).properties, {
      count: { type: "string", format: "int64", pattern: "^[0-9]+$" },
    });
  });

  it("refuses a field whose type has no ProtoJSON schema, rather than documenting it wrongly", () => {
    // Left unresolved on purpose: a type the builder has no schema for must stop the build.
    const odd = new protobuf.Root()
      .define("test.v2")
      .add(new protobuf.Type("Odd").add(new protobuf.Field("x", 1, "sfixed128")));
    const builder = new ProtoSchemaBuilder(odd.root);
    assert.throws(() => builder.refTo("test.v2.Odd"), { message: "No JSON Schema for proto type sfixed128" });
  });
});
