import type { Sequelize } from "sequelize";
import { LoginThrottle } from "./auth/login-throttle.js";
import { SessionCache } from "./auth/session-cache.js";
import type { Config } from "./config/index.js";
import { LeaseRegistry, leaseLimitsOf } from "./limits/leases.js";
import type { Logger } from "./logging/logger.js";
import { NotificationHub } from "./modules/notifications/hub.js";
import type { TransactionDb } from "./db/db.js";
import { liveEventSources, modules } from "./modules/index.js";
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
  /** What each user holds open (streams, uploads), limited per user across processes and per process. */
  leases: LeaseRegistry;
  /** Live notification streams of this process (one LISTEN connection, opened on first use). */
  notificationHub: NotificationHub;
  /** The session check's cache, kept only while the hub's LISTEN connection hears of session changes. */
  sessionCache: SessionCache;
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
  const leases = new LeaseRegistry({ sequelize: deps.sequelize }, deps.logger, leaseLimitsOf(deps.config.limits));
  const sessionCache = new SessionCache(() => services.notificationHub.listen());
  const services: Services = {
    ...deps,
    loginThrottle: new LoginThrottle(deps.sequelize, deps.config.loginThrottle),
    submissionThrottle: new SubmissionThrottle(deps.sequelize, deps.config.assignments.submissionLimits),
    leases,
    notificationHub: new NotificationHub(deps.sequelize, deps.logger, leases, liveEventSources, [sessionCache], {
      heartbeatMs: deps.config.database.keepAliveMs,
    }),
    sessionCache,
    files: createFileStore(deps.config.storage),
    onUserDeleted: async (db, userId) => {
      for (const module of modules) await module.onUserDeleted?.(db, userId, services);
    },
  };
  return services;
}
