import { Group } from "../groups/group.model.js";
import type { Module } from "../module.js";
import { AVATARS_FOLDER } from "./avatar.service.js";
import { avatarNamesInUse, avatarOf } from "./queries.js";
import { userRoutes } from "./routes.js";
import { User } from "./user.model.js";

/** Accounts, profiles, avatars and the leaderboard. */
export const usersModule: Module = {
  name: "users",
  routes: userRoutes,
  initModels(sequelize) {
    User.initialise(sequelize);
    User.belongsTo(Group, { foreignKey: "groupId", as: "group" });
    Group.hasMany(User, { foreignKey: "groupId", as: "members" });
  },
  publicFolders: [AVATARS_FOLDER],
  storedFolders: [{ folder: AVATARS_FOLDER, namesInUse: avatarNamesInUse }],
  async onUserDeleted(db, userId, services) {
    const avatar = await avatarOf(db, userId);
    db.transaction.afterCommit(() => services.files.remove(AVATARS_FOLDER, avatar));
  },
};
