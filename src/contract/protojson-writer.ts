import protobuf from "protobufjs";
import { jsonNameOf, lowerCamelOf, messageType, realOneofOf } from "./descriptors.js";

/** A message as ts-proto types it: properties in lowerCamelCase, a oneof as `{ $case, value }`. */
type MessageShape = Record<string, unknown>;
/** One value as JSON text. */
type ValueWriter = (value: unknown) => string;
/** A field's `"name":value`, or undefined where ts-proto's `toJSON` leaves the field out. */
type MemberWriter = (message: MessageShape) => string | undefined;

/** The milliseconds of 10000-01-01T00:00:00Z: from there on, toISOString writes a six-digit year. */
const YEAR_10000_MS = 253_402_300_800_000;
const MS_PER_DAY = 86_400_000;
const [ZERO, DASH, T, COLON, DOT, Z] = [
  "0".charCodeAt(0),
  "-".charCodeAt(0),
  "T".charCodeAt(0),
  ":".charCodeAt(0),
  ".".charCodeAt(0),
  "Z".charCodeAt(0),
];

/**
 * `date.toISOString()` for instants from 1970 to 9999, in about a quarter of its time: V8's own took a
 * microsecond a call here, and a page of events writes a hundred timestamps. The text is made in one
 * String.fromCharCode, a single flat string, where concatenating its parts would allocate one per part.
 * Other instants (and an invalid date, which throws) go to toISOString itself.
 */
export function isoTimestampOf(date: Date): string {
  const ms = date.getTime();
  if (!(ms >= 0 && ms < YEAR_10000_MS)) return date.toISOString();
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  // The proleptic Gregorian date of a day number (H. Hinnant's civil_from_days), in eras of 400 years
  // that start on 1 March, so the leap day falls at the end of a year.
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return String.fromCharCode(
    ZERO + Math.floor(year / 1000),
    ZERO + (Math.floor(year / 100) % 10),
    ZERO + (Math.floor(year / 10) % 10),
    ZERO + (year % 10),
    DASH,
    ZERO + Math.floor(month / 10),
    ZERO + (month % 10),
    DASH,
    ZERO + Math.floor(day / 10),
    ZERO + (day % 10),
    T,
    ZERO + Math.floor(hours / 10),
    ZERO + (hours % 10),
    COLON,
    ZERO + Math.floor(minutes / 10),
    ZERO + (minutes % 10),
    COLON,
    ZERO + Math.floor(seconds / 10),
    ZERO + (seconds % 10),
    DOT,
    ZERO + Math.floor(millis / 100),
    ZERO + (Math.floor(millis / 10) % 10),
    ZERO + (millis % 10),
    Z,
  );
}

/** A number as JSON.stringify writes it: null for NaN and ±Infinity. */
const numberText = (value: number) => (Number.isFinite(value) ? String(value) : "null");

const INT32_TYPES = new Set(["int32", "sint32", "sfixed32", "uint32", "fixed32"]);

/** Writes one value of `field` (one element of a repeated one) as ts-proto's `toJSON` and JSON.stringify would. */
function valueWriterOf(field: protobuf.Field): ValueWriter {
  const type = field.resolvedType;
  if (type instanceof protobuf.Enum) {
    const names = new Map(Object.entries(type.valuesById).map(([id, name]) => [Number(id), JSON.stringify(name)]));
    return (value) => names.get(value as number) ?? '"UNRECOGNIZED"';
  }
  if (type instanceof protobuf.Type) {
    if (type.fullName === ".google.protobuf.Timestamp") return (value) => `"${isoTimestampOf(value as Date)}"`;
    if (type.fullName.startsWith(".google.protobuf.")) {
      throw new Error(`${field.fullName}: ${type.fullName} has no ProtoJSON writer; add one with its test`);
    }
    const write = protoJsonWriterOf(type);
    return (value) => write(value as MessageShape);
  }
  if (field.type === "string") return (value) => JSON.stringify(value);
  if (field.type === "bool") return (value) => (value ? "true" : "false");
  // ts-proto rounds 32-bit integers on the way out.
  if (INT32_TYPES.has(field.type)) return (value) => numberText(Math.round(value as number));
  if (field.type === "double" || field.type === "float") return (value) => numberText(value as number);
  throw new Error(`${field.fullName}: ${field.type} fields have no ProtoJSON writer; add one with its test`);
}

/** The default of an implicit-presence scalar, which ts-proto's `toJSON` leaves out. */
function defaultOf(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  if (field.type === "string") return "";
  if (field.type === "bool") return false;
  return 0;
}

/** A field outside a oneof: written as ts-proto's `toJSON` writes it, or left out as it leaves it out. */
function fieldWriterOf(field: protobuf.Field): MemberWriter {
  if (field.map) throw new Error(`${field.fullName}: map fields have no ProtoJSON writer; add one with its test`);
  const key = `${JSON.stringify(jsonNameOf(field))}:`;
  const property = lowerCamelOf(field.name);
  const value = valueWriterOf(field);
  if (field.repeated) {
    return (message) => {
      const items = message[property] as readonly unknown[] | undefined;
      if (!items?.length) return undefined;
      let text = key + "[" + value(items[0]);
      for (let index = 1; index < items.length; index++) text += "," + value(items[index]);
      return text + "]";
    };
  }
  // proto3 `optional` and message fields: written when set, whatever the value.
  if (field.partOf || field.resolvedType instanceof protobuf.Type) {
    return (message) => {
      const set = message[property];
      return set === undefined ? undefined : key + value(set);
    };
  }
  const zero = defaultOf(field);
  return (message) => {
    const set = message[property];
    return set === zero || set === undefined ? undefined : key + value(set);
  };
}

/** A oneof (`oneof=unions-value`): the chosen member's `"name":value`, whatever the value. */
function oneofWriterOf(oneof: protobuf.OneOf): MemberWriter {
  const property = lowerCamelOf(oneof.name);
  const members = new Map(
    oneof.fieldsArray.map((field) => [
      lowerCamelOf(field.name),
      { key: `${JSON.stringify(jsonNameOf(field))}:`, value: valueWriterOf(field) },
    ]),
  );
  return (message) => {
    const chosen = message[property] as { $case: string; value: unknown } | undefined;
    const member = chosen && members.get(chosen.$case);
    return member && chosen.value !== undefined ? member.key + member.value(chosen.value) : undefined;
  };
}

const writers = new Map<protobuf.Type, (message: MessageShape) => string>();

/**
 * Writes a message as ProtoJSON text, byte for byte what `JSON.stringify(Codec.toJSON(message))` gives
 * for the messages ts-proto generates from the contract (same members, same order, defaults left out),
 * without building toJSON's object tree first and without V8's toISOString: after the socket writes and
 * the garbage collector, they were the largest item of a page of events' CPU time in Node. Made once per
 * type.
 * @throws Error for a field kind the contract does not use yet (maps, bytes, 64-bit integers, other
 *   well-known types), when the message's writer is made
 */
export function protoJsonWriterOf(type: protobuf.Type): (message: MessageShape) => string {
  const known = writers.get(type);
  if (known) return known;
  const members: MemberWriter[] = [];
  const write = (message: MessageShape) => {
    let text = "{";
    let separator = "";
    for (const member of members) {
      const part = member(message);
      if (part !== undefined) {
        text += separator + part;
        separator = ",";
      }
    }
    return text + "}";
  };
  // Known before its members are made, so a message may contain itself.
  writers.set(type, write);
  try {
    const written = new Set<protobuf.OneOf>();
    // In declaration order, a oneof where its first member stands, as ts-proto orders toJSON.
    for (const field of type.fieldsArray) {
      const oneof = realOneofOf(field);
      if (!oneof) members.push(fieldWriterOf(field));
      else if (!written.has(oneof)) {
        written.add(oneof);
        members.push(oneofWriterOf(oneof));
      }
    }
  } catch (error) {
    writers.delete(type);
    throw error;
  }
  return write;
}

/** The writers by proto name, so an answer does not walk the contract's namespaces to find its type. */
const writersByName = new Map<string, (message: MessageShape) => string>();

/**
 * @param fullName - the message's proto name, a ts-proto codec's `$type`
 * @returns the ProtoJSON text writer of that message (see protoJsonWriterOf), made once per process
 */
export function protoJsonWriter<T>(fullName: string): (message: T) => string {
  let write = writersByName.get(fullName);
  if (!write) {
    write = protoJsonWriterOf(messageType(fullName));
    writersByName.set(fullName, write);
  }
  return write as (message: T) => string;
}
