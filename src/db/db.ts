import { createHash } from "node:crypto";
import pg from "pg";
import { DatabaseError, QueryTypes, type Sequelize, type Transaction } from "sequelize";

/**
 * How data access receives the database, the one way it is passed: the process's Sequelize instance
 * and, inside a transaction, that transaction. Every function of a module's `queries.ts` takes it
 * first; services pass on the one their route handed them.
 */
export interface Db {
  readonly sequelize: Sequelize;
  readonly transaction?: Transaction;
}

/** A Db inside a transaction: what mutations run on, so they commit or roll back whole. */
export interface TransactionDb extends Db {
  readonly transaction: Transaction;
}

/**
 * Runs `work` in a transaction of its own (for services that must commit before they go on, such as
 * storing a file and then removing the one it replaced).
 * @param db - the database
 * @param work - the statements, given a TransactionDb
 */
export function inTransaction<T>(db: Db, work: (tx: TransactionDb) => Promise<T>): Promise<T> {
  return db.sequelize.transaction((transaction) => work({ sequelize: db.sequelize, transaction }));
}

/**
 * Runs a SELECT and returns its rows. Values travel as named replacements (`:name`), never as text.
 * @param db - the database, and the transaction to run in if any
 * @param sql - the statement
 * @param replacements - its values
 */
export function select<Row extends object>(
  db: Db,
  sql: string,
  replacements: Record<string, unknown> = {},
): Promise<Row[]> {
  return db.sequelize.query<Row>(sql, { replacements, type: QueryTypes.SELECT, transaction: db.transaction });
}

/**
 * Runs an INSERT, UPDATE or DELETE (with RETURNING when rows are wanted back).
 * @returns the returned rows and the number of rows affected
 */
export async function execute<Row extends object = object>(
  db: Db,
  sql: string,
  replacements: Record<string, unknown> = {},
): Promise<{ rows: Row[]; count: number }> {
  const [rows, result] = await db.sequelize.query(sql, { replacements, transaction: db.transaction });
  const count = typeof result === "number" ? result : ((result as { rowCount?: number } | undefined)?.rowCount ?? 0);
  return { rows: rows as Row[], count };
}

/**
 * A list as a typed SQL array literal for a `:name` replacement. `ARRAY[]` cannot be typed by
 * PostgreSQL, so an empty list becomes a typed empty array instead.
 * @param name - the replacement's name (its value is the list itself)
 * @param values - the list, to tell an empty one
 * @param type - the element type
 */
export const arrayParam = (name: string, values: readonly unknown[], type: "uuid" | "text"): string =>
  values.length > 0 ? `CAST(ARRAY[:${name}] AS ${type}[])` : `CAST('{}' AS ${type}[])`;

/** A statement with `:name` replacements rewritten to `$n` parameters, and the names in their order. */
interface PositionalStatement {
  name: string;
  text: string;
  parameters: string[];
}

const positionalStatements = new Map<string, PositionalStatement>();

/**
 * Told of every prepared statement before it runs, as Sequelize's `beforeQuery` hooks are of its own
 * queries (which prepared statements bypass): whatever watches every statement, such as the tests'
 * statement counts, watches both.
 */
export const preparedStatementWatchers = new Set<(sql: string) => void>();

/**
 * Rewrites `:name` replacements to `$1`, `$2`… once per statement text, leaving quoted strings, quoted
 * identifiers and `::type` casts alone; the statement's name is a digest of its text.
 */
function positional(sql: string): PositionalStatement {
  const known = positionalStatements.get(sql);
  if (known) return known;
  const parameters: string[] = [];
  const text = sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|::|:([A-Za-z_]\w*)/g, (match, name?: string) => {
    if (name === undefined) return match;
    const index = parameters.indexOf(name);
    if (index >= 0) return `$${index + 1}`;
    parameters.push(name);
    return `$${parameters.length}`;
  });
  const statement = { name: `shtp_${createHash("sha1").update(sql).digest("hex").slice(0, 20)}`, text, parameters };
  positionalStatements.set(sql, statement);
  return statement;
}

/** What this module relies on of a pooled pg client: its query, and Sequelize's marks for a connection not to reuse. */
interface PooledPgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
  _invalid?: boolean;
  _ending?: boolean;
  end(): Promise<void>;
}

/**
 * Runs a SELECT as a named prepared statement, so PostgreSQL plans it once per pooled connection instead
 * of on every call (for a hot read whose planning costs as much as its execution: the events page's
 * union planned in about 1 ms, executed in about 0.5 ms). The rows are what `select` returns, through
 * the same connections and type parsers; errors become the ones Sequelize would raise, and a connection
 * pg gave up on is ended as Sequelize's own queries end it. Inside a transaction it is `select`.
 * Values are scalars (an array replacement is Sequelize's list expansion, which `$n` does not do).
 * @param db - the database, and the transaction to run in if any
 * @param sql - the statement, with `:name` replacements
 * @param replacements - its values
 */
export async function selectPrepared<Row extends object>(
  db: Db,
  sql: string,
  replacements: Record<string, unknown> = {},
): Promise<Row[]> {
  if (db.transaction) return select<Row>(db, sql, replacements);
  const statement = positional(sql);
  const values = statement.parameters.map((name) => {
    const value = replacements[name];
    if (Array.isArray(value)) throw new Error(`selectPrepared takes scalar values; :${name} is an array`);
    return value ?? null;
  });
  const { connectionManager } = db.sequelize;
  const connection = await connectionManager.getConnection({ type: "read" });
  const client = connection as PooledPgClient;
  try {
    for (const watch of preparedStatementWatchers) watch(statement.text);
    const { rows } = await client.query({ name: statement.name, text: statement.text, values });
    return rows as Row[];
  } catch (error) {
    if (error instanceof pg.DatabaseError) {
      throw new DatabaseError(Object.assign(error, { sql: statement.text, parameters: {} }));
    }
    // pg's own "Query read timeout" or a lost socket: this connection must not serve another query.
    client._invalid = true;
    if (client._ending !== true) void client.end().catch(() => undefined);
    throw error;
  } finally {
    connectionManager.releaseConnection(connection);
  }
}
