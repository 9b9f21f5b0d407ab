import pg from "pg";

const MS_PER_SECOND = 1000;

/** What pg's parser gives: an instant, ±Infinity for `infinity`, null for what it cannot read. */
type TimestampValue = Date | number | null;
/** The parser pg itself would use (postgres-date), taken before useFastTimestampParser replaces it. */
export const generalParser = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, "text") as (
  text: string,
) => TimestampValue;

const ZERO = 48;
const charCode = (character: string) => character.charCodeAt(0);
const [DASH, SPACE, COLON, DOT, PLUS] = [charCode("-"), charCode(" "), charCode(":"), charCode("."), charCode("+")];
const MINUS = DASH;

/** The digit at `at`, NaN for any other character (NaN then poisons every sum it enters). */
function digitAt(text: string, at: number): number {
  const digit = text.charCodeAt(at) - ZERO;
  return digit >= 0 && digit <= 9 ? digit : NaN;
}

const twoDigitsAt = (text: string, at: number) => digitAt(text, at) * 10 + digitAt(text, at + 1);

/**
 * Parses a timestamptz from its text form as pg's own parser (postgres-date) does, milliseconds truncated,
 * in a fraction of its time: a page of events reads five timestamps a row, and parsing them took 8 % of the
 * request (4 % with a regular expression). It reads the ISO DateStyle PostgreSQL writes,
 * `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]`, character by character; what that does not cover (BC dates,
 * years below 100 or above 9999, infinity) goes to pg's parser.
 * @param text - the column's text
 * @returns the instant; pg's parser's answer for the forms above
 */
export function parseTimestamptz(text: string): TimestampValue {
  const year = twoDigitsAt(text, 0) * 100 + twoDigitsAt(text, 2);
  const dateAndTimeWellFormed =
    text.charCodeAt(4) === DASH &&
    text.charCodeAt(7) === DASH &&
    text.charCodeAt(10) === SPACE &&
    text.charCodeAt(13) === COLON &&
    text.charCodeAt(16) === COLON;
  if (!dateAndTimeWellFormed || !(year >= 100)) return generalParser(text);
  let at = 19;
  let milliseconds = 0;
  if (text.charCodeAt(at) === DOT) {
    const fractionStart = ++at;
    for (let scale = 100; at < text.length && at - fractionStart < 6 && digitAt(text, at) >= 0; at++, scale /= 10) {
      if (scale >= 1) milliseconds += digitAt(text, at) * scale;
    }
    if (at === fractionStart) return generalParser(text);
  }
  const sign = text.charCodeAt(at);
  let offsetSeconds = twoDigitsAt(text, at + 1) * 3600;
  at += 3;
  // The offset's minutes and seconds, when PostgreSQL writes them (zones off the whole hour).
  if (text.charCodeAt(at) === COLON) {
    offsetSeconds += twoDigitsAt(text, at + 1) * 60;
    at += 3;
    if (text.charCodeAt(at) === COLON) {
      offsetSeconds += twoDigitsAt(text, at + 1);
      at += 3;
    }
  }
  const local = Date.UTC(
    year,
    twoDigitsAt(text, 5) - 1,
    twoDigitsAt(text, 8),
    twoDigitsAt(text, 11),
    twoDigitsAt(text, 14),
    twoDigitsAt(text, 17),
    milliseconds,
  );
  if ((sign !== PLUS && sign !== MINUS) || at !== text.length || Number.isNaN(local + offsetSeconds)) {
    return generalParser(text);
  }
  return new Date(local - (sign === MINUS ? -1 : 1) * offsetSeconds * MS_PER_SECOND);
}

/** Makes every pg client of this process parse timestamptz columns with parseTimestamptz. */
export function useFastTimestampParser(): void {
  pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, "text", parseTimestamptz);
}
