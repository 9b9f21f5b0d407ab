import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { JudgingStage } from "../../../generated/shtp/v1/assignments.js";
import { submissionsModule } from "./index.js";
import { parseProgress } from "./service.js";

/**
 * A PROGRESS_CHANNEL payload comes over PostgreSQL NOTIFY, where anything may publish on the channel:
 * a payload of another shape must be dropped, never reach a stream or throw in the listener.
 */

const [progressSource] = submissionsModule.liveEvents ?? [];

describe("judging progress payloads (src/modules/submissions)", () => {
  const userId = randomUUID();
  const submissionId = randomUUID();
  const good = { userId, submissionId, stage: "testing", test: 2, totalTests: 5 };

  it("reads a well-formed payload back into the submitter and the event", () => {
    assert.deepEqual(parseProgress(JSON.stringify(good)), {
      userId,
      progress: { submissionId, stage: "testing", test: 2, totalTests: 5 },
    });
    assert.deepEqual(progressSource?.parse(JSON.stringify(good)), {
      userId,
      message: { submissionId, stage: JudgingStage.TESTING, test: 2, totalTests: 5 },
    });
  });

  it("drops a payload that is not JSON", () => {
    assert.equal(parseProgress("{not json"), null);
    assert.equal(progressSource?.parse("{not json"), undefined);
  });

  it("drops a payload of another shape: each field missing or of the wrong type", () => {
    const broken = [
      { ...good, userId: 7 },
      { ...good, submissionId: undefined },
      { ...good, stage: "judging" },
      { ...good, test: "2" },
      { ...good, totalTests: null },
    ];
    for (const payload of broken) {
      assert.equal(parseProgress(JSON.stringify(payload)), null, JSON.stringify(payload));
      assert.equal(progressSource?.parse(JSON.stringify(payload)), undefined, JSON.stringify(payload));
    }
  });
});
