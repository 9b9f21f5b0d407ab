import pg from "pg";

/**
 * A timestamptz as PostgreSQL writes it in the ISO DateStyle: a four-digit year, up to six fractional
 * digits, and the session zone's offset (`+00` here, where every session runs in UTC).
 */
const isoTimestamptz =
  /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d)(?::(\d\d))?)?$/;

const MS_PER_SECOND = 1000;

/** What pg's parser gives: an instant, ±Infinity for `infinity`, null for what it cannot read. */
type TimestampValue = Date | number | null;
/** The parser pg itself would use (postgres-date), taken before useFastTimestampParser replaces it. */
export const generalParser = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, "text") as (
  text: string,
) => TimestampValue;

/**
 * Parses a timestamptz from its text form as pg's own parser (postgres-date) does, milliseconds truncated,
 * in a fraction of its time: a page of events reads five timestamps a row, and parsing them took 8 % of the
 * request. What the fast form does not cover (BC dates, years below 100 or above 9999, infinity) goes to
 * pg's parser.
 * @param text - the column's text
 * @returns the instant; pg's parser's answer for the forms above
 */
export function parseTimestamptz(text: string): TimestampValue {
  const parts = isoTimestamptz.exec(text);
  const year = parts ? Number(parts[1]) : 0;
  if (!parts || year < 100) return generalParser(text);
  const [, , month, day, hour, minute, second, fraction = "", sign, offsetHours, offsetMinutes = "0"] = parts;
  const offsetSeconds = Number(offsetHours) * 3600 + Number(offsetMinutes) * 60 + Number(parts[11] ?? 0);
  const local = Date.UTC(
    year,
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    Number(fraction.padEnd(3, "0").slice(0, 3)),
  );
  return new Date(local - (sign === "-" ? -1 : 1) * offsetSeconds * MS_PER_SECOND);
}

/** Makes every pg client of this process parse timestamptz columns with parseTimestamptz. */
export function useFastTimestampParser(): void {
  pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, "text", parseTimestamptz);
}
