import assert from "node:assert/strict";
import { linesMatch, outputsMatch, tokensMatch } from "./checker.js";

const bytes = (text: string) => Buffer.from(text, "utf8");
const lines = (actual: string, expected: string) => linesMatch(bytes(actual), bytes(expected));
const tokens = (actual: string, expected: string) => tokensMatch(bytes(actual), bytes(expected));

describe("output checkers (src/judge/checker.ts)", () => {
  describe("LINES", () => {
    it("accepts identical outputs, and the empty output for an empty answer", () => {
      assert.equal(lines("3\n", "3\n"), true);
      assert.equal(lines("1 2\n3 4\n", "1 2\n3 4\n"), true);
      assert.equal(lines("", ""), true);
      assert.equal(lines("\n\n", ""), true);
    });

    it("ignores blanks at the end of lines, CR line ends and a missing final newline", () => {
      assert.equal(lines("1 2   \n3\t\n", "1 2\n3\n"), true);
      assert.equal(lines("1 2\r\n3\r\n", "1 2\n3\n"), true);
      assert.equal(lines("1 2\n3", "1 2\n3\n"), true);
      assert.equal(lines("a \t\nb", "a  \nb \n"), true);
    });

    it("ignores blank lines (even of spaces) at the end on either side", () => {
      assert.equal(lines("7\n\n\n", "7\n"), true);
      assert.equal(lines("7", "7\n\n   \n\t\n"), true);
    });

    it("refuses different text, blanks inside a line, leading blanks and blank lines in the middle", () => {
      assert.equal(lines("3\n", "4\n"), false);
      assert.equal(lines("1  2\n", "1 2\n"), false);
      assert.equal(lines("1\t2\n", "1 2\n"), false);
      assert.equal(lines(" 1\n", "1\n"), false);
      assert.equal(lines("1\n\n2\n", "1\n2\n"), false);
      assert.equal(lines("12\n", "1 2\n"), false);
      assert.equal(lines("a \tc", "a  c"), false);
    });

    it("refuses missing or extra lines and a line split or joined", () => {
      assert.equal(lines("1\n", "1\n2\n"), false);
      assert.equal(lines("1\n2\n", "1\n"), false);
      assert.equal(lines("1\n2\n", "1 2\n"), false);
      assert.equal(lines("", "0\n"), false);
      assert.equal(lines("0\n", ""), false);
    });

    it("compares bytes exactly, UTF-8 included", () => {
      assert.equal(lines("привет\n", "привет\n"), true);
      assert.equal(lines("привет\n", "привет!\n"), false);
    });
  });

  describe("TOKENS", () => {
    it("accepts the same tokens whatever whitespace separates them", () => {
      assert.equal(tokens("1 2 3\n", "1\n2\n3"), true);
      assert.equal(tokens("  1\t\t2\r\n\n3  ", "1 2 3"), true);
      assert.equal(tokens("", "  \n"), true);
    });

    it("refuses a different, missing, extra, split or joined token", () => {
      assert.equal(tokens("1 2 4", "1 2 3"), false);
      assert.equal(tokens("1 2", "1 2 3"), false);
      assert.equal(tokens("1 2 3 4", "1 2 3"), false);
      assert.equal(tokens("1 23", "1 2 3"), false);
      assert.equal(tokens("12 3", "1 2 3"), false);
      assert.equal(tokens("1 2 3", "1 2 34"), false);
      assert.equal(tokens("YES", "yes"), false);
    });
  });

  describe("outputsMatch", () => {
    it("dispatches on the checker and takes identical outputs at once", () => {
      assert.equal(outputsMatch("LINES", bytes("1 2"), bytes("1 2")), true);
      assert.equal(outputsMatch("LINES", bytes("1\n2"), bytes("1 2")), false);
      assert.equal(outputsMatch("TOKENS", bytes("1\n2"), bytes("1 2")), true);
    });

    it("checks 8 MiB outputs of a million lines quickly, and finds a difference in the last line", () => {
      const line = "1234567\n";
      const expected = Buffer.from(line.repeat(1024 * 1024));
      const spaced = Buffer.from(`1234567 \n`.repeat(1024 * 1024));
      const lastDiffers = Buffer.from(expected);
      lastDiffers[lastDiffers.length - 2] = "8".charCodeAt(0);
      const started = performance.now();
      assert.equal(outputsMatch("LINES", spaced, expected), true);
      assert.equal(outputsMatch("LINES", lastDiffers, expected), false);
      assert.equal(outputsMatch("TOKENS", spaced, expected), true);
      assert.equal(outputsMatch("TOKENS", lastDiffers, expected), false);
      // A liveness bound, far above the ~100 ms this takes: splitting into strings would still pass it,
      // the point is that nothing quadratic sneaks in.
      assert.ok(performance.now() - started < 5_000);
    });
  });
});
