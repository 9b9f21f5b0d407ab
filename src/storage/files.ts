import { isUtf8 } from "node:buffer";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";

/** What a file is, judged by its first bytes, never by its name or the client's Content-Type. */
export type FileKind = "png" | "jpeg" | "gif" | "webp" | "pdf" | "text";

export const mediaTypeOf: Record<FileKind, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  text: "text/plain; charset=utf-8",
};

/** A received file, still in its temporary folder; the handler moves it into place or leaves it to be removed. */
export interface UploadedFile {
  path: string;
  size: number;
  kind: FileKind;
  mediaType: string;
}

/** A file to send as an attachment, never rendered: a stored proof, a generated archive. */
export interface Download {
  body: NodeJS.ReadableStream;
  mediaType: string;
  /** The name the client saves it under; ours, never a name a client sent. */
  fileName: string;
  /** Known for stored files; absent for generated streams (sent chunked). */
  size?: number;
}

const extensionOf: Record<FileKind, string> = {
  png: "png",
  jpeg: "jpg",
  gif: "gif",
  webp: "webp",
  pdf: "pdf",
  text: "txt",
};

const startsWith = (head: Buffer, bytes: readonly number[], offset = 0) =>
  head.length >= offset + bytes.length && bytes.every((byte, index) => head[offset + index] === byte);

/**
 * Recognises the stored file kinds by their signatures.
 * @param head - the first bytes of the file (512 are read)
 * @returns the kind, or undefined for anything else
 */
export function sniffKind(head: Buffer): FileKind | undefined {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(head, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(head, [0x47, 0x49, 0x46, 0x38]) && (head[4] === 0x37 || head[4] === 0x39) && head[5] === 0x61)
    return "gif";
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && startsWith(head, [0x57, 0x45, 0x42, 0x50], 8)) return "webp";
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "pdf";
  if (looksLikeText(head)) return "text";
  return undefined;
}

/** UTF-8 without NUL bytes; the last few bytes may cut a multi-byte character short. */
function looksLikeText(head: Buffer): boolean {
  if (head.length === 0 || head.includes(0)) return false;
  for (let trim = 0; trim < 4 && trim < head.length; trim++) {
    if (isUtf8(head.subarray(0, head.length - trim))) return true;
  }
  return false;
}

/**
 * Reads a file's first bytes and tells its kind.
 * @param file - a path on disk
 */
export async function sniffFile(file: string): Promise<FileKind | undefined> {
  const handle = await fs.open(file, "r");
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return sniffKind(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** A random, unguessable stored name; a client's file name never becomes a path. */
export const randomFileName = (kind: FileKind): string =>
  `${randomBytes(18).toString("base64url")}.${extensionOf[kind]}`;

/** Stored names are ours alone: this shape, nothing with a path separator or dots of its own. */
export const storedNamePattern = /^[A-Za-z0-9_-]{24}\.(png|jpg|gif|webp|pdf|txt)$/;
