import type { Sequelize } from "sequelize";
import type { LiveEventSource, Route } from "../http/route.js";
import type { StoredFolder } from "../storage/sweep.js";
import { achievementsModule } from "./achievements/index.js";
import { authModule } from "./auth/index.js";
import { challengesModule } from "./challenges/index.js";
import { contestsModule } from "./contests/index.js";
import { eventsModule } from "./events/index.js";
import { groupsModule } from "./groups/index.js";
import { judgeModule } from "./judge/index.js";
import { metaModule } from "./meta/index.js";
import type { Module } from "./module.js";
import { notificationsModule } from "./notifications/index.js";
import { submissionsModule } from "./submissions/index.js";
import { tasksModule } from "./tasks/index.js";
import { usersModule } from "./users/index.js";

/** Every module of the API, listed once; models are bound in this order (a model before its dependants). */
export const modules: readonly Module[] = [
  metaModule,
  groupsModule,
  usersModule,
  authModule,
  notificationsModule,
  achievementsModule,
  eventsModule,
  tasksModule,
  challengesModule,
  contestsModule,
  submissionsModule,
  judgeModule,
];

/** Every route of the API, module by module; the one list the router, OpenAPI and tests read. */
export const routes: readonly Route[] = modules.flatMap((module) => module.routes);

/**
 * Binds every module's models to the process's Sequelize instance.
 * @param sequelize - the instance of this process
 */
export function initModels(sequelize: Sequelize): void {
  for (const module of modules) module.initModels?.(sequelize);
}

/** The live event sources whose events reach users' notification streams. */
export const liveEventSources: readonly LiveEventSource[] = modules.flatMap((module) => module.liveEvents ?? []);

/** The storage folders served to anyone by name. */
export const publicFolders: readonly string[] = modules.flatMap((module) => module.publicFolders ?? []);

/** The storage folders whose files rows name, for the orphan sweep. */
export const storedFolders: readonly StoredFolder[] = modules.flatMap((module) => module.storedFolders ?? []);
