import { z } from "zod";
import {
  ChangeMyPasswordRequest,
  CreateUserRequest,
  ResetPasswordRequest,
  Role,
  roleToJSON,
  UpdateMyProfileRequest,
  UpdateUserRequest,
} from "../../../generated/shtp/v1/users.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth/passwords.js";
import {
  chosenEnum,
  emailField,
  enumNames,
  queryFlag,
  requiredText,
  trimmedText,
  uuidField,
} from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { each, requestBody } from "../../validation/rules.js";

const roleNames = enumNames(Role, roleToJSON);

/** Words that are paths under /users, so no nickname may take them. */
export const reservedNickNames = new Set(["me", "leaderboard", "import"]);

export const nickNameField = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{3,32}$/, "3 to 32 letters, digits, '_', '.' or '-'.")
  .refine((nick) => !reservedNickNames.has(nick.toLowerCase()), "This nickname is reserved.");
export const personNameField = requiredText(100);
export const learningClassField = trimmedText(16);
export const passwordField = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters.`)
  .max(MAX_PASSWORD_LENGTH);
const linkField = z.url({ protocol: /^https?$/, error: "An http(s) URL." }).max(300);
const techField = requiredText(40);

/** The account fields staff set, on creation and on edits (where each is optional). */
const accountRules = {
  email: emailField,
  nickName: nickNameField,
  firstName: personNameField,
  lastName: personNameField,
  role: chosenEnum("Choose a role."),
  groupId: uuidField("group"),
  learningClass: learningClassField,
};

export const UserCreateBody = requestBody(CreateUserRequest, { ...accountRules, password: passwordField });

export const UserUpdateMeBody = requestBody(UpdateMyProfileRequest, {
  nickName: nickNameField,
  aboutText: z.string().max(2000),
  socialLinks: { values: each(linkField, { max: 10 }) },
  techStack: { values: each(techField, { max: 30 }) },
});

export const UserUpdateBody = requestBody(UpdateUserRequest, accountRules);

export const UserChangeMyPasswordBody = requestBody(ChangeMyPasswordRequest, {
  currentPassword: z.string().min(1, "Required.").max(MAX_PASSWORD_LENGTH),
  newPassword: passwordField,
});

export const UserResetPasswordBody = requestBody(ResetPasswordRequest, { newPassword: passwordField });

export const UserListQuerySchema = z.strictObject({
  ...pageQuery,
  query: z.string().trim().min(1).max(100).optional(),
  groupId: uuidField("group").optional(),
  role: z.enum(roleNames).optional(),
  learningClass: z.string().trim().max(16).optional(),
});
export type UserListQuery = z.infer<typeof UserListQuerySchema>;

export const UserIdParamsSchema = z.strictObject({ id: uuidField("user") });
export const UserProfileParamsSchema = z.strictObject({ idOrNickName: z.string().min(1).max(64) });
export const LeaderboardQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });
export const UserImportQuerySchema = z.strictObject({
  dryRun: queryFlag(),
});
