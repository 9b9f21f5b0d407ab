import assert from "node:assert/strict";
import path from "node:path";
import { testDatabase } from "../testing/database.js";
import { buildUser } from "../testing/factories.js";
import { createTestStorage, storageDrivers, type TestStorage } from "../testing/storage.js";
import { storedFolders } from "../modules/index.js";
import { randomFileName } from "./files.js";
import { sweepOrphanFiles, type StoredFolder } from "./sweep.js";

/**
 * The storage sweep removes exactly the stored files that no row names and that are old enough; it
 * keeps recorded files, young files (a request may still be recording them) and names not of ours.
 * The same cases run on local folders and on an S3 bucket.
 */
for (const driver of storageDrivers) {
  describe(`sweepOrphanFiles: ${driver}`, () => {
    let storage: TestStorage;
    const proofs = storedFolders.find((folder) => folder.folder === "proofs") as StoredFolder;
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);

    beforeEach(async () => {
      storage = await createTestStorage(driver);
    });
    afterEach(() => storage.dispose());

    async function place(name: string, old: boolean): Promise<string> {
      await storage.place(proofs.folder, name, "proof");
      if (old) await storage.backdate(proofs.folder, name, hourAgo);
      return name;
    }

    it("removes old unrecorded files only", async () => {
      const { sequelize } = testDatabase().database;
      const owner = await buildUser();
      const recorded = await place(randomFileName("png"), true);
      await sequelize.query(
        `INSERT INTO achievements (user_id, kind, title, proof_file, proof_media_type, proof_size)
         VALUES (:userId, 'other', 'recorded', :name, 'image/png', 5)`,
        { replacements: { userId: owner.id, name: recorded } },
      );
      const orphan = await place(randomFileName("pdf"), true);
      const young = await place(randomFileName("jpeg"), false);
      const foreign = await place("notes.txt", true);

      const removed = await sweepOrphanFiles({ sequelize }, storage.files, [proofs], 60 * 60 * 1000);

      assert.equal(removed, 1);
      const left = await storage.storedFiles();
      assert.deepEqual(left, [recorded, young, foreign].map((name) => path.join(proofs.folder, name)).sort());
      assert.ok(!left.includes(path.join(proofs.folder, orphan)));
    });

    it("takes a missing folder as empty", async () => {
      const { sequelize } = testDatabase().database;
      const removed = await sweepOrphanFiles({ sequelize }, storage.files, [proofs], 0);
      assert.equal(removed, 0);
    });
  });
}
