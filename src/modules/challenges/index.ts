import type { Module } from "../module.js";
import { challengeRoutes } from "./routes.js";

/** The day challenge: one task per calendar day of the school, with a leaderboard per day. */
export const challengesModule: Module = { name: "challenges", routes: challengeRoutes };
