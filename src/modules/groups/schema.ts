import { z } from "zod";
import { CreateGroupRequest, UpdateGroupRequest } from "../../../generated/shtp/v1/groups.js";
import { pageQuery } from "../../validation/paging.js";
import { requiredText, uuidField } from "../../validation/fields.js";
import { requestBody } from "../../validation/rules.js";

const groupName = requiredText(100);

export const GroupCreateBody = requestBody(CreateGroupRequest, { name: groupName });
export const GroupUpdateBody = requestBody(UpdateGroupRequest, { name: groupName });
export const GroupListQuerySchema = z.strictObject({ ...pageQuery });
export type GroupListQuery = z.infer<typeof GroupListQuerySchema>;
export const GroupIdParamsSchema = z.strictObject({ id: uuidField("group") });

/** The keyset position of the name-ordered list: the lower-cased name. */
export const nameCursor = z.tuple([z.string()]);
