import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { appRoot } from "../config/paths.js";

/**
 * One real S3-protocol server for the whole test run (s3rver in a child process of its own, so its
 * work and memory are not the tested server's), started on first use and stopped by the root hook.
 * Tests keep apart by key prefix, as deployments sharing a bucket do. This module loads no AWS SDK, so
 * runs that never use the bucket do not pay for it.
 */

/** The running server: where it listens, its bucket, and the folder it keeps objects in. */
export interface TestBucket {
  endpoint: string;
  bucket: string;
  /** s3rver's own folder: `<directory>/<bucket>/<key>._S3rver_object` holds each object. */
  directory: string;
}

/** s3rver checks only that the key id is one it knows; this is its built-in account. */
export const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const BUCKET = "shtp-test";

/** One request the S3 server received: its method, URL (path and query) and body length. */
export interface BucketRequest {
  method: string;
  url: string;
  length: number;
}

let started: Promise<{ bucket: TestBucket; child: ChildProcess }> | undefined;
const requests: BucketRequest[] = [];

async function startBucketServer(): Promise<{ bucket: TestBucket; child: ChildProcess }> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-s3rver-"));
  const child = spawn(
    process.execPath,
    ["--openssl-legacy-provider", "--import", "tsx", "src/testing/s3rver-main.ts", directory, BUCKET],
    { cwd: appRoot, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    let pending = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const parsed = JSON.parse(line) as { port?: number; request?: BucketRequest };
        if (parsed.port !== undefined) resolve(parsed.port);
        if (parsed.request) requests.push(parsed.request);
      }
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited (${code}) before listening:\n${stderr}`)));
    child.once("error", reject);
  });
  return { bucket: { endpoint: `http://127.0.0.1:${port}`, bucket: BUCKET, directory }, child };
}

/**
 * The requests the S3 server has received so far, in order of arrival.
 * @param since - how many to skip (the length of an earlier answer)
 */
export const bucketRequests = (since = 0): BucketRequest[] => requests.slice(since);

/** @returns the run's S3 server, started on first call */
export async function testBucket(): Promise<TestBucket> {
  started ??= startBucketServer();
  return (await started).bucket;
}

/** Stops the run's S3 server, if one was started, and removes its folder. */
export async function stopTestBucket(): Promise<void> {
  if (!started) return;
  const { bucket, child } = await started.catch(() => ({ bucket: undefined, child: undefined }));
  started = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.stdin?.end();
    await exited;
  }
  if (bucket) await fs.rm(bucket.directory, { recursive: true, force: true });
}

/** @returns a fresh key prefix, so a test's objects are its own */
export const freshPrefix = () => `test-${randomBytes(6).toString("hex")}/`;

/**
 * The server variables of a process storing its files in the run's bucket under `prefix`.
 * @param bucket - the run's S3 server
 * @param prefix - the key prefix of this test
 */
export function s3Environment(bucket: TestBucket, prefix: string): Record<string, string> {
  return {
    STORAGE_DRIVER: "s3",
    S3_BUCKET: bucket.bucket,
    S3_ENDPOINT: bucket.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    S3_REGION: "us-east-1",
    S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    S3_PREFIX: prefix,
  };
}

/**
 * Where s3rver keeps an object's bytes; its modification time is the object's LastModified.
 * @param bucket - the run's S3 server
 * @param key - the object's key
 */
export const objectFile = (bucket: TestBucket, key: string) =>
  path.join(bucket.directory, bucket.bucket, `${key}._S3rver_object`);
