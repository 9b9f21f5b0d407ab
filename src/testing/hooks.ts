import { startTestDatabase, stopTestDatabase } from "./database.js";
import { stopTestBucket } from "./s3.js";

/** Mocha root hooks: one database for the whole run, started before the first test; the S3 server, if a test started one, stopped at the end. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    await startTestDatabase();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await Promise.all([stopTestDatabase(), stopTestBucket()]);
  },
};
