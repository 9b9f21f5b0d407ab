import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../config/index.js";
import { createFileStore } from "../storage/drivers.js";
import { mediaTypeOf, type FileKind, type UploadedFile } from "../storage/files.js";
import type { FileStore } from "../storage/store.js";
import { filesUnder } from "./files.js";
import { CREDENTIALS, freshPrefix, objectFile, s3Environment, testBucket, type TestBucket } from "./s3.js";

/**
 * The file storage of one test, on either driver, with what the test needs to look at it from outside
 * the store: the same cases run against local folders and against a real S3 server (`./s3.ts`).
 */

export type StorageDriver = "local" | "s3";

/** Every driver, for suites that run their cases on each (`for (const driver of storageDrivers) describe(…)`). */
export const storageDrivers: readonly StorageDriver[] = ["local", "s3"];

export interface TestStorage {
  driver: StorageDriver;
  /** The variables of a server storing its files here (STORAGE_DIR, and for s3 the bucket's). */
  env: Record<string, string>;
  /** STORAGE_DIR: uploads' temporary folder is under it on both drivers. */
  root: string;
  /** A store over the same files as a server started with `env`. */
  files: FileStore;
  /** Every stored file, ours or not, as `<folder>/<name>`, sorted; the temporary folder is not storage. */
  storedFiles(): Promise<string[]>;
  /** Every file left in uploads' temporary folder. */
  temporaryFiles(): Promise<string[]>;
  /** Writes `bytes` as `<folder>/<name>` behind the store's back (as a crashed process or an operator would). */
  place(folder: string, name: string, bytes: Buffer | string): Promise<void>;
  /** Makes a stored file look last written at `when`. */
  backdate(folder: string, name: string, when: Date): Promise<void>;
  /** Removes everything this storage holds. */
  dispose(): Promise<void>;
}

/**
 * `bytes` as an upload hands them to a handler: a file in the storage's temporary folder, checked as `kind`.
 * @param storage - where the upload arrived
 */
export async function receivedFile(
  storage: Pick<TestStorage, "root">,
  bytes: Buffer,
  kind: FileKind = "png",
): Promise<UploadedFile> {
  const folder = path.join(storage.root, "tmp");
  await fs.mkdir(folder, { recursive: true });
  const file = path.join(folder, `upload-${randomBytes(8).toString("hex")}`);
  await fs.writeFile(file, bytes);
  return { path: file, size: bytes.length, kind, mediaType: mediaTypeOf[kind] };
}

/** A client of the run's bucket, for looking at it from outside the store. */
export const bucketClient = (bucket: TestBucket) =>
  new S3Client({ region: "us-east-1", endpoint: bucket.endpoint, forcePathStyle: true, credentials: CREDENTIALS });

/**
 * Storage of a test's own on `driver`: a fresh STORAGE_DIR and, for s3, a fresh key prefix in the run's
 * bucket.
 */
export async function createTestStorage(driver: StorageDriver): Promise<TestStorage> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `shtp-storage-${driver}-`));
  const tmp = path.join(root, "tmp");
  const temporaryFiles = () => filesUnder(tmp);
  if (driver === "local") {
    const env = { STORAGE_DIR: root };
    return {
      driver,
      env,
      root,
      files: createFileStore(loadConfig(env).storage),
      storedFiles: async () => (await filesUnder(root)).filter((file) => !file.startsWith(`tmp${path.sep}`)),
      temporaryFiles,
      place: async (folder, name, bytes) => {
        const file = path.join(root, folder, name);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, bytes);
      },
      backdate: (folder, name, when) => fs.utimes(path.join(root, folder, name), when, when),
      dispose: () => fs.rm(root, { recursive: true, force: true }),
    };
  }
  const bucket = await testBucket();
  const prefix = freshPrefix();
  const env = { STORAGE_DIR: root, ...s3Environment(bucket, prefix) };
  const client = bucketClient(bucket);
  // A test stores far fewer files than a listing page holds (1,000).
  const keys = async () => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket.bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((object) => object.Key ?? "");
  };
  return {
    driver,
    env,
    root,
    files: createFileStore(loadConfig(env).storage),
    storedFiles: async () => (await keys()).map((key) => key.slice(prefix.length)).sort(),
    temporaryFiles,
    place: async (folder, name, bytes) => {
      await client.send(
        new PutObjectCommand({ Bucket: bucket.bucket, Key: `${prefix}${folder}/${name}`, Body: bytes }),
      );
    },
    backdate: (folder, name, when) => fs.utimes(objectFile(bucket, `${prefix}${folder}/${name}`), when, when),
    dispose: async () => {
      const left = await keys();
      if (left.length > 0) {
        await client.send(
          new DeleteObjectsCommand({ Bucket: bucket.bucket, Delete: { Objects: left.map((Key) => ({ Key })) } }),
        );
      }
      client.destroy();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
