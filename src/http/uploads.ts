import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import multer from "@koa/multer";
import { MulterError } from "multer";
import { AppError, InvalidArgumentError } from "../errors/index.js";
import { mediaTypeOf, sniffFile, type FileKind } from "../storage/files.js";
import type { AppContext } from "./context.js";

/** The file part of a multipart route, as its declaration states it. */
export interface UploadSpec {
  /** The multipart field that carries the file. */
  field: string;
  /** The largest accepted file, in bytes. */
  maxBytes: number;
  /** The kinds accepted, judged by content. */
  kinds: readonly FileKind[];
}

/** A received file, still in its temporary folder; the handler moves it into place or leaves it to be removed. */
export interface UploadedFile {
  path: string;
  size: number;
  kind: FileKind;
  mediaType: string;
}

const describeKinds = (kinds: readonly FileKind[]) => kinds.map((kind) => kind.toUpperCase()).join(", ");

/**
 * Streams the file part to disk (never into memory) inside a fresh temporary folder, then checks its
 * kind by its first bytes. Whatever happens, `cleanup` removes the folder with anything left in it,
 * so a rejected upload leaves no file behind.
 * @param ctx - the Koa context of a multipart request
 * @param spec - the route's upload declaration
 * @param tmpRoot - the temporary folder root (on the storage file system, so moving the file is a rename)
 * @throws AppError unsupported_media_type, payload_too_large or invalid_argument
 */
export async function receiveUpload(
  ctx: AppContext,
  spec: UploadSpec,
  tmpRoot: string,
): Promise<{ file: UploadedFile; cleanup: () => Promise<void> }> {
  if (!ctx.is("multipart/form-data")) {
    throw new AppError(
      "unsupported_media_type",
      `Send this request as multipart/form-data with a \`${spec.field}\` file.`,
    );
  }
  await fs.mkdir(tmpRoot, { recursive: true });
  const folder = await fs.mkdtemp(path.join(tmpRoot, "upload-"));
  const cleanup = () => fs.rm(folder, { recursive: true, force: true });
  try {
    const receive = multer({
      storage: multer.diskStorage({
        destination: folder,
        filename: (_request, _file, callback) => callback(null, randomBytes(16).toString("hex")),
      }),
      limits: { fileSize: spec.maxBytes, files: 1, fields: 0, parts: 2, headerPairs: 20 },
    }).fields([{ name: spec.field, maxCount: 1 }]);
    try {
      await receive(ctx, async () => undefined);
    } catch (error) {
      throw uploadError(error, spec);
    }
    const received = ctx.request.files;
    const stored = received && !Array.isArray(received) ? received[spec.field]?.[0] : undefined;
    if (!stored) {
      throw InvalidArgumentError(`The \`${spec.field}\` file is missing.`, [
        { field: spec.field, description: "Required." },
      ]);
    }
    const kind = await sniffFile(stored.path);
    if (!kind || !spec.kinds.includes(kind)) {
      throw new AppError(
        "unsupported_media_type",
        `The \`${spec.field}\` file must be ${describeKinds(spec.kinds)}, by its content.`,
        {
          fieldViolations: [{ field: spec.field, description: `Not ${describeKinds(spec.kinds)}.` }],
        },
      );
    }
    return { file: { path: stored.path, size: stored.size, kind, mediaType: mediaTypeOf[kind] }, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function uploadError(error: unknown, spec: UploadSpec): AppError {
  if (error instanceof MulterError) {
    if (error.code === "LIMIT_FILE_SIZE") {
      return new AppError("payload_too_large", `The \`${spec.field}\` file is larger than ${spec.maxBytes} bytes.`);
    }
    return InvalidArgumentError(`The multipart body must hold only the \`${spec.field}\` file (${error.message}).`, [
      { field: error.field ?? spec.field, description: error.message },
    ]);
  }
  return InvalidArgumentError("The multipart body is malformed.");
}
