import { z } from "zod";
import { LoginRequest, LogoutRequest, RefreshRequest } from "../../../generated/shtp/v1/auth.js";
import { MAX_PASSWORD_LENGTH } from "../../auth/passwords.js";
import { MAX_EMAIL_LENGTH } from "../../validation/fields.js";
import { requestBody } from "../../validation/rules.js";

/**
 * Sign-in checks only presence and bounds: the stored password's rules are not the caller's business.
 * The email is compared as stored (trimmed, lowercased), but not checked as an address: an account
 * made before a format rule changed must still sign in.
 */
const signInEmail = z.string().trim().toLowerCase().min(1, "Required.").max(MAX_EMAIL_LENGTH);
const signInPassword = z.string().min(1, "Required.").max(MAX_PASSWORD_LENGTH);
const refreshToken = z.string().min(1, "Required.").max(200);

export const AuthLoginBody = requestBody(LoginRequest, { email: signInEmail, password: signInPassword });
export const AuthRefreshBody = requestBody(RefreshRequest, { refreshToken });
export const AuthLogoutBody = requestBody(LogoutRequest, { refreshToken });

/** The grants `POST /auth/token` issues tokens for, each with its own parameters. */
export const tokenGrants = {
  password: z
    .object({ username: signInEmail, password: signInPassword })
    .transform((form) => ({ grantType: "password" as const, email: form.username, password: form.password })),
  refresh_token: z
    .object({ refresh_token: refreshToken })
    .transform((form) => ({ grantType: "refresh_token" as const, refreshToken: form.refresh_token })),
};

/** What a token request asks for, once its grant's parameters are checked. */
export type AuthTokenGrant = (
  | z.output<(typeof tokenGrants)[keyof typeof tokenGrants]>
  /** A grant type this server does not issue tokens for; the handler answers `unsupported_grant_type`. */
  | { grantType: "unsupported"; name: string }
) & { scope: string | undefined };

/**
 * `POST /auth/token` (RFC 6749 §4.3.2, §6): `grant_type`, then the grant's own parameters, checked by
 * the same rules as `/auth/login` and `/auth/refresh` (`username` is the email). Unknown parameters are
 * ignored, as RFC 6749 §3.2 asks; a missing or bad one is `invalid_request`, naming it.
 */
export const AuthTokenForm = z
  .object({
    grant_type: z.string().min(1, "Required.").max(100).describe("`password` or `refresh_token`."),
    username: z.string().optional().describe("The password grant: the account's email."),
    password: z.string().optional().describe("The password grant: the account's password."),
    refresh_token: z.string().optional().describe("The refresh_token grant: the refresh token, used once."),
    scope: z.string().max(1000).optional().describe("Leave it out: this server defines no scopes."),
  })
  .transform((form, context): AuthTokenGrant => {
    const { grant_type: name, scope } = form;
    const grant = name === "password" || name === "refresh_token" ? tokenGrants[name] : undefined;
    if (!grant) return { grantType: "unsupported", name, scope };
    const checked = grant.safeParse(form);
    if (!checked.success) {
      for (const issue of checked.error.issues)
        context.addIssue({ code: "custom", path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return { ...checked.data, scope };
  });
