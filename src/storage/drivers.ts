import type { Config } from "../config/index.js";
import { S3FileStore } from "./s3.js";
import { LocalFileStore, type FileStore } from "./store.js";

/**
 * The file store STORAGE_DRIVER names: folders under the storage root, or an S3-compatible bucket.
 * @param storage - the storage part of the configuration
 */
export function createFileStore(storage: Config["storage"]): FileStore {
  return storage.files.driver === "s3" ? new S3FileStore(storage.files) : new LocalFileStore(storage.root);
}
