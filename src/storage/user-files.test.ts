import assert from "node:assert/strict";
import path from "node:path";
import { testDatabase } from "../testing/database.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { jpegFile, onePixelPng } from "../testing/files.js";
import { rawRequest } from "../testing/http.js";
import { randomFileName } from "./files.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { createTestStorage, storageDrivers, type TestStorage } from "../testing/storage.js";
import { acceptAchievement, call, downloadProof, putAvatar, submitAchievement } from "../testing/user-files.js";
import { readZip } from "../testing/zip.js";
import type { RoleName } from "../auth/roles.js";

/**
 * User files through the API on every storage driver: avatars uploaded, served and replaced, proofs
 * submitted, downloaded, exported and deleted, a user's files removed with the account, and refused or
 * failed uploads leaving nothing behind, in the bucket or in the temporary folder.
 */
for (const driver of storageDrivers) {
  describe(`user files through the API: ${driver}`, function () {
    let storage: TestStorage;
    let server: TestServer;

    before(async () => {
      storage = await createTestStorage(driver);
      server = await startTestServer({ env: storage.env });
    });
    after(async () => {
      await server.close();
      await storage.dispose();
    });
    afterEach(async () => {
      assert.deepEqual(await storage.temporaryFiles(), [], "nothing is left in the temporary folder");
    });

    async function signedIn(role: RoleName = "student") {
      const user = await buildUser({ role });
      return { user, token: await tokenFor(user, server.config) };
    }

    const stored = (folder: string, name: string) => path.join(folder, name);

    it("stores an avatar, serves it from the API as immutable, and removes it when replaced", async () => {
      const { token } = await signedIn();
      const first = onePixelPng([0, 128, 255, 255]);
      const uploaded = await putAvatar(server.url, token, first);
      assert.equal(uploaded.response.status, 200, uploaded.response.body.toString("utf8"));
      const firstName = path.basename(uploaded.avatarUrl);
      assert.ok((await storage.storedFiles()).includes(stored("avatars", firstName)));

      const served = await rawRequest(`${server.url}${uploaded.avatarUrl}`);
      assert.equal(served.status, 200, "served by the API itself, not redirected to the bucket");
      assert.equal(served.headers.location, undefined);
      assert.equal(served.headers["content-type"], "image/png");
      assert.equal(served.headers["content-length"], String(first.length));
      assert.equal(served.headers["cache-control"], "public, max-age=31536000, immutable");
      assert.deepEqual(served.body, first);

      const second = jpegFile();
      const replaced = await putAvatar(server.url, token, second);
      assert.equal(replaced.response.status, 200);
      const secondName = path.basename(replaced.avatarUrl);
      const files = await storage.storedFiles();
      assert.ok(files.includes(stored("avatars", secondName)));
      assert.ok(!files.includes(stored("avatars", firstName)), "the replaced avatar is removed");
      assert.equal((await rawRequest(`${server.url}${uploaded.avatarUrl}`)).status, 404);
      assert.deepEqual((await rawRequest(`${server.url}${replaced.avatarUrl}`)).body, second);
    });

    it("refuses an upload that is not an image, storing nothing", async () => {
      const { token } = await signedIn();
      const before = await storage.storedFiles();
      const refused = await putAvatar(server.url, token, "Not a picture at all.\n");
      assert.equal(refused.response.status, 415);
      assert.deepEqual(await storage.storedFiles(), before);
    });

    it("serves only images from the avatars folder: a PDF or a text file stored there answers 404", async () => {
      for (const [kind, bytes] of [
        ["pdf", "%PDF-1.7\n%not an avatar\n"],
        ["text", "not an avatar either\n"],
      ] as const) {
        const name = randomFileName(kind);
        await storage.place("avatars", name, bytes);
        const served = await rawRequest(`${server.url}/storage/avatars/${name}`);
        assert.equal(served.status, 404, kind);
        assert.ok(!served.body.includes("not an avatar"), `${kind}: none of the file is sent`);
      }
    });

    it("keeps proofs private: the owner downloads the file, anyone else gets 404, and deleting removes it", async () => {
      const owner = await signedIn();
      const other = await signedIn();
      const proof = onePixelPng([10, 20, 30, 255]);
      const { response, id } = await submitAchievement(server.url, owner.token, proof);
      assert.equal(response.status, 201, response.body.toString("utf8"));
      const [proofFile] = await proofFilesOf(id);
      assert.ok((await storage.storedFiles()).includes(stored("proofs", proofFile!)));

      const downloaded = await downloadProof(server.url, owner.token, id);
      assert.equal(downloaded.status, 200);
      assert.equal(downloaded.headers["content-type"], "image/png");
      assert.match(String(downloaded.headers["content-disposition"]), /^attachment; filename="achievement-/);
      assert.deepEqual(downloaded.body, proof);
      assert.equal((await downloadProof(server.url, other.token, id)).status, 404);
      // Never reachable by name, the way avatars are.
      assert.equal((await rawRequest(`${server.url}/storage/proofs/${proofFile}`)).status, 404);

      assert.equal((await call(server.url, owner.token, "DELETE", `/achievements/${id}`)).status, 204);
      assert.ok(!(await storage.storedFiles()).includes(stored("proofs", proofFile!)), "the proof is removed");
    });

    it("removes the stored proof when recording it fails after the upload", async () => {
      const { token } = await signedIn();
      const before = await storage.storedFiles();
      const { sequelize } = testDatabase().database;
      await sequelize.query(
        `CREATE FUNCTION test_refuse_stored_proof() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
         CREATE TRIGGER test_refuse_stored_proof BEFORE INSERT ON achievements
           FOR EACH ROW WHEN (NEW.title = 'refuse me') EXECUTE FUNCTION test_refuse_stored_proof();`,
      );
      try {
        const { response } = await submitAchievement(server.url, token, onePixelPng(), "refuse me");
        assert.ok(response.status >= 500, response.body.toString("utf8"));
      } finally {
        await sequelize.query(
          "DROP TRIGGER test_refuse_stored_proof ON achievements; DROP FUNCTION test_refuse_stored_proof();",
        );
      }
      assert.deepEqual(await storage.storedFiles(), before, "the stored proof was removed again");
    });

    it("exports the accepted proofs, read from storage, as a ZIP", async () => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const proofs = [onePixelPng([0, 255, 0, 255]), jpegFile()];
      for (const [index, proof] of proofs.entries()) {
        const { id } = await submitAchievement(server.url, student.token, proof, `Exported ${index}`);
        await acceptAchievement(server.url, teacher.token, id, 10);
      }
      const response = await call(server.url, student.token, "GET", "/achievements/export");
      assert.equal(response.status, 200);
      assert.equal(response.headers["content-type"], "application/zip");
      const entries = await readZip(response.body);
      const archived = [...entries].filter(([name]) => name.startsWith("proofs/")).map(([, bytes]) => bytes);
      assert.equal(archived.length, 2);
      for (const proof of proofs)
        assert.ok(
          archived.some((bytes) => bytes.equals(proof)),
          "every proof is in it",
        );
      assert.match(entries.get("summary.txt")?.toString("utf8") ?? "", /Accepted achievements: 2, points in all: 20/);
    });

    it("removes a deleted user's avatar and proofs", async () => {
      const student = await signedIn();
      const admin = await signedIn("admin");
      const { avatarUrl } = await putAvatar(server.url, student.token, onePixelPng());
      const ids = [
        (await submitAchievement(server.url, student.token, onePixelPng())).id,
        (await submitAchievement(server.url, student.token, jpegFile())).id,
      ];
      const theirs = [
        stored("avatars", path.basename(avatarUrl)),
        ...(await Promise.all(ids.map(proofFilesOf))).flat().map((name) => stored("proofs", name)),
      ];
      assert.equal(theirs.length, 3);
      const others = (await storage.storedFiles()).filter((file) => !theirs.includes(file));
      for (const file of theirs) assert.ok((await storage.storedFiles()).includes(file), file);

      assert.equal((await call(server.url, admin.token, "DELETE", `/users/${student.user.id}`)).status, 204);
      assert.deepEqual(await storage.storedFiles(), others, "exactly their files are gone");
    });
  });
}

/** The stored proof file names of an achievement. */
async function proofFilesOf(id: string): Promise<string[]> {
  const [rows] = await testDatabase().database.sequelize.query("SELECT proof_file FROM achievements WHERE id = :id", {
    replacements: { id },
  });
  return (rows as { proof_file: string }[]).map((row) => row.proof_file);
}
