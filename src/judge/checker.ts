/**
 * Compares a program's output with the expected output, in the worker: expected outputs never enter
 * the sandbox. Both work on bytes in one pass without building strings or arrays of lines, so an
 * 8 MiB output is checked in milliseconds.
 */

/** How a task compares outputs. */
export type CheckerKind = "LINES" | "TOKENS";

const LF = 0x0a;
/** Space, tab, CR, vertical tab, form feed: the blanks a line may end with (CR covers CRLF files). */
const TRAILING_BLANK = new Uint8Array(256);
for (const byte of [0x20, 0x09, 0x0d, 0x0b, 0x0c]) TRAILING_BLANK[byte] = 1;
/** The blanks and the line feed: what separates tokens. */
const WHITESPACE = TRAILING_BLANK.slice();
WHITESPACE[LF] = 1;

/** The length of `data` without its trailing whitespace: trailing blank lines and spaces go. */
function contentLength(data: Uint8Array): number {
  let end = data.length;
  while (end > 0 && WHITESPACE[data[end - 1] as number] === 1) end--;
  return end;
}

/**
 * Line by line, ignoring blanks at the end of each line and blank lines at the end of the output.
 * Everything else counts: leading blanks, blanks between words, blank lines in the middle.
 */
export function linesMatch(actual: Uint8Array, expected: Uint8Array): boolean {
  const actualEnd = contentLength(actual);
  const expectedEnd = contentLength(expected);
  let i = 0;
  let j = 0;
  for (;;) {
    // Equal bytes are consumed together, line feeds included.
    while (i < actualEnd && j < expectedEnd && actual[i] === expected[j]) {
      i++;
      j++;
    }
    // They differ here (or one ended): only blanks before the end of both lines may remain.
    while (i < actualEnd && TRAILING_BLANK[actual[i] as number] === 1) i++;
    while (j < expectedEnd && TRAILING_BLANK[expected[j] as number] === 1) j++;
    const actualDone = i === actualEnd;
    const expectedDone = j === expectedEnd;
    if (actualDone || expectedDone) return actualDone && expectedDone;
    if (actual[i] !== LF || expected[j] !== LF) return false;
    i++;
    j++;
  }
}

/** Token by token, tokens being separated by any run of whitespace (spaces, tabs, line breaks). */
export function tokensMatch(actual: Uint8Array, expected: Uint8Array): boolean {
  const actualEnd = actual.length;
  const expectedEnd = expected.length;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < actualEnd && WHITESPACE[actual[i] as number] === 1) i++;
    while (j < expectedEnd && WHITESPACE[expected[j] as number] === 1) j++;
    if (i === actualEnd || j === expectedEnd) return i === actualEnd && j === expectedEnd;
    // Both are at the start of a token: it must be the same bytes, ending at the same place.
    while (i < actualEnd && j < expectedEnd && actual[i] === expected[j] && WHITESPACE[actual[i] as number] === 0) {
      i++;
      j++;
    }
    const actualTokenEnds = i === actualEnd || WHITESPACE[actual[i] as number] === 1;
    const expectedTokenEnds = j === expectedEnd || WHITESPACE[expected[j] as number] === 1;
    if (!actualTokenEnds || !expectedTokenEnds) return false;
  }
}

/**
 * Whether `actual` is an accepted answer for `expected` under `kind`. Identical outputs are recognised
 * by one native comparison before any scanning.
 */
export function outputsMatch(kind: CheckerKind, actual: Uint8Array, expected: Uint8Array): boolean {
  if (Buffer.compare(actual, expected) === 0) return true;
  return kind === "LINES" ? linesMatch(actual, expected) : tokensMatch(actual, expected);
}
