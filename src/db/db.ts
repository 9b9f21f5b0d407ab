import { QueryTypes, type Sequelize, type Transaction } from "sequelize";

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
