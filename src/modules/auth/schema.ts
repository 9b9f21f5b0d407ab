import { z } from "zod";
import { LoginRequest, LogoutRequest, RefreshRequest } from "../../../generated/shtp/v1/auth.js";
import { MAX_PASSWORD_LENGTH } from "../../auth/passwords.js";
import { requestBody } from "../../validation/rules.js";

/**
 * Sign-in checks only presence and bounds: the stored password's rules are not the caller's business.
 * The email is compared as stored (trimmed, lowercased), but not checked as an address: an account
 * made before a format rule changed must still sign in.
 */
export const AuthLoginBody = requestBody(LoginRequest, {
  email: z.string().trim().toLowerCase().min(1, "Required.").max(254),
  password: z.string().min(1, "Required.").max(MAX_PASSWORD_LENGTH),
});

const refreshToken = z.string().min(1, "Required.").max(200);
export const AuthRefreshBody = requestBody(RefreshRequest, { refreshToken });
export const AuthLogoutBody = requestBody(LogoutRequest, { refreshToken });
