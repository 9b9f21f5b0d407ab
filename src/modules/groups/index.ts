import type { Module } from "../module.js";
import { Group } from "./group.model.js";
import { groupRoutes } from "./routes.js";

/** Study cohorts; every user belongs to exactly one. */
export const groupsModule: Module = {
  name: "groups",
  routes: groupRoutes,
  initModels: (sequelize) => Group.initialise(sequelize),
};
