import type { Sequelize } from "sequelize";
import type { TransactionDb } from "../db/db.js";
import type { LiveEventSource, Route } from "../http/route.js";
import type { Services } from "../services.js";
import type { StoredFolder } from "../storage/sweep.js";

/**
 * What a resource module gives the rest of the server, collected once in `src/modules/index.ts`, so
 * the router, the database set-up, the storage sweep and account deletion never name a module's
 * routes, tables, classes or folders themselves.
 */
export interface Module {
  /** For logs and errors. */
  name: string;
  /** Its routes, in match order (fixed paths before parameters). */
  routes: readonly Route[];
  /** Live events it publishes for a user's notification stream (not stored, never replayed). */
  liveEvents?: readonly LiveEventSource[];
  /** Binds its Sequelize models to the process's instance and declares their associations. */
  initModels?(sequelize: Sequelize): void;
  /** Storage folders anyone may read by name (random, unguessable names), served at /storage/<folder>/. */
  publicFolders?: readonly string[];
  /** The storage folders its rows name files in, for the orphan sweep. */
  storedFolders?: readonly StoredFolder[];
  /**
   * Runs in the transaction that deletes a user, before the user's row (and by cascade the module's
   * rows) go: the place to collect what the rows name outside the database and remove it once that
   * transaction has committed.
   */
  onUserDeleted?(db: TransactionDb, userId: string, services: Services): Promise<void>;
}
