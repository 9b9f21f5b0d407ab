import { z } from "zod";

/**
 * zod primitives shared by modules: business rules for request fields, query-string flags and the
 * keyset shapes of cursors. A rule that trims or lowercases does it here, once, so services receive
 * the value they store.
 */

/** The longest email address SMTP can carry (RFC 5321's path limit less its brackets). */
export const MAX_EMAIL_LENGTH = 254;

/** An email address, trimmed and lowercased (the form stored and compared). */
export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email("Not a valid email address.").max(MAX_EMAIL_LENGTH));

/**
 * @param what - what the id names, for the message (`A group id.`)
 * @returns a UUID in its canonical text form, any version
 */
export const uuidField = (what: string) => z.uuid(`A ${what} id.`);

/**
 * @param max - the most characters after trimming
 * @returns a non-empty, trimmed text
 */
export const requiredText = (max: number) => z.string().trim().min(1, "Required.").max(max);

/**
 * @param max - the most characters after trimming
 * @returns a trimmed text that may be empty
 */
export const trimmedText = (max: number) => z.string().trim().max(max);

/** A `true`/`false` query-string flag; absent is false. */
export const queryFlag = () =>
  z
    .enum(["true", "false"])
    .optional()
    .transform((value) => value === "true");

/** The keyset position of lists ordered by a `seq` column (bigserial, as decimal text). */
export const seqCursor = z.tuple([z.string().regex(/^\d{1,19}$/)]);

/**
 * @param message - the violation's description
 * @returns a rule for an enum field that must be set: its `_UNSPECIFIED` zero value is refused
 */
export const chosenEnum = (message = "Required: choose a value.") => z.number().refine((value) => value !== 0, message);

/**
 * The ProtoJSON names of a ts-proto enum's values, for query-string filters (which are not messages,
 * so they take names only).
 * @param enumObject - the generated enum object
 * @param toJSON - the generated `…ToJSON` function
 */
export function enumNames<E extends number>(
  enumObject: Record<string, string | number>,
  toJSON: (value: E) => string,
): [string, ...string[]] {
  const values = Object.values(enumObject).filter((value): value is E => typeof value === "number" && value > 0);
  const [first, ...rest] = values.map(toJSON);
  if (first === undefined) throw new Error("An enum without values cannot be validated.");
  return [first, ...rest];
}
