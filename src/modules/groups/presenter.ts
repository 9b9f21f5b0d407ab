import type { Group as GroupMessage } from "../../../generated/shtp/v1/groups.js";
import type { GroupWithCount } from "./queries.js";

/**
 * A group as every signed-in user sees it.
 * @param group - the row with its member count
 */
export const presentGroup = (group: GroupWithCount): GroupMessage => ({
  id: group.id,
  name: group.name,
  memberCount: group.memberCount,
  createdAt: group.createdAt,
});
