import { z } from "zod";
import { pageQuery } from "../../validation/paging.js";
import { protoOptional, protoRequest, protoString } from "../../validation/protojson.js";

const groupName = z.string().trim().min(1, "Required.").max(100);

export const GroupCreateSchema = protoRequest({ name: protoString(groupName) });
export const GroupUpdateSchema = protoRequest({ name: protoOptional(groupName) });
export const GroupListQuerySchema = z.strictObject({ ...pageQuery });
export type GroupListQuery = z.infer<typeof GroupListQuerySchema>;
export const GroupIdParamsSchema = z.strictObject({ id: z.uuid("A group id.") });
