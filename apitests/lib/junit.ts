import type { CaseResult } from "./runner.js";

const escape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * A JUnit XML report: one suite per encoding (plus coverage and the cross-encoding comparison).
 * @param results - every result of the run
 * @param seconds - the run's duration
 */
export function junitXml(results: CaseResult[], seconds: number): string {
  const suites = new Map<string, CaseResult[]>();
  for (const result of results) suites.set(result.encoding, [...(suites.get(result.encoding) ?? []), result]);
  const failed = results.filter((result) => result.failures.length > 0).length;
  const body = [...suites.entries()].map(([encoding, members]) => {
    const cases = members.map((result) => {
      const name = escape(`${result.title} [${encoding}]`);
      const failure = result.failures.length
        ? `<failure message="${escape(result.failures[0] ?? "")}">${escape(result.failures.join("\n"))}</failure>`
        : "";
      return `    <testcase classname="apitests.${escape(result.file)}" name="${name}" time="${(result.ms / 1000).toFixed(3)}">${failure}</testcase>`;
    });
    const suiteFailed = members.filter((result) => result.failures.length > 0).length;
    return `  <testsuite name="apitests ${encoding}" tests="${members.length}" failures="${suiteFailed}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="apitests" tests="${results.length}" failures="${failed}" time="${seconds.toFixed(1)}">\n${body.join("\n")}\n</testsuites>\n`;
}
