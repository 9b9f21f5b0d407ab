import { z } from "zod";

/**
 * zod primitives for the ProtoJSON form of our messages.
 *
 * Every request body is checked in its ProtoJSON form: JSON bodies as sent, protobuf bodies after
 * `decode` and `toJSON`. So one schema serves both encodings and a bad value yields the same field
 * path in either. Fields with implicit presence treat absent, `null` and the default value alike
 * (`prefault` runs the default through the checks), exactly as the binary form cannot tell them apart.
 */

const nullMeansUnset = (value: unknown) => (value === null ? undefined : value);

/** A proto3 `string` with implicit presence; pass the checks it must meet. */
export const protoString = (checks: z.ZodType<string, string> = z.string()) =>
  z.preprocess(nullMeansUnset, checks.prefault(""));

/** A proto3 `bool` with implicit presence. */
export const protoBool = () => z.preprocess(nullMeansUnset, z.boolean().prefault(false));

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const decimalInteger = /^-?(0|[1-9]\d*)$/;

/** ProtoJSON allows 32-bit integers as numbers or decimal strings. */
const numberFromDecimalString = (value: unknown) =>
  typeof value === "string" && decimalInteger.test(value) ? Number(value) : value;

/** The 32-bit range is checked before any narrower bound, so an overflow reads as such. */
const int32 = (checks: z.ZodNumber) => z.number().int().min(INT32_MIN).max(INT32_MAX).pipe(checks);

/** A proto3 `int32` with implicit presence. */
export const protoInt32 = (checks: z.ZodNumber = z.number()) =>
  z.preprocess((value) => numberFromDecimalString(nullMeansUnset(value)), int32(checks).prefault(0));

/** A proto3 `optional int32`: absent or `null` leaves it unset; a number or decimal string is checked. */
export const protoOptionalInt32 = (checks: z.ZodNumber = z.number()) =>
  z.preprocess((value) => numberFromDecimalString(nullMeansUnset(value)), int32(checks).optional());

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A proto3 `int64`: a decimal string in ProtoJSON (a safe integer number is accepted too). */
export const protoInt64 = () =>
  z.preprocess(
    (value) => {
      const unset = nullMeansUnset(value);
      return typeof unset === "number" && Number.isSafeInteger(unset) ? String(unset) : unset;
    },
    z
      .string()
      // abort: the range check must not run BigInt on a non-integer (it throws, which became a 500).
      .regex(decimalInteger, { message: "Expected a 64-bit integer as a decimal string.", abort: true })
      .refine((text) => BigInt(text) >= INT64_MIN && BigInt(text) <= INT64_MAX, "Out of the 64-bit range.")
      .prefault("0"),
  );

/**
 * A proto3 enum by its ProtoJSON names. Numbers and `UNRECOGNIZED` are refused, and so is the
 * `_UNSPECIFIED` zero value unless the field allows "not set".
 * @param names - the accepted names, as the generated `…ToJSON` function spells them
 * @param unspecified - the zero value's name, the default when the key is absent
 */
export const protoEnum = <const Name extends string>(names: readonly [Name, ...Name[]], unspecified: string) =>
  z.preprocess(nullMeansUnset, z.enum(names).prefault(unspecified as Name));

/**
 * Collects the names of a ts-proto enum through its generated `…ToJSON` function.
 * @param enumObject - the generated enum object
 * @param toJSON - the generated `…ToJSON` function
 * @param options.includeUnspecified - whether the zero value is a valid choice
 */
export function enumNames<E extends number>(
  enumObject: Record<string, string | number>,
  toJSON: (value: E) => string,
  options: { includeUnspecified?: boolean } = {},
): [string, ...string[]] {
  const values = Object.values(enumObject).filter(
    (value): value is E => typeof value === "number" && value >= (options.includeUnspecified ? 0 : 1),
  );
  const names = values.map(toJSON);
  const [first, ...rest] = names;
  if (first === undefined) throw new Error("An enum without values cannot be validated.");
  return [first, ...rest];
}

/** RFC 3339 with a mandatory offset, as ProtoJSON's Timestamp requires. */
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** The regex only fixes the shape; this rejects 2026-02-30, 25:00 and year 0. */
function isRealDateTime(text: string): boolean {
  const parts = rfc3339.exec(text);
  if (!parts) return false;
  const [year, month, day, hour, minute, second, offsetHours = 0, offsetMinutes = 0] = parts
    .slice(1)
    .map((part) => Number(part ?? 0));
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return (
    year >= 1 &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59
  );
}

/** A `google.protobuf.Timestamp` field (explicit presence): an RFC 3339 string between years 1 and 9999. */
export const protoTimestamp = () =>
  z.preprocess(
    nullMeansUnset,
    z
      .string()
      // abort: a bad shape is one violation, not also "Not a real date and time."
      .regex(rfc3339, { message: "Expected an RFC 3339 timestamp such as 2026-11-22T10:00:00Z.", abort: true })
      .refine(isRealDateTime, "Not a real date and time.")
      .optional(),
  );

/** A nested message field (explicit presence): absent or `null` means not set. */
export const protoMessage = <Shape extends z.ZodRawShape>(shape: Shape) =>
  z.preprocess(nullMeansUnset, z.strictObject(shape).optional());

/** A `repeated` field: absent or `null` is the empty list. */
export const protoRepeated = <Item extends z.ZodType>(item: Item, checks?: { max?: number }) =>
  z.preprocess(
    nullMeansUnset,
    z
      .array(item)
      .max(checks?.max ?? 1000)
      .prefault([]),
  );

/** A proto3 `optional` field: absent or `null` leaves it unset, any present value is checked. */
export const protoOptional = <Inner extends z.ZodType>(inner: Inner) => z.preprocess(nullMeansUnset, inner.optional());

/**
 * The top-level schema of a request message: unknown keys are refused, so typos surface as 400.
 * @param shape - the fields, built from the primitives above
 */
export const protoRequest = <Shape extends z.ZodRawShape>(shape: Shape) => z.strictObject(shape);

/**
 * Our stored name for a validated proto enum value, by the table that maps our names onto the enum.
 * @param table - stored name → proto value
 * @param value - a value zod has already accepted (never UNSPECIFIED or UNRECOGNIZED)
 * @throws Error for a value the table lacks: a bug, since validation refused anything else
 */
export function storedNameOf<Name extends string, Value>(table: Record<Name, Value>, value: Value): Name {
  const name = (Object.keys(table) as Name[]).find((key) => table[key] === value);
  if (name === undefined) throw new Error(`No stored name for ${String(value)}`);
  return name;
}
