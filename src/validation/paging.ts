import { z } from "zod";
import { InvalidArgumentError } from "../errors/index.js";

/** `limit` (1..100, default 20; out of range is 400, never clamped) and the opaque `cursor` of every list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(1024).optional(),
};

/**
 * Encodes the keyset position after the last row of a page. Opaque to clients: base64url JSON.
 * @param position - the ordering columns' values of the last row
 */
export const encodeCursor = (position: readonly (string | number)[]): string =>
  Buffer.from(JSON.stringify(position)).toString("base64url");

/**
 * Decodes a cursor produced by encodeCursor for the same ordering.
 * @param cursor - the client's cursor
 * @param shape - the zod tuple of the ordering columns
 * @throws AppError invalid_argument (field `cursor`) for anything else
 */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    json = undefined;
  }
  const parsed = shape.safeParse(json);
  if (!parsed.success) {
    throw InvalidArgumentError("The cursor is not valid for this list.", [
      { field: "cursor", description: "Pass the nextCursor of the previous page unchanged." },
    ]);
  }
  return parsed.data;
}

/**
 * Splits a `limit + 1` fetch into the page and the cursor of the next one.
 * @param rows - up to limit + 1 rows in list order
 * @param limit - the page size
 * @param positionOf - the ordering columns of a row
 */
export function pageOf<Row>(
  rows: Row[],
  limit: number,
  positionOf: (row: Row) => readonly (string | number)[],
): { items: Row[]; nextCursor: string } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : "" };
}
