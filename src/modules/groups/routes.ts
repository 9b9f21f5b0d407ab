import { Group as GroupMessage, ListGroupsResponse } from "../../../generated/shtp/v1/groups.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import { presentGroup } from "./presenter.js";
import { GroupCreateBody, GroupIdParamsSchema, GroupListQuerySchema, GroupUpdateBody } from "./schema.js";
import * as groupService from "./service.js";

export const listGroups = defineRoute({
  name: "listGroups",
  method: "get",
  path: "/groups",
  summary: "Groups in name order with their member counts; keyset-paged.",
  access: "signedIn",
  query: GroupListQuerySchema,
  response: ListGroupsResponse,
  handler: async ({ query, db }) => {
    const page = await groupService.listGroups(db, query);
    return { items: page.items.map(presentGroup), nextCursor: page.nextCursor };
  },
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
  handler: async ({ params, db }) => presentGroup(await groupService.getGroup(db, params.id)),
});

export const createGroup = defineRoute({
  name: "createGroup",
  method: "post",
  path: "/groups",
  summary: "Creates a group; names are unique whatever their case.",
  access: staff,
  body: GroupCreateBody,
  response: GroupMessage,
  successStatus: 201,
  errors: ["conflict"],
  handler: async ({ body, db }) => presentGroup(await groupService.createGroup(db, body.name)),
});

export const updateGroup = defineRoute({
  name: "updateGroup",
  method: "patch",
  path: "/groups/:id",
  summary: "Renames a group; an absent name is left as it is.",
  access: staff,
  params: GroupIdParamsSchema,
  body: GroupUpdateBody,
  response: GroupMessage,
  errors: ["not_found", "conflict"],
  handler: async ({ params, body, db }) => presentGroup(await groupService.updateGroup(db, params.id, body)),
});

export const deleteGroup = defineRoute({
  name: "deleteGroup",
  method: "delete",
  path: "/groups/:id",
  summary: "Deletes a group; 409 while it has members.",
  access: staff,
  params: GroupIdParamsSchema,
  errors: ["not_found", "conflict"],
  handler: async ({ params, db }) => groupService.deleteGroup(db, params.id),
});

export const groupRoutes = [listGroups, getGroup, createGroup, updateGroup, deleteGroup];
