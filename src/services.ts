import type { Sequelize } from "sequelize";
import { LoginThrottle } from "./auth/login-throttle.js";
import type { Config } from "./config/index.js";
import type { Logger } from "./logging/logger.js";
import { NotificationHub } from "./modules/notifications/hub.js";

/** What handlers and services need from the process, handed to every route; nothing is global. */
export interface Services {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  loginThrottle: LoginThrottle;
  /** Live notification streams of this process (one LISTEN connection, opened on first use). */
  notificationHub: NotificationHub;
}

/**
 * Builds the services of one app instance.
 * @param deps - configuration, logger and database
 */
export function createServices(deps: { config: Config; logger: Logger; sequelize: Sequelize }): Services {
  return {
    ...deps,
    loginThrottle: new LoginThrottle(deps.sequelize, deps.config.loginThrottle),
    notificationHub: new NotificationHub(deps.sequelize, deps.logger),
  };
}
