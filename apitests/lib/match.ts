import type { Json } from "./protojson.js";

/**
 * Partial match: every key of `expected` must match in `actual`; arrays match element by element and
 * must have the same length; `"$any"` accepts any present value and `"$absent"` requires the key to be missing.
 * @returns the differences, one line each, empty when it matches
 */
export function partialMatch(expected: unknown, actual: Json | undefined, at = "body"): string[] {
  if (expected === "$any") return actual === undefined ? [`${at}: missing`] : [];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected a list, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) return [`${at}: expected ${expected.length} items, got ${actual.length}`];
    return expected.flatMap((item, index) => partialMatch(item, actual[index], `${at}.${index}`));
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return [`${at}: expected an object, got ${JSON.stringify(actual)}`];
    }
    return Object.entries(expected).flatMap(([key, value]) => {
      if (value === "$absent")
        return key in actual ? [`${at}.${key}: should be absent, got ${JSON.stringify(actual[key])}`] : [];
      return partialMatch(value, actual[key], `${at}.${key}`);
    });
  }
  return expected === actual ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

/**
 * Reads a dotted path (`items.0.id`) out of an answer.
 * @returns the value, or undefined when the path leads nowhere
 */
export function valueAt(json: Json | undefined, dotted: string): Json | undefined {
  let current: Json | undefined = json;
  for (const part of dotted.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = Array.isArray(current) ? current[Number(part)] : current[part];
  }
  return current;
}

/**
 * Replaces `{{name}}` in every string of a value.
 * @throws Error naming an unknown variable
 */
export function substitute<T>(value: T, variables: Record<string, string>): T {
  if (typeof value === "string") {
    return value.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
      const found = variables[name];
      if (found === undefined) throw new Error(`unknown variable {{${name}}}`);
      return found;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item: unknown) => substitute(item, variables)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item as unknown, variables)]),
    ) as T;
  }
  return value;
}

/** Fields whose values differ between any two runs by nature, masked before the encodings are compared. */
const volatileKeys = new Set([
  "requestId",
  "accessToken",
  "refreshToken",
  // The same, as an OAuth 2.0 token endpoint names them, and stream tickets.
  "access_token",
  "refresh_token",
  "ticket",
  "createdAt",
  "updatedAt",
  // The instants a request records (moderation, awards, registration, attendance): "now" differs between the runs.
  "moderatedAt",
  "acceptedAt",
  "awardedAt",
  "registeredAt",
  "attendedAt",
  // Judging and rejection instants, and the judge's live state.
  "finishedAt",
  "submittedAt",
  "at",
  "oldestQueuedAt",
  "oldestQueuedAgeSeconds",
  "lastHeartbeatAt",
  "nextCursor",
  "avatarUrl",
]);

/**
 * The run-independent form of an answer: volatile fields masked, each run's own variable values
 * (captured ids, the run token) replaced by their names.
 * @param json - an answer in canonical ProtoJSON
 * @param variables - the run's variables
 */
export function normalise(json: Json | undefined, variables: Record<string, string>): Json | undefined {
  const replacements = Object.entries(variables)
    .filter(([, value]) => value.length >= 4)
    .sort(([, a], [, b]) => b.length - a.length);
  const walk = (value: Json, key?: string): Json => {
    if (key && volatileKeys.has(key)) return `<${key}>`;
    if (typeof value === "string") {
      return replacements.reduce((text, [name, found]) => text.split(found).join(`<${name}>`), value);
    }
    if (Array.isArray(value)) return value.map((item) => walk(item));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, walk(item, name)]));
    }
    return value;
  };
  return json === undefined ? undefined : walk(json);
}
