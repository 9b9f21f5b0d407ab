import assert from "node:assert/strict";
import { AppError } from "../../errors/index.js";
import { messageAudienceOf } from "./presenter.js";

describe("messageAudienceOf (src/modules/notifications/presenter.ts)", () => {
  it("refuses a send request without an audience, naming userId, should it get past the schema", () => {
    assert.throws(
      () => messageAudienceOf(undefined),
      (error: unknown) => {
        assert.ok(error instanceof AppError, String(error));
        assert.equal(error.code, "invalid_argument");
        assert.deepEqual(
          error.fieldViolations.map((violation) => violation.field),
          ["userId"],
        );
        return true;
      },
    );
  });
});
