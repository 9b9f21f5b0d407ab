import type { Module } from "../module.js";
import { authRoutes } from "./routes.js";
import { RefreshToken, Session } from "./session.model.js";

/** Sign-in sessions and their refresh tokens. */
export const authModule: Module = {
  name: "auth",
  routes: authRoutes,
  initModels(sequelize) {
    Session.initialise(sequelize);
    RefreshToken.initialise(sequelize);
    RefreshToken.belongsTo(Session, { foreignKey: "sessionId", as: "session" });
  },
};
