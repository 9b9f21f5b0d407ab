import { z } from "zod";
import { MAX_PASSWORD_LENGTH } from "../../auth/passwords.js";
import { protoRequest, protoString } from "../../validation/protojson.js";

/** Sign-in checks only presence and bounds: the stored password's rules are not the caller's business. */
export const AuthLoginSchema = protoRequest({
  email: protoString(z.string().trim().min(1, "Required.").max(254)),
  password: protoString(z.string().min(1, "Required.").max(MAX_PASSWORD_LENGTH)),
});

const refreshToken = protoString(z.string().min(1, "Required.").max(200));
export const AuthRefreshSchema = protoRequest({ refreshToken });
export const AuthLogoutSchema = protoRequest({ refreshToken });
