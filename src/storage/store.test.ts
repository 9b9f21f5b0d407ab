import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { loadConfig, type S3Storage } from "../config/index.js";
import { onePixelPng } from "../testing/files.js";
import { bucketRequests } from "../testing/s3.js";
import { createTestStorage, storageDrivers, type TestStorage } from "../testing/storage.js";
import { randomFileName, storedNamePattern, type FileKind, type UploadedFile } from "./files.js";
import { S3FileStore } from "./s3.js";
import { LocalFileStore, type FileStore } from "./store.js";

/**
 * The FileStore contract, run case for case against every driver: local folders, and an S3 bucket on a
 * real S3-protocol server (s3rver). Routes, the sweep and account deletion rely on exactly this.
 */

const MiB = 1024 * 1024;

const FAR_FUTURE = new Date(Date.now() + 365 * 24 * 60 * 60 * 1000);

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const driver of storageDrivers) {
  describe(`FileStore contract: ${driver}`, function () {
    let storage: TestStorage;
    let files: FileStore;
    let incoming: string;

    beforeEach(async () => {
      storage = await createTestStorage(driver);
      files = storage.files;
      incoming = path.join(storage.root, "tmp", "upload-test");
      await fs.mkdir(incoming, { recursive: true });
    });
    afterEach(() => storage.dispose());

    /** A received file in the temporary folder, as the upload middleware leaves it. */
    async function received(bytes: Buffer, kind: FileKind = "png", mediaType = "image/png"): Promise<UploadedFile> {
      const file = path.join(incoming, randomBytes(6).toString("hex"));
      await fs.writeFile(file, bytes);
      return { path: file, size: bytes.length, kind, mediaType };
    }

    it("stores a received file under a new random name and reads it back with its size and type", async () => {
      const png = onePixelPng();
      const name = await files.put("avatars", await received(png));
      assert.match(name, storedNamePattern);
      assert.ok(name.endsWith(".png"));
      assert.deepEqual(await storage.storedFiles(), [path.join("avatars", name)]);

      const stored = await files.read("avatars", name);
      assert.ok(stored);
      assert.equal(stored.size, png.length);
      assert.equal(stored.mediaType, "image/png");
      assert.deepEqual(await bytesOf(stored.body), png);
      assert.equal(await files.exists("avatars", name), true);

      const pdf = Buffer.from("%PDF-1.7\n%proof\n");
      const proof = await files.put("proofs", await received(pdf, "pdf", "application/pdf"));
      assert.ok(proof.endsWith(".pdf"));
      assert.notEqual(proof.slice(0, 24), name.slice(0, 24), "every file gets a name of its own");
      assert.equal((await files.read("proofs", proof))?.mediaType, "application/pdf");
      assert.equal(await files.exists("avatars", proof), false, "folders are apart");
      assert.deepEqual(await storage.storedFiles(), [path.join("avatars", name), path.join("proofs", proof)].sort());
    });

    it("answers undefined and false for missing names and for names that are not of ours, even when present", async () => {
      const missing = randomFileName("png");
      assert.equal(await files.read("avatars", missing), undefined);
      assert.equal(await files.exists("avatars", missing), false);
      assert.equal(await files.read("empty", missing), undefined, "a folder nothing was ever stored in");

      await storage.place("avatars", "notes.png", onePixelPng());
      await storage.place("avatars", `${missing}.png`, onePixelPng());
      for (const name of ["notes.png", `${missing}.png`, "", "../avatars/notes.png", `sub/${missing}`, `${missing}/`]) {
        assert.equal(await files.read("avatars", name), undefined, name);
        assert.equal(await files.exists("avatars", name), false, name);
      }
    });

    it("removes stored files; a missing file, no name or a name not of ours is no error and removes nothing", async () => {
      const name = await files.put("proofs", await received(onePixelPng()));
      const kept = await files.put("proofs", await received(onePixelPng()));
      await storage.place("proofs", "notes.txt", "not ours");
      await files.remove("proofs", name);
      assert.equal(await files.exists("proofs", name), false);
      assert.equal(await files.read("proofs", name), undefined);
      await files.remove("proofs", name);
      await files.remove("proofs", null);
      await files.remove("proofs", undefined);
      await files.remove("proofs", "notes.txt");
      await files.remove("proofs", "../proofs/notes.txt");
      await files.remove("nothing-here", randomFileName("pdf"));
      assert.deepEqual(
        await storage.storedFiles(),
        [path.join("proofs", kept), path.join("proofs", "notes.txt")].sort(),
      );
    });

    it("lists the stored names of a folder written before a time: not younger ones, not other folders, not foreign names", async () => {
      const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
      const old = [await files.put("proofs", await received(onePixelPng())), randomFileName("pdf")];
      await storage.place("proofs", old[1]!, "%PDF-1.7\n");
      const young = await files.put("proofs", await received(onePixelPng()));
      const otherFolder = await files.put("avatars", await received(onePixelPng()));
      const nested = randomFileName("png");
      await storage.place("proofs", "notes.txt", "not ours");
      await storage.place("proofs", `sub/${nested}`, onePixelPng());
      for (const name of old) await storage.backdate("proofs", name, new Date(hourAgo.getTime() - 60_000));
      for (const name of ["notes.txt", `sub/${nested}`]) await storage.backdate("proofs", name, hourAgo);
      await storage.backdate("avatars", otherFolder, new Date(hourAgo.getTime() - 60_000));

      assert.deepEqual((await files.namesOlderThan("proofs", hourAgo)).sort(), [...old].sort());
      assert.deepEqual(
        (await files.namesOlderThan("proofs", FAR_FUTURE)).sort(),
        [...old, young].sort(),
        "a later time lists the young file too",
      );
      assert.deepEqual(await files.namesOlderThan("empty", FAR_FUTURE), [], "a folder never written is empty");
    });

    it("lists every old name however many listing pages it takes", async () => {
      // Five files at two keys a page: three pages, the last one short.
      const paged =
        driver === "s3"
          ? new S3FileStore(loadConfig(storage.env).storage.files as S3Storage, { listPageSize: 2 })
          : storage.files;
      const names: string[] = [];
      for (let index = 0; index < 5; index++) names.push(await paged.put("proofs", await received(onePixelPng())));
      assert.deepEqual((await paged.namesOlderThan("proofs", FAR_FUTURE)).sort(), names.sort());
    });

    it("refuses a folder name that is not one word (a programming error, never a client's)", async () => {
      const file = await received(onePixelPng());
      for (const folder of ["../proofs", "proofs/sub", "", "Proofs"]) {
        await assert.rejects(files.put(folder, file), /Not a storage folder/, folder);
        await assert.rejects(files.namesOlderThan(folder, FAR_FUTURE), /Not a storage folder/, folder);
      }
      assert.deepEqual(await storage.storedFiles(), []);
    });

    it("stores and reads a 24 MiB file as streams, never holding it whole in memory", async function () {
      this.timeout(60_000);
      const size = 24 * MiB;
      const source = path.join(incoming, "large");
      // Written in pieces, so the test itself holds no copy of the file either.
      const handle = await fs.open(source, "w");
      const expected = createHash("sha256");
      for (let offset = 0; offset < size; offset += MiB) {
        const piece = randomBytes(MiB);
        expected.update(piece);
        await handle.write(piece);
      }
      await handle.close();
      const { ino } = await fs.stat(source);
      const requestsBefore = bucketRequests().length;

      const name = await files.put("proofs", { path: source, size, kind: "pdf", mediaType: "application/pdf" });
      if (driver === "local") {
        // Moved, not copied: the stored file is the received one.
        assert.equal((await fs.stat(path.join(storage.root, "proofs", name))).ino, ino);
      } else {
        // Sent in parts of at most 5 MiB, each read from disk when its turn comes: no request carries the file.
        const sent = bucketRequests(requestsBefore).filter((request) => request.url.includes(name));
        const parts = sent.filter((request) => request.method === "PUT" && /[?&]partNumber=\d+/.test(request.url));
        assert.equal(parts.length, Math.ceil(size / (5 * MiB)), JSON.stringify(sent));
        assert.ok(
          sent.every((request) => request.length <= 5 * MiB),
          JSON.stringify(sent.map((request) => request.length)),
        );
      }

      const stored = await files.read("proofs", name);
      assert.ok(stored);
      assert.equal(stored.size, size);
      const actual = createHash("sha256");
      let chunks = 0;
      for await (const chunk of stored.body) {
        actual.update(chunk as Buffer);
        chunks += 1;
      }
      assert.equal(actual.digest("hex"), expected.digest("hex"), "the bytes come back unchanged");
      assert.ok(chunks > 100, `the body arrives as a stream of small chunks (${chunks})`);
    });
  });
}

describe("LocalFileStore listing a folder it cannot read", () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-store-"));
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it("lists nothing for a folder not made yet, but does not hide a folder that is not a directory", async () => {
    const files = new LocalFileStore(root);
    assert.deepEqual(await files.namesOlderThan("proofs", FAR_FUTURE), []);
    // A sweep that took an unreadable folder for an empty one would report success while keeping every file.
    await fs.writeFile(path.join(root, "avatars"), "not a folder");
    await assert.rejects(files.namesOlderThan("avatars", FAR_FUTURE), { code: "ENOTDIR" });
  });
});
