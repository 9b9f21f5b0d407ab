import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import protobuf from "protobufjs";
import { appRoot } from "../config/paths.js";
import type { MessageCodec } from "../http/messages.js";
import { contract, fullNameOf, lowerCamelOf, realOneofOf } from "./descriptors.js";
import { randomSource } from "../testing/random.js";
import { isoTimestampOf, protoJsonWriter, protoJsonWriterOf } from "./protojson-writer.js";

type Shape = Record<string, unknown>;

const YEAR_10000_MS = Date.UTC(10000, 0, 1);

/** Every ts-proto codec of the contract, by its message's proto name. */
async function contractCodecs(): Promise<Map<string, MessageCodec<unknown>>> {
  const codecs = new Map<string, MessageCodec<unknown>>();
  const dir = path.join(appRoot, "generated", "shtp", "v1");
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith(".ts"))) {
    const exported = (await import(path.join(dir, file))) as Record<string, unknown>;
    for (const value of Object.values(exported)) {
      const codec = value as Partial<MessageCodec<unknown>>;
      if (typeof codec === "object" && codec !== null && typeof codec.$type === "string" && codec.toJSON) {
        codecs.set(codec.$type, codec as MessageCodec<unknown>);
      }
    }
  }
  return codecs;
}

/** Every message type of the contract's own package. */
function contractMessages(): protobuf.Type[] {
  const found: protobuf.Type[] = [];
  const walk = (namespace: protobuf.NamespaceBase) => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) found.push(nested);
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(contract().lookup("shtp.v1") as protobuf.Namespace);
  return found;
}

/** Random values meant to find where the writer and toJSON + JSON.stringify could part. */
function messageGenerator(random: () => number) {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const strings = ["", "a", "Ünïcödé ✓", 'quote " and \\ backslash', "\u0000\u001f\u007f control", "\ud800 lone", "😀"];
  const integers = [0, 1, -1, 2147483647, -2147483648, 2.5, -2.5, 0.49, -0.5, 1e-7];
  const instants = [0, -1, 951_782_400_000, 1_709_164_800_123, YEAR_10000_MS - 1, YEAR_10000_MS, -62_198_755_200_000];

  function value(field: protobuf.Field, depth: number): unknown {
    const type = field.resolvedType;
    if (type instanceof protobuf.Enum) return pick([...Object.values(type.values), 99]);
    if (type instanceof protobuf.Type) {
      if (type.fullName === ".google.protobuf.Timestamp") {
        return new Date(random() < 0.5 ? pick(instants) : Math.floor((random() - 0.2) * 4e14));
      }
      return depth > 3 ? {} : message(type, depth + 1);
    }
    if (field.type === "string") return random() < 0.7 ? pick(strings) : Math.random().toString(36).repeat(3);
    if (field.type === "bool") return random() < 0.5;
    return random() < 0.7 ? pick(integers) : Math.floor((random() - 0.5) * 2 ** 32);
  }

  function message(type: protobuf.Type, depth = 0): Shape {
    const shape: Shape = {};
    for (const field of type.fieldsArray) {
      const oneof = realOneofOf(field);
      if (oneof) {
        if (random() < 1 / (oneof.fieldsArray.length + 1)) continue;
        if (shape[lowerCamelOf(oneof.name)] === undefined || random() < 0.3) {
          shape[lowerCamelOf(oneof.name)] = { $case: lowerCamelOf(field.name), value: value(field, depth) };
        }
        continue;
      }
      // Left out only where ts-proto's types allow it; an implicit-presence field then holds its default.
      if (random() < 0.25) {
        if (field.repeated) shape[lowerCamelOf(field.name)] = [];
        else if (!field.partOf && !(field.resolvedType instanceof protobuf.Type)) {
          shape[lowerCamelOf(field.name)] = field.resolvedType ? 0 : ({ string: "", bool: false }[field.type] ?? 0);
        }
        continue;
      }
      shape[lowerCamelOf(field.name)] = field.repeated
        ? Array.from({ length: Math.floor(random() * 4) }, () => value(field, depth))
        : value(field, depth);
    }
    return shape;
  }
  return message;
}

describe("ProtoJSON writer (src/contract/protojson-writer.ts)", () => {
  it("writes toISOString's text for every instant it formats itself, and leaves the rest to it", () => {
    const random = randomSource(17);
    const edges = [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, 951_868_799_999, 4_107_542_399_999];
    const samples = [...edges, YEAR_10000_MS - 1, YEAR_10000_MS, -1, -86_400_001];
    for (let index = 0; index < 200_000; index++) samples.push(Math.floor(random() * YEAR_10000_MS));
    for (const ms of samples) {
      const date = new Date(ms);
      assert.equal(isoTimestampOf(date), date.toISOString(), `at ${ms}`);
    }
    assert.throws(() => isoTimestampOf(new Date(Number.NaN)), RangeError, "an invalid date throws, as toISOString");
  });

  it("writes every message of the contract byte for byte as JSON.stringify(Codec.toJSON(message))", async () => {
    const codecs = await contractCodecs();
    const types = contractMessages();
    assert.ok(types.length > 50, `the contract's messages were found (${types.length})`);
    for (const type of types) {
      const name = fullNameOf(type);
      const codec = codecs.get(name);
      assert.ok(codec, `a ts-proto codec for ${name}`);
      const write = protoJsonWriter<unknown>(name);
      assert.equal(write(codec.fromJSON({})), JSON.stringify(codec.toJSON(codec.fromJSON({}))), `${name}, empty`);
      for (let seed = 1; seed <= 150; seed++) {
        const shape = messageGenerator(randomSource(seed))(type);
        const expected: string = JSON.stringify(codec.toJSON(shape));
        assert.equal(write(shape), expected, `${name}, seed ${seed}`);
      }
    }
  });

  it("refuses, when it is made, a message with a field kind it has no writer for", () => {
    const { root } = protobuf.parse(
      `syntax = "proto3"; package google.protobuf; message Duration { int64 seconds = 1; }`,
    );
    protobuf.parse(
      `syntax = "proto3"; package probe;
       message WithMap { map<string, string> labels = 1; }
       message WithBytes { bytes data = 1; }
       message WithLong { int64 count = 1; }
       message WithDuration { google.protobuf.Duration timeout = 1; }
       message Holder { WithBytes inner = 1; }`,
      root,
    );
    root.resolveAll();
    for (const [name, kind] of [
      ["probe.WithMap", /map fields have no ProtoJSON writer/],
      ["probe.WithBytes", /bytes fields have no ProtoJSON writer/],
      ["probe.WithLong", /int64 fields have no ProtoJSON writer/],
      ["probe.WithDuration", /google\.protobuf\.Duration has no ProtoJSON writer/],
      ["probe.Holder", /bytes fields have no ProtoJSON writer/],
    ] as const) {
      assert.throws(() => protoJsonWriterOf(root.lookupType(name)), kind, name);
    }
  });
});
