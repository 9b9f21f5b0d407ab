import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type * as ClientS3 from "@aws-sdk/client-s3";
import type * as LibStorage from "@aws-sdk/lib-storage";
import type { S3Storage } from "../config/index.js";
import { AppError } from "../errors/index.js";
import { randomFileName, storedNamePattern, type UploadedFile } from "./files.js";
import { mediaTypeOfStoredName, storageFolder, type FileStore, type StoredFile } from "./store.js";

/**
 * S3's smallest part of a multipart upload, and so the most of one upload that is in memory at a time:
 * lib-storage reads the file from disk a part at a time and sends it before reading the next.
 */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts of one upload in flight at once; one keeps an upload's memory at a single part. */
const PARTS_IN_FLIGHT = 1;

/**
 * How long the bucket may take before a call gives up with 503 `unavailable`, so a bucket that is down
 * or a network that went silent cannot hold requests: with the defaults a call answers within about
 * 20 s whatever the bucket does (two attempts of at most 10 s each).
 */
export interface S3Limits {
  /** Opening a connection. */
  connectTimeoutMs: number;
  /** From sending a request (a part's bytes included) to the answer's head. */
  requestTimeoutMs: number;
  /** A connection with no byte either way for this long, also while a body streams. */
  idleTimeoutMs: number;
  /** Tries of one call, the first included; the SDK waits a little between them. */
  attempts: number;
  /** Keys per listing request (S3 gives at most 1,000). */
  listPageSize: number;
}

const defaultLimits: S3Limits = {
  connectTimeoutMs: 3000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  attempts: 2,
  listPageSize: 1000,
};

/** The SDK, loaded on first use: it costs about 300 ms and 25 MB, which the local driver never pays. */
interface Sdk {
  s3: typeof ClientS3;
  Upload: typeof LibStorage.Upload;
  client: ClientS3.S3Client;
}

/** What the SDK's errors carry that tells a missing object from a failure. */
interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

const statusOf = (error: unknown) => (error as SdkError | null)?.$metadata?.httpStatusCode;

/** Anything but a plain "no such object" means the bucket cannot serve now: the client may retry. */
const unavailable = (error: unknown) =>
  error instanceof AppError
    ? error
    : new AppError("unavailable", "The file storage is unavailable; try again shortly.", { cause: error });

/**
 * User files in an S3-compatible bucket, under `<prefix><folder>/<stored name>`. Several server
 * processes share one bucket, so a file stored through one is read through any other. Uploads arrive
 * on local disk first (multer's temporary folder) and are streamed from there in parts, so at most one
 * part (5 MiB) of an upload is in memory, whatever the file's size; reads hand the object's body stream
 * on as it arrives.
 */
export class S3FileStore implements FileStore {
  private sdk: Promise<Sdk> | undefined;
  private readonly limits: S3Limits;

  /**
   * @param settings - the bucket, its endpoint, credentials and key prefix
   * @param limits - time limits and page size other than the defaults (tests use short ones)
   */
  constructor(
    private readonly settings: S3Storage,
    limits: Partial<S3Limits> = {},
  ) {
    this.limits = { ...defaultLimits, ...limits };
  }

  private connect(): Promise<Sdk> {
    this.sdk ??= Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]).then(([s3, storage]) => {
      const { region, endpoint, forcePathStyle, credentials } = this.settings;
      const client = new s3.S3Client({
        region,
        endpoint,
        forcePathStyle,
        // A copy: the SDK marks on the object where credentials came from, and the configuration is frozen.
        credentials: credentials && { ...credentials },
        maxAttempts: this.limits.attempts,
        requestHandler: {
          connectionTimeout: this.limits.connectTimeoutMs,
          requestTimeout: this.limits.requestTimeoutMs,
          throwOnRequestTimeout: true,
          socketTimeout: this.limits.idleTimeoutMs,
        },
      });
      return { s3, Upload: storage.Upload, client };
    });
    return this.sdk;
  }

  private key(folder: string, name: string): string {
    return `${this.settings.prefix}${storageFolder(folder)}/${name}`;
  }

  async put(folder: string, file: UploadedFile): Promise<string> {
    const name = randomFileName(file.kind);
    const Key = this.key(folder, name);
    const { client, Upload } = await this.connect();
    const body = createReadStream(file.path);
    try {
      // A failed multipart upload is aborted by lib-storage, so no parts are left to be billed.
      await new Upload({
        client,
        params: { Bucket: this.settings.bucket, Key, Body: body, ContentType: file.mediaType },
        partSize: PART_SIZE,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      }).done();
    } catch (error) {
      throw unavailable(error);
    } finally {
      body.destroy();
    }
    return name;
  }

  async read(folder: string, name: string): Promise<StoredFile | undefined> {
    if (!storedNamePattern.test(name)) return undefined;
    const { client, s3 } = await this.connect();
    try {
      const object = await client.send(
        new s3.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(folder, name) }),
      );
      if (!(object.Body instanceof Readable)) throw new Error("The S3 client answered without a stream body.");
      return { body: object.Body, size: object.ContentLength ?? 0, mediaType: mediaTypeOfStoredName(name) };
    } catch (error) {
      if ((error as SdkError).name === "NoSuchKey") return undefined;
      throw unavailable(error);
    }
  }

  async exists(folder: string, name: string): Promise<boolean> {
    if (!storedNamePattern.test(name)) return false;
    const { client, s3 } = await this.connect();
    try {
      await client.send(new s3.HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(folder, name) }));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw unavailable(error);
    }
  }

  async remove(folder: string, name: string | null | undefined): Promise<void> {
    if (!name || !storedNamePattern.test(name)) return;
    const { client, s3 } = await this.connect();
    try {
      // Deleting a key that is not there succeeds in S3: removing twice is harmless.
      await client.send(new s3.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(folder, name) }));
    } catch (error) {
      throw unavailable(error);
    }
  }

  async namesOlderThan(folder: string, before: Date): Promise<string[]> {
    const prefix = this.key(folder, "");
    const { client, s3 } = await this.connect();
    const old: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(
          new s3.ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: prefix,
            MaxKeys: this.limits.listPageSize,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) {
          const name = object.Key?.slice(prefix.length) ?? "";
          // Only our names, directly in the folder: keys below it or of another shape are not ours to sweep.
          if (storedNamePattern.test(name) && object.LastModified && object.LastModified < before) old.push(name);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw unavailable(error);
    }
    return old;
  }
}
