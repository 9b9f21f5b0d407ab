import type { Module } from "../module.js";
import { contestRoutes } from "./routes.js";

/** Homework contests: ordered tasks for an audience, a window, and marks from distinct tasks solved. */
export const contestsModule: Module = { name: "contests", routes: contestRoutes };
