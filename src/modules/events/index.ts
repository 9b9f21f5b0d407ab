import type { Module } from "../module.js";
import { eventRoutes } from "./routes.js";

/** School events, registrations and attendance. */
export const eventsModule: Module = { name: "events", routes: eventRoutes };
