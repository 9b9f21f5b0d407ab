/**
 * The error codes as the client runtime (runtime.ts) sees them: the server's closed set with the HTTP
 * status of each, and the RFC 6749 §5.2 codes of the token endpoint. Here they are read from the
 * server's own lists; `npm run gen` writes generated/client/error-codes.ts as the same tables in
 * literal form, so the generated client imports nothing of the server.
 */
import { errorCodes, statusOf, type ErrorCode } from "../errors/index.js";
import { oauth2ErrorCodes, type OAuth2ErrorCode } from "../http/oauth2.js";

export type { ErrorCode, OAuth2ErrorCode };
export { oauth2ErrorCodes };

/** Every error code with its HTTP status, in the order of the server's list. */
export const errorStatuses = Object.fromEntries(errorCodes.map((code) => [code, statusOf(code)])) as Readonly<
  Record<ErrorCode, number>
>;
