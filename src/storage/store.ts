import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { mediaTypeOf, randomFileName, storedNamePattern, type FileKind, type UploadedFile } from "./files.js";

/** A stored file opened for reading. */
export interface StoredFile {
  body: Readable;
  size: number;
  /** The type its kind was stored as (the kind was judged by content when it was received). */
  mediaType: string;
}

/**
 * Where user files live, by folder (`avatars`, `proofs`) and random stored name. Modules name their
 * folders; the store knows nothing of them. Two drivers implement it: `LocalFileStore` (folders on
 * disk) and `S3FileStore` (`./s3.ts`, an S3-compatible bucket), chosen by STORAGE_DRIVER.
 */
export interface FileStore {
  /**
   * Moves a received file into `folder` under a new random name.
   * @returns the stored name, for the row that records it
   */
  put(folder: string, file: UploadedFile): Promise<string>;
  /** @returns the file, or undefined when no such file is stored (or the name is not one of ours) */
  read(folder: string, name: string): Promise<StoredFile | undefined>;
  /** @returns whether something is stored under the name, without opening it (reading may still fail) */
  exists(folder: string, name: string): Promise<boolean>;
  /** Removes a stored file; an absent one, or a name that is not ours, is not an error. */
  remove(folder: string, name: string | null | undefined): Promise<void>;
  /** @returns the stored names in `folder` last written before `before`, for the orphan sweep */
  namesOlderThan(folder: string, before: Date): Promise<string[]>;
}

const kindOfExtension: Record<string, FileKind> = {
  png: "png",
  jpg: "jpeg",
  gif: "gif",
  webp: "webp",
  pdf: "pdf",
  txt: "text",
};

/** @returns the media type a stored name's extension stands for */
export const mediaTypeOfStoredName = (name: string): string =>
  mediaTypeOf[kindOfExtension[name.split(".").pop() ?? ""] ?? "text"];

/**
 * Folder names are ours (modules declare them), never a client's: one lowercase word, so a folder can
 * be neither a path nor a key prefix that reaches into another folder.
 * @returns the folder, checked
 * @throws Error for anything else (a programming error, not a request's)
 */
export function storageFolder(folder: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(folder)) throw new Error(`Not a storage folder: ${folder}`);
  return folder;
}

/** Files in folders under the storage root, on the local disk (the default). */
export class LocalFileStore implements FileStore {
  /** @param root - the storage root; uploads' temporary folder must be on the same file system */
  constructor(private readonly root: string) {}

  private folderPath(folder: string): string {
    return path.join(this.root, storageFolder(folder));
  }

  async put(folder: string, file: UploadedFile): Promise<string> {
    const dir = this.folderPath(folder);
    await fs.mkdir(dir, { recursive: true });
    const name = randomFileName(file.kind);
    await fs.rename(file.path, path.join(dir, name));
    return name;
  }

  async read(folder: string, name: string): Promise<StoredFile | undefined> {
    if (!storedNamePattern.test(name)) return undefined;
    const file = path.join(this.folderPath(folder), name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    return { body: createReadStream(file), size: stat.size, mediaType: mediaTypeOfStoredName(name) };
  }

  async exists(folder: string, name: string): Promise<boolean> {
    if (!storedNamePattern.test(name)) return false;
    const stat = await fs.stat(path.join(this.folderPath(folder), name)).catch(() => undefined);
    return stat !== undefined;
  }

  async remove(folder: string, name: string | null | undefined): Promise<void> {
    if (!name || !storedNamePattern.test(name)) return;
    await fs.rm(path.join(this.folderPath(folder), name), { force: true });
  }

  async namesOlderThan(folder: string, before: Date): Promise<string[]> {
    const dir = this.folderPath(folder);
    const names = await fs.readdir(dir).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    });
    const old: string[] = [];
    for (const name of names.filter((candidate) => storedNamePattern.test(candidate))) {
      const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (stat?.isFile() && stat.mtimeMs < before.getTime()) old.push(name);
    }
    return old;
  }
}
