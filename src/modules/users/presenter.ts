import {
  Role,
  roleFromJSON,
  type PublicProfile,
  type User as UserMessage,
  type UserSummary,
} from "../../../generated/shtp/v1/users.js";
import { presentMedalAwards } from "../medals/presenter.js";
import type { MedalAwardRow } from "../medals/service.js";
import type { RoleName } from "../../auth/roles.js";
import { storedNameOf } from "../../contract/enums.js";
import { AVATARS_FOLDER } from "./avatar.service.js";
import type { User, UserFields } from "./user.model.js";

const protoRoles: Record<RoleName, Role> = { student: Role.STUDENT, teacher: Role.TEACHER, admin: Role.ADMIN };

/** @returns the proto enum value of a role */
export const presentRole = (role: RoleName): Role => protoRoles[role];

/**
 * @param role - a validated proto role (never UNSPECIFIED or UNRECOGNIZED: zod refused those)
 * @returns our role name
 */
export const roleFromProto = (role: Role): RoleName => storedNameOf(protoRoles, role);

/**
 * @param name - a validated ProtoJSON role name (`ROLE_TEACHER`), as query strings carry it
 * @returns our role name
 */
export const roleFromName = (name: string): RoleName => roleFromProto(roleFromJSON(name));

/** Where avatars are served to anyone. */
export const AVATAR_URL_PREFIX = `/storage/${AVATARS_FOLDER}/`;

/** @returns the public URL of an avatar, or "" when there is none */
export const avatarUrlOf = (avatarFile: string | null): string =>
  avatarFile ? `${AVATAR_URL_PREFIX}${avatarFile}` : "";

/**
 * A user as they and staff see them.
 * @param user - the row
 */
export function presentUser(user: UserFields): UserMessage {
  return {
    id: user.id,
    email: user.email,
    nickName: user.nickName,
    firstName: user.firstName,
    lastName: user.lastName,
    role: presentRole(user.role),
    groupId: user.groupId,
    learningClass: user.learningClass,
    rating: user.rating,
    aboutText: user.aboutText,
    socialLinks: user.socialLinks,
    techStack: user.techStack,
    avatarUrl: avatarUrlOf(user.avatarFile),
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/**
 * The profile anyone may read: everything but the email, and the medals.
 * @param user - the row
 * @param medals - the medals they hold
 */
export function presentPublicProfile(user: User, medals: readonly MedalAwardRow[]): PublicProfile {
  return {
    id: user.id,
    nickName: user.nickName,
    firstName: user.firstName,
    lastName: user.lastName,
    role: presentRole(user.role),
    groupId: user.groupId,
    learningClass: user.learningClass,
    rating: user.rating,
    aboutText: user.aboutText,
    socialLinks: user.socialLinks,
    techStack: user.techStack,
    avatarUrl: avatarUrlOf(user.avatarFile),
    createdAt: user.createdAt,
    medals: presentMedalAwards(medals),
  };
}

/**
 * A user as lists of other things show them.
 * @param user - the row or the columns a list query selected
 */
export function presentUserSummary(
  user: Pick<User, "id" | "nickName" | "firstName" | "lastName" | "avatarFile">,
): UserSummary {
  return {
    id: user.id,
    nickName: user.nickName,
    firstName: user.firstName,
    lastName: user.lastName,
    avatarUrl: avatarUrlOf(user.avatarFile),
  };
}
