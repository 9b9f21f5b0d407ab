import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { loadConfig, type S3Storage } from "../config/index.js";
import { AppError } from "../errors/index.js";
import { onePixelPng } from "../testing/files.js";
import { testBucket } from "../testing/s3.js";
import { createTestStorage, type TestStorage } from "../testing/storage.js";
import { SilenceableProxy } from "../testing/tcp-proxy.js";
import { randomFileName, type UploadedFile } from "./files.js";
import { S3FileStore, type S3Limits } from "./s3.js";

/**
 * What the bucket driver does when the bucket has trouble: a call gives up within its limits with 503
 * `unavailable` (never hangs, never a 500), and works again once the bucket answers, with no restart.
 * The limits here are short versions of the defaults; the network is a proxy that can go silent.
 */

const SHORT: Partial<S3Limits> = { connectTimeoutMs: 300, requestTimeoutMs: 500, idleTimeoutMs: 500 };

/** Expects `work` to fail as 503 unavailable within `withinMs`. */
async function expectUnavailable(work: Promise<unknown>, withinMs: number): Promise<void> {
  const started = performance.now();
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, "unavailable");
    assert.equal(error.status, 503);
    return true;
  });
  const tookMs = performance.now() - started;
  assert.ok(tookMs < withinMs, `gave up after ${Math.round(tookMs)} ms`);
}

describe("S3FileStore when the bucket has trouble", function () {
  this.timeout(30_000);
  let storage: TestStorage;
  let proxy: SilenceableProxy;
  let store: S3FileStore;

  beforeEach(async () => {
    storage = await createTestStorage("s3");
    const { endpoint } = await testBucket();
    const { hostname, port } = new URL(endpoint);
    proxy = await SilenceableProxy.start({ host: hostname, port: Number(port) });
    const settings = loadConfig({ ...storage.env, S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` }).storage.files;
    store = new S3FileStore(settings as S3Storage, SHORT);
  });
  afterEach(async () => {
    await proxy.close();
    await storage.dispose();
  });

  async function received(bytes: Buffer): Promise<UploadedFile> {
    const file = path.join(storage.root, `incoming-${randomBytes(4).toString("hex")}`);
    await fs.writeFile(file, bytes);
    return { path: file, size: bytes.length, kind: "png", mediaType: "image/png" };
  }

  it("answers unavailable at once when nothing listens where the bucket should be", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const settings = loadConfig({ ...storage.env, S3_ENDPOINT: `http://127.0.0.1:${port}` }).storage.files;
    const nowhere = new S3FileStore(settings as S3Storage, SHORT);
    await expectUnavailable(nowhere.exists("avatars", randomFileName("png")), 3000);
    await expectUnavailable(nowhere.put("avatars", await received(onePixelPng())), 3000);
    // Removing and sweeping need the bucket too: neither may pass for done when it cannot be reached.
    await expectUnavailable(nowhere.remove("avatars", randomFileName("png")), 3000);
    await expectUnavailable(nowhere.namesOlderThan("avatars", new Date()), 3000);
  });

  it("gives up on a bucket gone silent within its limits, and serves again when it answers", async () => {
    const name = await store.put("avatars", await received(onePixelPng()));
    proxy.silence();
    // Two attempts of at most 500 ms each, and the SDK's short pause between them.
    await expectUnavailable(store.read("avatars", name), 3000);
    await expectUnavailable(store.put("avatars", await received(onePixelPng())), 3000);
    proxy.resume();
    const again = await store.read("avatars", name);
    assert.ok(again, "the same store reads again once the bucket answers");
    again.body.resume();
  });

  it("ends a download whose bucket goes silent half-way with an error, not a hang", async () => {
    const big = Buffer.concat([onePixelPng(), randomBytes(8 * 1024 * 1024)]);
    const name = await store.put("proofs", await received(big));
    const stored = await store.read("proofs", name);
    assert.ok(stored);
    const started = performance.now();
    let receivedBytes = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stored.body) {
          receivedBytes += (chunk as Buffer).length;
          if (receivedBytes >= 64 * 1024) proxy.silence();
        }
      })(),
      /timed out|aborted|socket hang up/i,
    );
    assert.ok(receivedBytes < big.length, "the download did not complete");
    assert.ok(performance.now() - started < 5000, "it ended within the idle limit, not after minutes");
  });
});
