import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import multer from "@koa/multer";
import busboy from "busboy";
import { MulterError } from "multer";
import { AppError, InvalidArgumentError } from "../errors/index.js";
import { mediaTypeOf, sniffFile, type FileKind, type UploadedFile } from "../storage/files.js";
import type { AppContext } from "./context.js";

/** The file part of a multipart route, as its declaration states it. */
export interface UploadSpec {
  /** The multipart field that carries the file. */
  field: string;
  /** The largest accepted file, in bytes. */
  maxBytes: number;
  /** The kinds accepted, judged by content. */
  kinds: readonly FileKind[];
  /**
   * The part that carries the route's request message beside the file, JSON or protobuf by the
   * part's own Content-Type (the route declares the message as its `body`).
   */
  messagePart?: string;
  /**
   * The route also takes its message alone, as a JSON or protobuf body without a file: a request that
   * is not multipart/form-data is read as a message route's body, and the handler gets no file.
   */
  optional?: boolean;
}

/** The raw message part of a multipart request, with the media type it declared. */
export interface MessagePart {
  bytes: Buffer;
  mediaType: string;
}

/** A message part is a few fields of text; anything near this size is not one. */
const MESSAGE_PART_MAX_BYTES = 64 * 1024;

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
): Promise<{ file: UploadedFile; message: MessagePart | undefined; cleanup: () => Promise<void> }> {
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
    const { messagePart } = spec;
    // A message part may arrive as a plain field or, from a browser's Blob, as a file of its own.
    const receive = multer({
      storage: multer.diskStorage({
        destination: folder,
        filename: (_request, _file, callback) => callback(null, randomBytes(16).toString("hex")),
      }),
      limits: {
        fileSize: spec.maxBytes,
        files: messagePart ? 2 : 1,
        fields: messagePart ? 1 : 0,
        fieldSize: MESSAGE_PART_MAX_BYTES,
        parts: messagePart ? 3 : 2,
        headerPairs: 20,
      },
    }).fields(
      messagePart
        ? [
            { name: spec.field, maxCount: 1 },
            { name: messagePart, maxCount: 1 },
          ]
        : [{ name: spec.field, maxCount: 1 }],
    );
    // A client that left while the request waited (authentication, the upload limit) closed the body before
    // anyone listened; multer would wait for its end forever, holding the folder and the upload's place.
    if (ctx.req.destroyed) throw InvalidArgumentError("The request body was cut short.");
    const fieldTypes = messagePart ? readFieldTypes(ctx, messagePart) : undefined;
    try {
      await receive(ctx, async () => undefined);
    } catch (error) {
      throw uploadError(error, spec);
    }
    const received = ctx.request.files;
    const filesOf = (name: string) => (received && !Array.isArray(received) ? received[name]?.[0] : undefined);
    const message = messagePart ? await messagePartOf(ctx, messagePart, filesOf(messagePart), fieldTypes) : undefined;
    const stored = filesOf(spec.field);
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
    return { file: { path: stored.path, size: stored.size, kind, mediaType: mediaTypeOf[kind] }, message, cleanup };
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

/** What a second reader of the multipart stream saw of a plain field: its media type and its exact bytes. */
interface FieldSighting {
  mediaType: string;
  latin1: string;
}

/**
 * multer hands plain fields over as text decoded by their charset (UTF-8 by default) and drops their
 * Content-Type, and a protobuf part is binary. So busboy (multer's own parser) reads the same stream
 * once more for that one field: it keeps the declared media type, and decodes undeclared bytes as
 * latin1, which maps every byte to one character and back. Comparing the two decodings tells whether
 * a charset was declared (they differ only for undeclared non-ASCII bytes).
 */
function readFieldTypes(ctx: AppContext, field: string): Promise<FieldSighting | undefined> {
  return new Promise((resolve) => {
    let sighting: FieldSighting | undefined;
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: ctx.req.headers,
        defCharset: "latin1",
        limits: { fieldSize: MESSAGE_PART_MAX_BYTES, fields: 2, files: 2, parts: 4 },
      });
    } catch {
      resolve(undefined);
      return;
    }
    parser.on("field", (name, value, info) => {
      if (name === field && !sighting) sighting = { mediaType: info.mimeType.toLowerCase(), latin1: value };
    });
    // File parts are multer's; this reader only skips over their bytes. A body cut short errors the part's
    // stream too, and an unhandled stream error would end the process: multer reports it, so it is dropped here.
    parser.on("file", (_name, stream) => {
      stream.on("error", () => undefined);
      stream.resume();
    });
    parser.on("close", () => resolve(sighting));
    // multer reports malformed bodies; this reader just stops.
    parser.on("error", () => resolve(sighting));
    ctx.req.pipe(parser);
  });
}

async function messagePartOf(
  ctx: AppContext,
  field: string,
  asFile: { path: string; mimetype: string } | undefined,
  fieldTypes: Promise<FieldSighting | undefined> | undefined,
): Promise<MessagePart | undefined> {
  if (asFile) {
    const { size } = await fs.stat(asFile.path);
    if (size > MESSAGE_PART_MAX_BYTES) {
      throw new AppError("payload_too_large", `The \`${field}\` part is larger than ${MESSAGE_PART_MAX_BYTES} bytes.`);
    }
    return { bytes: await fs.readFile(asFile.path), mediaType: asFile.mimetype.toLowerCase() };
  }
  // @koa/multer puts the text fields here.
  const fields = (ctx.request as { body?: Record<string, unknown> }).body;
  const decoded = fields?.[field];
  const sighting = await fieldTypes;
  if (typeof decoded !== "string" || !sighting) return undefined;
  // Equal decodings: ASCII, or a declared charset both readers honoured, so the text is right as it is.
  const bytes = decoded === sighting.latin1 ? Buffer.from(decoded, "utf8") : Buffer.from(sighting.latin1, "latin1");
  return { bytes, mediaType: sighting.mediaType };
}
