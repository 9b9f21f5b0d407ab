import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Sequelize } from "sequelize";
import { buildApp } from "../app.js";
import { createServices, type Services } from "../services.js";
import { loadConfig, type Config } from "../config/index.js";
import type { Route } from "../http/route.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { testDatabase } from "./database.js";

/** The test configuration: everything at its default but quiet logs and the test mode. */
export const testConfig = (overrides: Record<string, string> = {}): Config =>
  loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", ...overrides });

/** A real HTTP server on a loopback port, serving the real app over the suite's database. */
export interface TestServer {
  url: string;
  config: Config;
  /** The app's process services (the notification hub, to count streams). */
  services: Services;
  close(): Promise<void>;
}

/**
 * Mounts the app on port 0.
 * @param options.routes - a route table other than the API's (for tests of the framework itself)
 * @param options.env - configuration overrides
 * @param options.logger - a logger of the test's own (to read what was logged); silent by default
 * @param options.sequelize - the routes' database, when not the suite's (one that cannot be reached);
 *   the readiness probe still asks the suite's
 */
export async function startTestServer(
  options: { routes?: readonly Route[]; env?: Record<string, string>; logger?: Logger; sequelize?: Sequelize } = {},
): Promise<TestServer> {
  const config = testConfig(options.env);
  const { database } = testDatabase();
  const logger = options.logger ?? createLogger("silent");
  const sequelize = options.sequelize ?? database.sequelize;
  const services = createServices({ config, logger, sequelize });
  const app = buildApp({
    config,
    logger,
    sequelize,
    isReady: database.isReady,
    services,
    routes: options.routes,
  });
  const handle = app.callback();
  const server = http.createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    services,
    close: async () => {
      await Promise.all([services.leases.stop(), services.notificationHub.stop()]);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
