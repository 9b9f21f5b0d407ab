import type { Sequelize } from "sequelize";
import { RefreshToken, Session } from "../modules/auth/session.model.js";
import { Group } from "../modules/groups/group.model.js";
import { Banner } from "../modules/notifications/banner.model.js";
import { User } from "../modules/users/user.model.js";

/**
 * Binds every model to the process's Sequelize instance and declares their associations.
 * @param sequelize - the instance of this process
 */
export function initModels(sequelize: Sequelize): void {
  Group.initialise(sequelize);
  User.initialise(sequelize);
  User.belongsTo(Group, { foreignKey: "groupId", as: "group" });
  Group.hasMany(User, { foreignKey: "groupId", as: "members" });
  Banner.initialise(sequelize);
  Session.initialise(sequelize);
  RefreshToken.initialise(sequelize);
  RefreshToken.belongsTo(Session, { foreignKey: "sessionId", as: "session" });
}
