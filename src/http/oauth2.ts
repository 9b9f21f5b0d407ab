import { z } from "zod";
import { AppError, InvalidArgumentError } from "../errors/index.js";
import type { AppContext } from "./context.js";
import { hasBody } from "./media.js";
import { readBody } from "./messages.js";

/**
 * The wire format of an OAuth 2.0 token endpoint (RFC 6749): a form-encoded request, a JSON answer and
 * JSON errors, none of them contract messages. Routes declare `oauth2` to speak it (`src/http/route.ts`).
 */

/** The error codes of RFC 6749 §5.2 this server answers, and two of §4.1.2.1 for its own failures. */
export const oauth2ErrorCodes = [
  "invalid_request",
  "invalid_grant",
  "unsupported_grant_type",
  "invalid_scope",
  "server_error",
  "temporarily_unavailable",
] as const;

export type OAuth2ErrorCode = (typeof oauth2ErrorCodes)[number];

/**
 * An error only OAuth 2.0 has a code for (`unsupported_grant_type`, `invalid_scope`). It is a 400
 * `invalid_argument` to the rest of the server, so it renders sensibly anywhere.
 */
export class OAuth2Error extends AppError {
  constructor(
    readonly oauth2Code: Extract<OAuth2ErrorCode, "invalid_request" | "unsupported_grant_type" | "invalid_scope">,
    message: string,
  ) {
    super("invalid_argument", message);
  }
}

/** A successful token response (RFC 6749 §5.1). */
export const OAuth2TokenResponseSchema = z.object({
  access_token: z.string().describe("A JWT for `Authorization: Bearer`."),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().describe("Seconds until the access token expires."),
  refresh_token: z.string().describe("Single use: trade it with `grant_type=refresh_token` for a new pair."),
});

export type OAuth2TokenResponse = z.infer<typeof OAuth2TokenResponseSchema>;

/** An error response (RFC 6749 §5.2). */
export const OAuth2ErrorBodySchema = z.object({
  error: z.enum(oauth2ErrorCodes),
  error_description: z.string().optional(),
});

export type OAuth2ErrorBody = z.infer<typeof OAuth2ErrorBodySchema>;

const FORM_MEDIA = "application/x-www-form-urlencoded";

/**
 * Reads a form-encoded body into its parameters; no body is an empty form. As RFC 6749 §3.1 says, a
 * parameter sent without a value counts as absent, and none may be sent twice.
 * @param limit - the largest body accepted, in bytes
 * @throws AppError unsupported_media_type for another Content-Type, invalid_argument for a repeated parameter
 */
export async function readForm(ctx: AppContext, limit: number): Promise<Record<string, string>> {
  if (!hasBody(ctx)) return {};
  const charset = ctx.request.charset.toLowerCase();
  if (ctx.request.type !== FORM_MEDIA || (charset !== "" && charset !== "utf-8")) {
    throw new AppError("unsupported_media_type", `Send the parameters as ${FORM_MEDIA} in UTF-8.`);
  }
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams((await readBody(ctx, limit)).toString("utf8"))) {
    if (value === "") continue;
    if (parameters.has(name)) {
      throw InvalidArgumentError(`\`${name}\` is given more than once.`, [
        { field: name, description: "Given more than once." },
      ]);
    }
    parameters.set(name, value);
  }
  // fromEntries defines own properties, so a parameter named `__proto__` is just a name.
  return Object.fromEntries(parameters);
}

/** What an OAuth 2.0 endpoint answers for an error. */
export interface OAuth2ErrorAnswer {
  status: number;
  body: OAuth2ErrorBody;
  headers: Record<string, string>;
}

/**
 * Maps any of our errors onto RFC 6749 §5.2: a bad request is `invalid_request`, a credential that does
 * not hold (wrong password, a used, expired or unknown refresh token) `invalid_grant`, both 400. A
 * throttled sign-in is 429 with `Retry-After` and `invalid_grant` (RFC 6749 has no status for it, and a
 * client that knows only §5.2 still reads a standard code); failures of our own are 500 `server_error`
 * and 503 `temporarily_unavailable`.
 * @param error - the error the request ended with
 */
export function oauth2ErrorOf(error: AppError): OAuth2ErrorAnswer {
  const answer = (status: number, code: OAuth2ErrorCode): OAuth2ErrorAnswer => ({
    status,
    body: { error: code, error_description: describe(error) },
    headers: error.headers,
  });
  if (error instanceof OAuth2Error) return answer(400, error.oauth2Code);
  switch (error.code) {
    case "unauthenticated":
    case "token_expired":
      return answer(400, "invalid_grant");
    case "rate_limited":
      return answer(429, "invalid_grant");
    case "unavailable":
      return answer(503, "temporarily_unavailable");
    default:
      return error.status >= 500 ? answer(500, "server_error") : answer(400, "invalid_request");
  }
}

/**
 * The error's message with its field violations, in the characters RFC 6749 §5.2 allows in
 * `error_description` (printable ASCII but `"` and `\`).
 */
function describe(error: AppError): string {
  const fields = error.fieldViolations.map((violation) => `${violation.field}: ${violation.description}`);
  const text = fields.length > 0 ? `${error.message} ${fields.join("; ")}` : error.message;
  return text.replace(/"/g, "'").replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?");
}
