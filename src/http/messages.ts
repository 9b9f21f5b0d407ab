import type { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { Context } from "koa";
import getRawBody from "raw-body";
import { protoJsonWriter } from "../contract/protojson-writer.js";
import { AppError, InvalidArgumentError } from "../errors/index.js";
import type { JsonObject } from "../validation/protojson.js";
import type { Media } from "./media.js";

/** What we use of a ts-proto message codec (`$type` comes from `outputTypeAnnotations=static-only`). */
export interface MessageCodec<T> {
  readonly $type: string;
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array): T;
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

/**
 * Reads the raw request body, refusing it past `limit` bytes without buffering the rest.
 * @throws AppError payload_too_large, or invalid_argument for an aborted or mis-framed body
 */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit, length: ctx.get("content-length") || undefined });
  } catch (error) {
    const type = (error as { type?: unknown }).type;
    if (type === "entity.too.large") {
      throw new AppError("payload_too_large", `The request body is larger than ${limit} bytes.`, { cause: error });
    }
    throw InvalidArgumentError("The request body could not be read.", []);
  }
}

/**
 * Brings a body to its ProtoJSON form, the one form our zod schemas check. A protobuf body is decoded
 * and written back as ProtoJSON, so its values meet the same rules, with the same paths, as JSON's.
 * @param bytes - the raw body
 * @param media - its encoding
 * @param codec - the expected message
 * @throws AppError invalid_argument for malformed JSON, a non-object JSON body or undecodable protobuf
 */
export function bodyToProtoJson<T>(bytes: Buffer, media: Media, codec: MessageCodec<T>): JsonObject {
  if (media.encoding === "json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw InvalidArgumentError("The request body is not valid JSON.");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw InvalidArgumentError(`The request body must be a JSON object (${messageName(codec)}).`);
    }
    return parsed as JsonObject;
  }
  try {
    return codec.toJSON(codec.decode(bytes)) as JsonObject;
  } catch {
    throw InvalidArgumentError(`The request body is not a valid ${messageName(codec)} message.`);
  }
}

/**
 * A message in the negotiated encoding, as a response body: ProtoJSON as the string itself, protobuf as
 * its bytes. Node writes a string body with the headers in one write and encodes it outside the
 * JavaScript heap; a Buffer of it would be one more copy of every JSON answer, malloc'd per response.
 */
export function encodeResponseBody<T>(message: T, codec: MessageCodec<T>, media: Media): string | Buffer {
  if (media.encoding === "json") return protoJsonText(message, codec);
  const bytes = codec.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** @returns a message as ProtoJSON text (what `JSON.stringify(codec.toJSON(message))` gives, faster) */
export const protoJsonText = <T>(message: T, codec: MessageCodec<T>): string =>
  protoJsonWriter<T>(codec.$type)(message);

/**
 * Serialises a message in the negotiated encoding.
 * @returns the body bytes (JSON is UTF-8 ProtoJSON)
 */
export function encodeMessage<T>(message: T, codec: MessageCodec<T>, media: Media): Buffer {
  const body = encodeResponseBody(message, codec, media);
  return typeof body === "string" ? Buffer.from(body) : body;
}

/** @returns the response Content-Type header for `media` */
export function contentTypeOf(media: Media): string {
  return media.encoding === "json" ? "application/json; charset=utf-8" : media.type;
}

/** @returns the fully-qualified proto name of a codec's message, e.g. `shtp.v1.Error` */
export const messageName = (codec: MessageCodec<unknown>): string => codec.$type;
