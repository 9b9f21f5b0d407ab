import {
  ImportUsersResponse,
  LeaderboardResponse,
  ListUsersResponse,
  PublicProfile,
  User as UserMessage,
} from "../../../generated/shtp/v1/users.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import { medalsOf } from "../medals/service.js";
import * as accounts from "./accounts.service.js";
import { replaceAvatar } from "./avatar.service.js";
import { importUsers } from "./import.service.js";
import { leaderboard } from "./leaderboard.service.js";
import { presentPublicProfile, presentUser, presentUserSummary, roleFromName, roleFromProto } from "./presenter.js";
import * as profile from "./profile.service.js";
import {
  LeaderboardQuerySchema,
  UserChangeMyPasswordBody,
  UserCreateBody,
  UserIdParamsSchema,
  UserImportQuerySchema,
  UserListQuerySchema,
  UserProfileParamsSchema,
  UserResetPasswordBody,
  UserUpdateBody,
  UserUpdateMeBody,
} from "./schema.js";

const MiB = 1024 * 1024;

export const listUsers = defineRoute({
  name: "listUsers",
  method: "get",
  path: "/users",
  summary: "Users in name order, filtered by text, group, role or class; keyset-paged.",
  access: staff,
  query: UserListQuerySchema,
  response: ListUsersResponse,
  handler: async ({ query, db }) => {
    const page = await accounts.listUsers(db, {
      ...query,
      role: query.role === undefined ? undefined : roleFromName(query.role),
    });
    return { items: page.items.map(presentUser), nextCursor: page.nextCursor };
  },
});

export const createUser = defineRoute({
  name: "createUser",
  method: "post",
  path: "/users",
  summary: "Creates an account. Teachers create students; admins create anyone.",
  access: staff,
  body: UserCreateBody,
  response: UserMessage,
  successStatus: 201,
  errors: ["conflict", "failed_precondition"],
  handler: async ({ body, actor, db }) =>
    presentUser(await accounts.createUser(db, actor, { ...body, role: roleFromProto(body.role) })),
});

export const importUsersRoute = defineRoute({
  name: "importUsers",
  method: "post",
  path: "/users/import",
  summary: "Creates accounts from a CSV file, all or nothing; `dryRun=true` only validates.",
  description:
    "Multipart field `file`: UTF-8 CSV (RFC 4180) with the header firstName,lastName,email,role,password,learningClass,groupName. " +
    "Groups are named and must exist; nicknames are made from the emails. Any bad line answers 422 with one field violation per " +
    "problem, named `lines.<line number>.<column>`, and nothing is created.",
  access: staff,
  query: UserImportQuerySchema,
  upload: { field: "file", maxBytes: MiB, kinds: ["text"] },
  response: ImportUsersResponse,
  // The service opens its own transaction, once the passwords are hashed.
  transactional: false,
  errors: ["failed_precondition"],
  handler: async ({ query, actor, file, db }) => {
    const result = await importUsers(db, actor, file.path, query.dryRun);
    return { dryRun: result.dryRun, createdCount: result.users.length, users: result.users.map(presentUserSummary) };
  },
});

export const getLeaderboard = defineRoute({
  name: "getLeaderboard",
  method: "get",
  path: "/users/leaderboard",
  summary: "The top students by rating; equal ratings share a rank.",
  access: "public",
  query: LeaderboardQuerySchema,
  response: LeaderboardResponse,
  handler: async ({ query, db }) => ({
    items: (await leaderboard(db, query.limit)).map((row) => ({
      rank: row.rank,
      user: presentUserSummary(row),
      rating: row.rating,
    })),
  }),
});

export const updateMyProfile = defineRoute({
  name: "updateMyProfile",
  method: "patch",
  path: "/users/me",
  summary: "Updates the caller's profile; absent fields are left as they are.",
  access: "signedIn",
  body: UserUpdateMeBody,
  response: UserMessage,
  errors: ["conflict"],
  handler: async ({ body, actor, db }) =>
    presentUser(
      await profile.updateOwnProfile(db, actor, {
        nickName: body.nickName,
        aboutText: body.aboutText,
        socialLinks: body.socialLinks?.values,
        techStack: body.techStack?.values,
      }),
    ),
});

export const changeMyPassword = defineRoute({
  name: "changeMyPassword",
  method: "post",
  path: "/users/me/password",
  summary: "Changes the caller's password and ends their other sessions.",
  access: "signedIn",
  body: UserChangeMyPasswordBody,
  // The service hashes before its transaction opens.
  transactional: false,
  errors: ["rate_limited", "conflict"],
  handler: async ({ body, actor, services, address, db }) =>
    profile.changeOwnPassword(db, services, actor, { ...body, address }),
});

export const replaceMyAvatar = defineRoute({
  name: "replaceMyAvatar",
  method: "put",
  path: "/users/me/avatar",
  summary: "Sets the caller's avatar: multipart field `avatar`, PNG, JPEG, GIF or WebP by content, at most 5 MB.",
  description:
    "The answer's `avatarUrl` is `/storage/avatars/<random name>`, served by the API itself whatever the " +
    "storage (local folders or a bucket), never a redirect to a signed bucket URL: it never expires, is " +
    "public and cacheable as immutable, and a new upload gets a new URL (the old one then answers 404).",
  access: "signedIn",
  upload: { field: "avatar", maxBytes: 5 * MiB, kinds: ["png", "jpeg", "gif", "webp"] },
  response: UserMessage,
  // The service commits the row itself, so the old file is removed only after the new one is recorded.
  transactional: false,
  handler: async ({ actor, file, services, db }) => presentUser(await replaceAvatar(db, services, actor, file)),
});

export const getUserProfile = defineRoute({
  name: "getUserProfile",
  method: "get",
  path: "/users/:idOrNickName",
  summary: "A user's public profile with their medals, by id or nickname.",
  access: "public",
  params: UserProfileParamsSchema,
  response: PublicProfile,
  errors: ["not_found"],
  handler: async ({ params, db }) => {
    const user = await profile.findProfile(db, params.idOrNickName);
    return presentPublicProfile(user, await medalsOf(db, user.id));
  },
});

export const updateUser = defineRoute({
  name: "updateUser",
  method: "patch",
  path: "/users/:id",
  summary:
    "Staff edit of an account; absent fields are left as they are. Teachers edit students; only admins change roles.",
  access: staff,
  params: UserIdParamsSchema,
  body: UserUpdateBody,
  response: UserMessage,
  errors: ["not_found", "conflict", "failed_precondition"],
  handler: async ({ params, body, actor, db }) =>
    presentUser(
      await accounts.updateAccount(db, actor, params.id, {
        ...body,
        role: body.role === undefined ? undefined : roleFromProto(body.role),
      }),
    ),
});

export const resetUserPassword = defineRoute({
  name: "resetUserPassword",
  method: "post",
  path: "/users/:id/password",
  summary: "Staff sets a new password for an account and ends all its sessions.",
  access: staff,
  params: UserIdParamsSchema,
  body: UserResetPasswordBody,
  // The service hashes before its transaction opens.
  transactional: false,
  errors: ["not_found"],
  handler: async ({ params, body, actor, db }) => accounts.resetPassword(db, actor, params.id, body.newPassword),
});

export const deleteUser = defineRoute({
  name: "deleteUser",
  method: "delete",
  path: "/users/:id",
  summary: "Deletes an account with its data and files. The last admin cannot be deleted.",
  access: staff,
  params: UserIdParamsSchema,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ params, actor, services, db }) => accounts.deleteUser(db, services, actor, params.id),
});

/** Fixed paths come before `/users/:idOrNickName`, which would otherwise take them. */
export const userRoutes = [
  listUsers,
  createUser,
  importUsersRoute,
  getLeaderboard,
  updateMyProfile,
  changeMyPassword,
  replaceMyAvatar,
  getUserProfile,
  updateUser,
  resetUserPassword,
  deleteUser,
];
