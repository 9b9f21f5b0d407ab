import type { Sequelize } from "sequelize";
import { LoginThrottle } from "./auth/login-throttle.js";
import type { Config } from "./config/index.js";
import type { Logger } from "./logging/logger.js";
import { NotificationHub } from "./modules/notifications/hub.js";
import type { TransactionDb } from "./db/db.js";
import { modules } from "./modules/index.js";
import { SubmissionThrottle } from "./modules/submissions/throttle.js";
import { createFileStore } from "./storage/drivers.js";
import type { FileStore } from "./storage/store.js";

/** What handlers and services need from the process, handed to every route; nothing is global. */
export interface Services {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  loginThrottle: LoginThrottle;
  /** Per-user submission limits, counted in the database for every process. */
  submissionThrottle: SubmissionThrottle;
  /** Live notification streams of this process (one LISTEN connection, opened on first use). */
  notificationHub: NotificationHub;
  /** Where user files are stored: local folders or a bucket (STORAGE_DRIVER). */
  files: FileStore;
  /** Lets every module act on a user's deletion, in the deleting transaction (Module.onUserDeleted). */
  onUserDeleted(db: TransactionDb, userId: string): Promise<void>;
}

/**
 * Builds the services of one app instance.
 * @param deps - configuration, logger and database
 */
export function createServices(deps: { config: Config; logger: Logger; sequelize: Sequelize }): Services {
  const services: Services = {
    ...deps,
    loginThrottle: new LoginThrottle(deps.sequelize, deps.config.loginThrottle),
    submissionThrottle: new SubmissionThrottle(deps.sequelize, deps.config.assignments.submissionLimits),
    notificationHub: new NotificationHub(deps.sequelize, deps.logger),
    files: createFileStore(deps.config.storage),
    onUserDeleted: async (db, userId) => {
      for (const module of modules) await module.onUserDeleted?.(db, userId, services);
    },
  };
  return services;
}
