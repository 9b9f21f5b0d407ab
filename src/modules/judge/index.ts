import type { Module } from "../module.js";
import { judgeRoutes } from "./routes.js";

/** The judge as the API shows it: the queue's state and the workers' heartbeats. */
export const judgeModule: Module = { name: "judge", routes: judgeRoutes };
