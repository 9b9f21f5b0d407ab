import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { testDatabase } from "../testing/database.js";
import { buildUser } from "../testing/factories.js";
import { storedFolders } from "../modules/index.js";
import { randomFileName } from "./files.js";
import { LocalFileStore } from "./store.js";
import { sweepOrphanFiles, type StoredFolder } from "./sweep.js";

/**
 * The storage sweep removes exactly the stored files that no row names and that are old enough; it
 * keeps recorded files, young files (a request may still be recording them) and names not of ours.
 */
describe("sweepOrphanFiles", () => {
  let root: string;
  let scratch: string;
  let files: LocalFileStore;
  const proofs = storedFolders.find((folder) => folder.folder === "proofs") as StoredFolder;
  const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-sweep-test-"));
    scratch = path.join(root, proofs.folder);
    await fs.mkdir(scratch);
    files = new LocalFileStore(root);
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  async function place(name: string, old: boolean): Promise<string> {
    await fs.writeFile(path.join(scratch, name), "proof");
    if (old) await fs.utimes(path.join(scratch, name), hourAgo, hourAgo);
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

    const removed = await sweepOrphanFiles({ sequelize }, files, [proofs], 60 * 60 * 1000);

    assert.equal(removed, 1);
    assert.deepEqual((await fs.readdir(scratch)).sort(), [recorded, young, foreign].sort());
    assert.ok(!(await fs.readdir(scratch)).includes(orphan));
  });

  it("takes a missing folder as empty", async () => {
    const { sequelize } = testDatabase().database;
    await fs.rm(scratch, { recursive: true });
    const removed = await sweepOrphanFiles({ sequelize }, files, [proofs], 0);
    assert.equal(removed, 0);
  });
});
