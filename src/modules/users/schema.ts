import { z } from "zod";
import { Role, roleToJSON } from "../../../generated/shtp/v1/users.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth/passwords.js";
import { pageQuery } from "../../validation/paging.js";
import {
  enumNames,
  protoEnum,
  protoMessage,
  protoOptional,
  protoRepeated,
  protoRequest,
  protoString,
} from "../../validation/protojson.js";

const roleNames = enumNames(Role, roleToJSON);

/** Words that are paths under /users, so no nickname may take them. */
export const reservedNickNames = new Set(["me", "leaderboard", "import"]);

export const emailField = z.email("Not a valid email address.").max(254);
export const nickNameField = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{3,32}$/, "3 to 32 letters, digits, '_', '.' or '-'.")
  .refine((nick) => !reservedNickNames.has(nick.toLowerCase()), "This nickname is reserved.");
export const personNameField = z.string().trim().min(1, "Required.").max(100);
export const learningClassField = z.string().trim().max(16);
export const passwordField = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters.`)
  .max(MAX_PASSWORD_LENGTH);
const linkField = z.url({ protocol: /^https?$/, error: "An http(s) URL." }).max(300);
const techField = z.string().trim().min(1).max(40);

export const UserCreateSchema = protoRequest({
  email: protoString(emailField),
  nickName: protoString(nickNameField),
  firstName: protoString(personNameField),
  lastName: protoString(personNameField),
  role: protoEnum(roleNames, "ROLE_UNSPECIFIED"),
  groupId: protoString(z.uuid("A group id.")),
  learningClass: protoString(learningClassField),
  password: protoString(passwordField),
});

export const UserUpdateMeSchema = protoRequest({
  nickName: protoOptional(nickNameField),
  aboutText: protoOptional(z.string().max(2000)),
  socialLinks: protoMessage({ values: protoRepeated(linkField, { max: 10 }) }),
  techStack: protoMessage({ values: protoRepeated(techField, { max: 30 }) }),
});

export const UserUpdateSchema = protoRequest({
  email: protoOptional(emailField),
  nickName: protoOptional(nickNameField),
  firstName: protoOptional(personNameField),
  lastName: protoOptional(personNameField),
  role: protoOptional(z.enum(roleNames)),
  groupId: protoOptional(z.uuid("A group id.")),
  learningClass: protoOptional(learningClassField),
});

export const UserChangeMyPasswordSchema = protoRequest({
  currentPassword: protoString(z.string().min(1, "Required.").max(MAX_PASSWORD_LENGTH)),
  newPassword: protoString(passwordField),
});

export const UserResetPasswordSchema = protoRequest({ newPassword: protoString(passwordField) });

export const UserListQuerySchema = z.strictObject({
  ...pageQuery,
  query: z.string().trim().min(1).max(100).optional(),
  groupId: z.uuid().optional(),
  role: z.enum(roleNames).optional(),
  learningClass: z.string().trim().max(16).optional(),
});
export type UserListQuery = z.infer<typeof UserListQuerySchema>;

export const UserIdParamsSchema = z.strictObject({ id: z.uuid("A user id.") });
export const UserProfileParamsSchema = z.strictObject({ idOrNickName: z.string().min(1).max(64) });
export const LeaderboardQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });
export const UserImportQuerySchema = z.strictObject({
  dryRun: z
    .enum(["true", "false"])
    .default("false")
    .transform((value) => value === "true"),
});
