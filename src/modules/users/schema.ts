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
import { roleNames } from "../../auth/roles.js";
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

/** The ProtoJSON names of the roles (`ROLE_TEACHER`), as query strings give them. */
const wireRoleNames = enumNames(Role, roleToJSON);

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

/**
 * A new account as the accounts that reach no route give it (the initial admin, the demo accounts,
 * the create-admin command): the same rules as a staff request, so what is stored has the same form.
 */
export const NewAccountSchema = z.strictObject({
  email: emailField,
  nickName: nickNameField,
  firstName: personNameField,
  lastName: personNameField,
  role: z.enum(roleNames),
  learningClass: learningClassField,
  password: passwordField,
});

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
  role: z.enum(wireRoleNames).optional(),
  learningClass: z.string().trim().max(16).optional(),
});

/** The header the import expects, in any order. */
export const importColumns = [
  "firstName",
  "lastName",
  "email",
  "role",
  "password",
  "learningClass",
  "groupName",
] as const;
/** Keeps one import within one reasonable transaction. */
export const MAX_IMPORT_ROWS = 2000;

/** One line of an import file: the account rules of a staff request, with a role and a group by name. */
export const ImportRowSchema = z.strictObject({
  firstName: personNameField,
  lastName: personNameField,
  email: emailField,
  role: z
    .string()
    .transform((role) =>
      role
        .trim()
        .toLowerCase()
        .replace(/^role_/, ""),
    )
    .pipe(z.enum(roleNames, "One of student, teacher, admin.")),
  password: passwordField,
  learningClass: learningClassField,
  groupName: z.string().trim().min(1, "Required."),
});

/** The keyset position of the name-ordered user list: last name, first name, id. */
export const userNameCursor = z.tuple([z.string(), z.string(), z.uuid()]);

export const UserIdParamsSchema = z.strictObject({ id: uuidField("user") });
export const UserProfileParamsSchema = z.strictObject({ idOrNickName: z.string().min(1).max(64) });
export const LeaderboardQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });
export const UserImportQuerySchema = z.strictObject({
  dryRun: queryFlag(),
});
