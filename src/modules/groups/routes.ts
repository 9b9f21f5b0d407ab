import {
  CreateGroupRequest,
  Group as GroupMessage,
  ListGroupsResponse,
  UpdateGroupRequest,
} from "../../../generated/shtp/v1/groups.js";
import { defineRoute } from "../../http/route.js";
import { GroupCreateSchema, GroupIdParamsSchema, GroupListQuerySchema, GroupUpdateSchema } from "./schema.js";
import * as groupService from "./service.js";

export const listGroups = defineRoute({
  name: "listGroups",
  method: "get",
  path: "/groups",
  summary: "Groups in name order with their member counts; keyset-paged.",
  access: "signedIn",
  query: GroupListQuerySchema,
  response: ListGroupsResponse,
  handler: async ({ query, services }) => groupService.listGroups(services, query),
});

export const getGroup = defineRoute({
  name: "getGroup",
  method: "get",
  path: "/groups/:id",
  summary: "One group with its member count.",
  access: "signedIn",
  params: GroupIdParamsSchema,
  response: GroupMessage,
  errors: ["not_found"],
  handler: async ({ params }) => groupService.getGroup(params.id),
});

export const createGroup = defineRoute({
  name: "createGroup",
  method: "post",
  path: "/groups",
  summary: "Creates a group; names are unique whatever their case.",
  access: ["teacher", "admin"],
  body: { message: CreateGroupRequest, schema: GroupCreateSchema },
  response: GroupMessage,
  successStatus: 201,
  errors: ["conflict"],
  handler: async ({ body, transaction }) => groupService.createGroup(body.name, transaction!),
});

export const updateGroup = defineRoute({
  name: "updateGroup",
  method: "patch",
  path: "/groups/:id",
  summary: "Renames a group; an absent name is left as it is.",
  access: ["teacher", "admin"],
  params: GroupIdParamsSchema,
  body: { message: UpdateGroupRequest, schema: GroupUpdateSchema },
  response: GroupMessage,
  errors: ["not_found", "conflict"],
  handler: async ({ params, body, transaction }) => groupService.updateGroup(params.id, body, transaction!),
});

export const deleteGroup = defineRoute({
  name: "deleteGroup",
  method: "delete",
  path: "/groups/:id",
  summary: "Deletes a group; 409 while it has members.",
  access: ["teacher", "admin"],
  params: GroupIdParamsSchema,
  errors: ["not_found", "conflict"],
  handler: async ({ params, transaction }) => groupService.deleteGroup(params.id, transaction!),
});

export const groupRoutes = [listGroups, getGroup, createGroup, updateGroup, deleteGroup];
