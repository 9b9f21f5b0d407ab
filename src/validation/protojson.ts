import protobuf from "protobufjs";
import type { FieldViolation } from "../errors/index.js";
import { fullNameOf, hasExplicitPresence, jsonNameOf, realOneofOf } from "../contract/descriptors.js";

/**
 * The ProtoJSON parser of request messages, derived from the contract's descriptors: whatever a
 * message declares (names, scalar types, 64-bit integers, enums, `optional`, `repeated`, `oneof`,
 * well-known types) is accepted the moment it is in the .proto file, in every form the proto3 JSON
 * mapping obliges a parser to accept, and brought to the one canonical form ts-proto's `fromJSON`
 * converts safely (it coerces rather than checks, so nothing unchecked may reach it).
 *
 * Accepted, as the mapping says: keys in lowerCamelCase (`json_name`) or as the proto field name;
 * enums by name or number; 32-bit integers as numbers or decimal strings (exponents that still name an
 * integer, such as `1e2`, included); 64-bit integers as strings or numbers; timestamps with any offset
 * and up to nine fractional digits; bytes as standard or URL-safe base64, padded or not; `null` as the
 * field's default. Refused, with the field's lowerCamelCase path: unknown keys (so typos surface), the
 * same field under both names, two members of one oneof, wrong JSON types, out-of-range numbers, enum
 * values the contract lacks and non-finite floats (`NaN` has no column to go to).
 */

/** A JSON object after JSON.parse: what ProtoJSON messages are. */
export type JsonObject = { [key: string]: unknown };

/** The result of parsing: the canonical ProtoJSON, or what was wrong with it. */
export type ParseResult = { ok: true; value: JsonObject } | { ok: false; violations: FieldViolation[] };

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const UINT32 = { min: 0, max: 2 ** 32 - 1 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const UINT64 = { min: 0n, max: 2n ** 64n - 1n };

const int32Types = new Set(["int32", "sint32", "sfixed32"]);
const uint32Types = new Set(["uint32", "fixed32"]);
const int64Types = new Set(["int64", "sint64", "sfixed64"]);
const uint64Types = new Set(["uint64", "fixed64"]);

/** Wrapper types: ProtoJSON writes them as their wrapped scalar. */
const wrappers: Record<string, string> = {
  "google.protobuf.DoubleValue": "double",
  "google.protobuf.FloatValue": "float",
  "google.protobuf.Int64Value": "int64",
  "google.protobuf.UInt64Value": "uint64",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.BoolValue": "bool",
  "google.protobuf.StringValue": "string",
  "google.protobuf.BytesValue": "bytes",
};

/**
 * Well-known types with a JSON form of their own that the API does not use. Refused when a request
 * message is compiled (at boot), not at run time, so adding one to a request fails loudly and early.
 */
const unsupportedWellKnown = new Set([
  "google.protobuf.Any",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.FieldMask",
]);

/**
 * Checks that every type a request message reaches has a ProtoJSON form this parser knows.
 * @param type - a request message
 * @throws Error naming the field and the type this parser cannot take
 */
export function assertParsable(type: protobuf.Type, seen = new Set<string>()): void {
  const name = fullNameOf(type);
  if (seen.has(name)) return;
  seen.add(name);
  for (const field of type.fieldsArray) {
    const resolved = field.resolvedType;
    if (!(resolved instanceof protobuf.Type)) continue;
    const nested = fullNameOf(resolved);
    if (unsupportedWellKnown.has(nested)) {
      throw new Error(`${name}.${field.name}: ${nested} has no ProtoJSON parser here; use a message of our own.`);
    }
    assertParsable(resolved, seen);
  }
}

/**
 * Parses the ProtoJSON form of a message into its canonical form.
 * @param type - the message's descriptor
 * @param json - the parsed request body, already known to be an object
 * @returns the canonical object (lowerCamelCase keys, enum names, 64-bit integers as strings, UTC
 *   timestamps; unset and default fields left out), or every violation found, with full paths
 */
export function parseProtoJson(type: protobuf.Type, json: JsonObject): ParseResult {
  const violations: FieldViolation[] = [];
  const value = parseMessage(type, json, "", violations);
  return violations.length === 0 ? { ok: true, value } : { ok: false, violations };
}

/** Unset: the field is left out of the canonical object. */
const UNSET = Symbol("unset");
type Parsed = unknown;

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function parseMessage(type: protobuf.Type, json: JsonObject, path: string, violations: FieldViolation[]): JsonObject {
  const byKey = new Map<string, protobuf.Field>();
  for (const field of type.fieldsArray) {
    byKey.set(jsonNameOf(field), field);
    byKey.set(field.name, field);
  }
  const out: JsonObject = {};
  const given = new Map<protobuf.Field, string>();
  const oneofMember = new Map<protobuf.OneOf, string>();
  for (const [key, raw] of Object.entries(json)) {
    const field = byKey.get(key);
    const camel = field ? jsonNameOf(field) : key;
    const fieldPath = join(path, camel);
    if (!field) {
      violations.push({ field: fieldPath, description: "Unknown field." });
      continue;
    }
    const earlier = given.get(field);
    if (earlier !== undefined) {
      violations.push({ field: fieldPath, description: `Given twice, as ${earlier} and as ${key}.` });
      continue;
    }
    given.set(field, key);
    const parsed = parseField(field, raw, fieldPath, violations);
    if (parsed === UNSET) continue;
    const oneof = realOneofOf(field);
    if (oneof) {
      const other = oneofMember.get(oneof);
      if (other !== undefined) {
        violations.push({
          field: fieldPath,
          description: `Only one of ${oneof.fieldsArray.map(jsonNameOf).join(", ")} may be set (${other} is).`,
        });
        continue;
      }
      oneofMember.set(oneof, camel);
    }
    out[camel] = parsed;
  }
  return out;
}

function parseField(field: protobuf.Field, raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  if (raw === null) return UNSET;
  if (field instanceof protobuf.MapField) {
    if (!isObject(raw)) return refuse(violations, path, "Expected an object.");
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(raw)) {
      const keyPath = join(path, key);
      const parsedKey = parseMapKey(field.keyType, key, keyPath, violations);
      const parsed =
        value === null
          ? refuse(violations, keyPath, "A map value cannot be null.")
          : parseValue(field, value, keyPath, violations);
      if (parsedKey !== UNSET && parsed !== UNSET) out[String(parsedKey)] = parsed;
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(raw)) return refuse(violations, path, "Expected a list.");
    const items: unknown[] = [];
    raw.forEach((item: unknown, index) => {
      const itemPath = join(path, index);
      const parsed =
        item === null
          ? refuse(violations, itemPath, "A list item cannot be null.")
          : parseValue(field, item, itemPath, violations);
      if (parsed !== UNSET) items.push(parsed);
    });
    return items.length === 0 ? UNSET : items;
  }
  const parsed = parseValue(field, raw, path, violations);
  // A default value of an implicit-presence field is the same as leaving it out.
  if (!hasExplicitPresence(field) && isDefault(field, parsed)) return UNSET;
  return parsed;
}

function parseValue(field: protobuf.Field, raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return parseEnum(resolved, raw, path, violations);
  if (resolved instanceof protobuf.Type) return parseMessageValue(resolved, raw, path, violations);
  return parseScalar(field.type, raw, path, violations);
}

function parseMessageValue(type: protobuf.Type, raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const name = fullNameOf(type);
  const wrapped = wrappers[name];
  if (wrapped) return parseScalar(wrapped, raw, path, violations);
  if (name === "google.protobuf.Timestamp") return parseTimestamp(raw, path, violations);
  if (name === "google.protobuf.Duration") return parseDuration(raw, path, violations);
  if (!isObject(raw)) return refuse(violations, path, `Expected an object (${name}).`);
  return parseMessage(type, raw, path, violations);
}

function parseEnum(type: protobuf.Enum, raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const names = Object.keys(type.values);
  const choices = () => names.filter((name) => type.values[name] !== 0).join(", ");
  if (typeof raw === "string") {
    return raw in type.values ? raw : refuse(violations, path, `Not one of ${choices()}.`);
  }
  if (typeof raw === "number" && Number.isInteger(raw)) {
    const name = type.valuesById[raw];
    return name ?? refuse(violations, path, `No value numbered ${raw}; one of ${choices()}.`);
  }
  return refuse(violations, path, `Expected one of ${choices()} (a name or its number).`);
}

function parseScalar(kind: string, raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  if (kind === "string") return typeof raw === "string" ? raw : refuse(violations, path, "Expected a string.");
  if (kind === "bool") return typeof raw === "boolean" ? raw : refuse(violations, path, "Expected true or false.");
  if (kind === "bytes") return parseBytes(raw, path, violations);
  if (kind === "double" || kind === "float") return parseFloat64(raw, path, violations);
  if (int32Types.has(kind)) return parseInt32(raw, INT32, path, violations);
  if (uint32Types.has(kind)) return parseInt32(raw, UINT32, path, violations);
  if (int64Types.has(kind)) return parseInt64(raw, INT64, path, violations);
  if (uint64Types.has(kind)) return parseInt64(raw, UINT64, path, violations);
  throw new Error(`No ProtoJSON parser for the proto type ${kind}`);
}

/** A JSON number or a decimal string (exponent allowed), as the mapping lets integers travel. */
const numericText = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function parseInt32(raw: unknown, range: { min: number; max: number }, path: string, violations: FieldViolation[]) {
  const value = typeof raw === "string" && numericText.test(raw) ? Number(raw) : raw;
  if (typeof value !== "number") return refuse(violations, path, "Expected an integer.");
  if (!Number.isInteger(value)) return refuse(violations, path, "Expected an integer, without a fraction.");
  if (value < range.min || value > range.max) {
    return refuse(violations, path, `Out of range (${range.min}..${range.max}).`);
  }
  return value;
}

const integerText = /^-?(0|[1-9]\d*)$/;

function parseInt64(raw: unknown, range: { min: bigint; max: bigint }, path: string, violations: FieldViolation[]) {
  let value: bigint | undefined;
  if (typeof raw === "number" && Number.isInteger(raw)) {
    // A JSON number past 2^53 has already lost its last digits; only exact ones are taken.
    if (!Number.isSafeInteger(raw)) return refuse(violations, path, "Send integers past 2^53 as decimal strings.");
    value = BigInt(raw);
  } else if (typeof raw === "string" && integerText.test(raw)) {
    value = BigInt(raw);
  } else if (typeof raw === "string" && numericText.test(raw) && Number.isSafeInteger(Number(raw))) {
    value = BigInt(Number(raw));
  }
  if (value === undefined) return refuse(violations, path, "Expected a 64-bit integer as a decimal string.");
  if (value < range.min || value > range.max) return refuse(violations, path, "Out of the 64-bit range.");
  return value.toString();
}

function parseFloat64(raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const value = typeof raw === "string" && numericText.test(raw) ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value))
    return refuse(violations, path, "Expected a finite number.");
  return value;
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const base64Url = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

function parseBytes(raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  if (typeof raw !== "string" || !(base64.test(raw) || base64Url.test(raw))) {
    return refuse(violations, path, "Expected base64 (standard or URL-safe).");
  }
  return Buffer.from(raw, base64.test(raw) ? "base64" : "base64url").toString("base64");
}

/** RFC 3339 with a mandatory offset and up to nine fractional digits, as ProtoJSON's Timestamp. */
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the Timestamp's range at our precision. */
const TIMESTAMP_MIN_MS = -62_135_596_800_000;
const TIMESTAMP_MAX_MS = 253_402_300_799_999;

function parseTimestamp(raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const parts = typeof raw === "string" ? rfc3339.exec(raw) : null;
  if (!parts) return refuse(violations, path, "Expected an RFC 3339 timestamp such as 2026-11-22T10:00:00Z.");
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [, , , , , , fraction = "", sign, offsetHours = "0", offsetMinutes = "0"] = parts.slice(1);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  const real =
    year >= 1 &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    Number(offsetHours) <= 23 &&
    Number(offsetMinutes) <= 59;
  if (!real) return refuse(violations, path, "Not a real date and time.");
  // Milliseconds are what the server keeps; the finer digits are accepted and dropped.
  const offsetMs = (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  date.setUTCHours(hour, minute, second, Number(fraction.padEnd(3, "0").slice(0, 3)));
  const instant = date.getTime() - (sign ? offsetMs : 0);
  if (instant < TIMESTAMP_MIN_MS || instant > TIMESTAMP_MAX_MS) {
    return refuse(violations, path, "Out of the range 0001-01-01 to 9999-12-31.");
  }
  return new Date(instant).toISOString();
}

/** A Duration: seconds with up to nine fractional digits and an `s` suffix, at most 10,000 years. */
const durationText = /^(-)?(\d{1,12})(?:\.(\d{1,9}))?s$/;

function parseDuration(raw: unknown, path: string, violations: FieldViolation[]): Parsed {
  const parts = typeof raw === "string" ? durationText.exec(raw) : null;
  if (!parts || Number(parts[2]) > 315_576_000_000)
    return refuse(violations, path, "Expected a duration such as 1.5s.");
  return raw;
}

function parseMapKey(keyType: string, key: string, path: string, violations: FieldViolation[]): Parsed {
  if (keyType === "string") return key;
  if (keyType === "bool")
    return key === "true" || key === "false" ? key : refuse(violations, path, "Expected true or false.");
  return parseScalar(keyType, key, path, violations);
}

function refuse(violations: FieldViolation[], field: string, description: string): typeof UNSET {
  violations.push({ field, description });
  return UNSET;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether a canonical value is its field's default: "", 0, "0" (64-bit), false, empty bytes, the zero enum value. */
function isDefault(field: protobuf.Field, value: Parsed): boolean {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return typeof value === "string" && resolved.values[value] === 0;
  if (int64Types.has(field.type) || uint64Types.has(field.type)) return value === "0";
  return value === "" || value === 0 || value === false;
}
