import type { Module } from "../module.js";
import { submissionRoutes } from "./routes.js";

/** Solutions sent for judging, their queue hand-off, results, rejections and the judge's fenced API. */
export const submissionsModule: Module = { name: "submissions", routes: submissionRoutes };
