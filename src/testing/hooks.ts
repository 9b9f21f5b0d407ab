import { startTestDatabase, stopTestDatabase } from "./database.js";

/** Mocha root hooks: one database for the whole run, started before the first test. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await startTestDatabase();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestDatabase();
  },
};
