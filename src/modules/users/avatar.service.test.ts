import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { AppError } from "../../errors/index.js";
import { testDatabase } from "../../testing/database.js";
import { onePixelPng } from "../../testing/files.js";
import { createTestStorage, receivedFile, type TestStorage } from "../../testing/storage.js";
import { replaceAvatar } from "./avatar.service.js";

/** replaceAvatar (src/modules/users/avatar.service.ts) on the suite's database and a local storage root. */
describe("replaceAvatar (src/modules/users/avatar.service.ts)", () => {
  let storage: TestStorage;
  const db = () => ({ sequelize: testDatabase().database.sequelize });

  beforeEach(async () => {
    storage = await createTestStorage("local");
  });
  afterEach(() => storage.dispose());

  it("refuses a token whose account is gone (401) and removes the file it had stored", async () => {
    const actor = { id: randomUUID(), role: "student" as const, sessionId: randomUUID() };
    const upload = await receivedFile(storage, onePixelPng());
    const error = await replaceAvatar(db(), storage, actor, upload).catch((caught: unknown) => caught);
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "unauthenticated");
    assert.equal(error.message, "The account of this token no longer exists.");
    assert.deepEqual(await storage.temporaryFiles(), [], "the upload was moved into storage");
    assert.deepEqual(await storage.storedFiles(), [], "and removed from there once recording it failed");
  });
});
