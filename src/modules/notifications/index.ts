import type { Module } from "../module.js";
import { Banner } from "./banner.model.js";
import { notificationRoutes } from "./routes.js";

/** Notifications, the live stream and system banners. */
export const notificationsModule: Module = {
  name: "notifications",
  routes: notificationRoutes,
  initModels: (sequelize) => Banner.initialise(sequelize),
};
