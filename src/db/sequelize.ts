import net from "node:net";
import { Sequelize } from "sequelize";
import { loadConfig, type Config } from "../config/index.js";
import { useFastTimestampParser } from "./timestamps.js";

/** The pool size and the limits that keep a slow or silent database from holding requests. */
export type ConnectionSettings = Pick<
  Config["database"],
  | "poolMax"
  | "statementTimeoutMs"
  | "queryTimeoutMs"
  | "connectTimeoutMs"
  | "acquireTimeoutMs"
  | "keepAliveMs"
  | "idleInTransactionTimeoutMs"
>;

/**
 * Settings for maintenance work whose statements may rightly run for minutes (migrations, the db CLI,
 * the benchmark's seeding): the configured connect timeout and keepalive, but no statement limits.
 * @param poolMax - the connections it may hold
 * @param settings - the configured settings; the defaults when omitted
 */
export function maintenanceSettings(
  poolMax: number,
  settings: ConnectionSettings = loadConfig({}).database,
): ConnectionSettings {
  return {
    ...settings,
    poolMax,
    statementTimeoutMs: 0,
    queryTimeoutMs: 0,
    idleInTransactionTimeoutMs: 0,
    acquireTimeoutMs: Math.max(settings.acquireTimeoutMs, 60_000),
  };
}

/**
 * Creates the Sequelize instance of one process. With a database that stops answering (a network
 * partition drops packets without a reset), every wait is bounded: opening a connection by
 * `connectTimeoutMs`, waiting for a pooled one by `acquireTimeoutMs`, a query by `queryTimeoutMs`.
 * `statementTimeoutMs` lets PostgreSQL cancel a merely slow statement first, which keeps the connection
 * usable; `idleInTransactionTimeoutMs` lets it end the sessions of a client that vanished mid-transaction,
 * releasing their locks; TCP keepalive keeps idle pooled connections known to middleboxes.
 * @param url - a postgres:// URL
 * @param settings - pool size and limits (0 turns a limit off)
 */
export function createSequelize(url: string, settings: ConnectionSettings): Sequelize {
  useFastTimestampParser();
  const sequelize = new Sequelize(url, {
    dialect: "postgres",
    logging: false,
    pool: { max: settings.poolMax, min: 0, idle: 10_000, acquire: settings.acquireTimeoutMs },
    define: { underscored: true, timestamps: true },
    // Sequelize otherwise parses timestamps in the server's zone; we always store and answer UTC.
    timezone: "+00:00",
    // pg sends the two server settings in its startup message, so they cost no round trip.
    dialectOptions: {
      connectionTimeoutMillis: settings.connectTimeoutMs,
      statement_timeout: settings.statementTimeoutMs || undefined,
      idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs || undefined,
      query_timeout: settings.queryTimeoutMs || undefined,
      // pg's own keepAlive option takes no delay through Sequelize; a socket of ours does, set before connecting.
      stream: settings.keepAliveMs > 0 ? () => new net.Socket().setKeepAlive(true, settings.keepAliveMs) : undefined,
    },
  });
  sequelize.addHook("afterQuery", (_options, query) => endIfAbandoned(query.connection));
  return sequelize;
}

/** What this module relies on of a pooled pg client: Sequelize's mark for a connection it must not reuse. */
interface PooledClient {
  _invalid?: boolean;
  _ending?: boolean;
  end(): Promise<void>;
}

/**
 * A query the client gave up on (no answer within `queryTimeoutMs`) leaves its connection waiting for a
 * reply that may never come. Sequelize marks that connection invalid so the pool will not hand it out
 * again, but a transaction would still send its ROLLBACK there and wait as long once more. Ending it at
 * once (pg destroys the socket of a client with a query outstanding) fails whatever is queued on it
 * immediately, and the pool opens a fresh connection for the next request.
 */
function endIfAbandoned(connection: object): void {
  const client = connection as PooledClient;
  if (client._invalid === true && client._ending !== true) void client.end().catch(() => undefined);
}
