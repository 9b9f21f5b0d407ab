import type { Module } from "../module.js";
import { taskRoutes } from "./routes.js";

/** Programming tasks with their tests, which day challenges and contests set and the judge runs. */
export const tasksModule: Module = { name: "tasks", routes: taskRoutes };
