import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { JudgingStage, SubmissionProgress } from "../../../generated/shtp/v1/assignments.js";
import { Notification } from "../../../generated/shtp/v1/notifications.js";
import { inTransaction } from "../../db/db.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { openStream, type OpenStream } from "../../testing/sse.js";
import { waitFor } from "../../testing/wait.js";
import { sendMessage } from "../notifications/service.js";
import { publishProgress } from "./service.js";

/**
 * Judging progress on the submitter's notification stream: its own event type, without an id (never
 * replayed, never moving Last-Event-ID), only to the submitter, in either encoding of the stream.
 */
describe("judging progress on the live stream", function () {
  this.timeout(30_000);
  let server: TestServer;
  const streams: OpenStream[] = [];
  const db = () => ({ sequelize: testDatabase().database.sequelize });

  before(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await waitFor(() => server.services.notificationHub.streamCount === 0);
  });
  after(() => server.close());

  async function signedInStream(query: Record<string, string> = {}) {
    const user = await buildUser();
    const stream = await openStream(server.url, { token: await tokenFor(user, server.config), query });
    streams.push(stream);
    assert.equal(stream.status, 200);
    return { user, stream };
  }

  for (const encoding of ["json", "protobuf"] as const) {
    it(`delivers a SubmissionProgress event without an id to the submitter only (${encoding})`, async () => {
      const mine = await signedInStream({ encoding });
      const theirs = await signedInStream({ encoding });
      await waitFor(() => server.services.notificationHub.streamCount === 2);
      const submissionId = randomUUID();

      await publishProgress(db(), mine.user.id, { submissionId, stage: "testing", test: 2, totalTests: 5 });
      const event = await mine.stream.next(2000);
      assert.equal(event.event, SubmissionProgress.$type);
      assert.equal(event.id, undefined, "a live event carries no id, so it never moves Last-Event-ID");
      const progress =
        encoding === "json"
          ? SubmissionProgress.fromJSON(JSON.parse(event.data))
          : SubmissionProgress.decode(Buffer.from(event.data, "base64"));
      assert.deepEqual(progress, { submissionId, stage: JudgingStage.TESTING, test: 2, totalTests: 5 });

      // The next stored notification still comes with its id, and the other user saw nothing before it.
      await inTransaction(db(), (tx) =>
        sendMessage(tx, { kind: "user", userId: theirs.user.id }, { text: "after", severity: "info" }),
      );
      const theirsNext = await theirs.stream.next(2000);
      assert.equal(theirsNext.event, Notification.$type);
      assert.match(theirsNext.id ?? "", /^\d+$/);
    });
  }

  it("ignores payloads of another shape on the channel", async () => {
    const { user, stream } = await signedInStream();
    await waitFor(() => server.services.notificationHub.streamCount === 1);
    await testDatabase().database.sequelize.query("SELECT pg_notify('shtp_submission_progress', :payload)", {
      replacements: { payload: JSON.stringify({ userId: user.id, stage: "dancing" }) },
    });
    await publishProgress(db(), user.id, { submissionId: randomUUID(), stage: "compiling", test: 0, totalTests: 3 });
    const event = await stream.next(2000);
    assert.equal(
      SubmissionProgress.fromJSON(JSON.parse(event.data)).stage,
      JudgingStage.COMPILING,
      "the malformed payload was skipped",
    );
  });
});
