import { Sequelize } from "sequelize";

/**
 * Creates the Sequelize instance of one process.
 * @param url - a postgres:// URL
 * @param poolMax - the most connections this process may hold
 */
export function createSequelize(url: string, poolMax: number): Sequelize {
  return new Sequelize(url, {
    dialect: "postgres",
    logging: false,
    pool: { max: poolMax, min: 0, idle: 10_000, acquire: 10_000 },
    define: { underscored: true, timestamps: true },
    // Sequelize otherwise parses timestamps in the server's zone; we always store and answer UTC.
    timezone: "+00:00",
  });
}
