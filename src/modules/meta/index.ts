import type { Module } from "../module.js";
import { metaRoutes } from "./routes.js";

/** The server's own facts (its version). */
export const metaModule: Module = { name: "meta", routes: metaRoutes };
