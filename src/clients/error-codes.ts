/**
 * The error codes as the client runtime (runtime.ts) sees them: the server's closed set and the HTTP
 * status of each. Here they are read from the server's own list; `npm run gen` writes
 * generated/client/error-codes.ts as the same table in literal form, so the generated client imports
 * nothing of the server.
 */
import { errorCodes, statusOf, type ErrorCode } from "../errors/index.js";

export type { ErrorCode };

/** Every error code with its HTTP status, in the order of the server's list. */
export const errorStatuses = Object.fromEntries(errorCodes.map((code) => [code, statusOf(code)])) as Readonly<
  Record<ErrorCode, number>
>;
