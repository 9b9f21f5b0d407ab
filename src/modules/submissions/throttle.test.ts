import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Sequelize } from "sequelize";
import { AppError } from "../../errors/index.js";
import { SubmissionThrottle } from "./throttle.js";

describe("SubmissionThrottle (src/modules/submissions/throttle.ts)", () => {
  it("lets a database failure through as it is: it is not a spent limit, so no 429", async () => {
    // Nothing listens on port 1: every statement of the limiter fails to connect.
    const unreachable = new Sequelize("postgres://nobody@127.0.0.1:1/none", {
      logging: false,
      pool: { max: 1, acquire: 2000 },
    });
    try {
      const throttle = new SubmissionThrottle(unreachable, { perWindow: 3, windowSeconds: 60, perDay: 10 });
      const error = await throttle.consume(randomUUID()).then(
        () => assert.fail("the submission was counted"),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof Error);
      assert.ok(!(error instanceof AppError), `a database failure became ${String(error)}`);
      assert.match(error.message, /ECONNREFUSED|connect/i);
    } finally {
      await unreachable.close();
    }
  });
});
