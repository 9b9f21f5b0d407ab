import type { z } from "zod";
import type { FieldViolation } from "./index.js";

/**
 * Turns zod issues into field violations with full dotted paths (`audience.groupIds.0`), one per
 * unknown key, so a client can point at the exact field whatever encoding it sent.
 * @param error - the zod error of a failed parse
 * @param prefix - a path to put in front, such as `query`
 */
export function violationsOf(error: z.ZodError, prefix?: string): FieldViolation[] {
  return error.issues.flatMap((issue) => {
    const base = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ field: [...base, key].join("."), description: "Unknown field." }));
    }
    return [{ field: base.join("."), description: issue.message }];
  });
}
