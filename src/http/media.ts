import type { Context } from "koa";
import { AppError } from "../errors/index.js";

/** The two encodings every message endpoint speaks. */
export type Encoding = "json" | "protobuf";

/** An encoding together with the exact media type the client used for it. */
export interface Media {
  encoding: Encoding;
  type: string;
}

export const JSON_MEDIA: Media = { encoding: "json", type: "application/json" };

/** The protobuf aliases in the wild; we answer with whichever one the client named. */
export const protobufMediaTypes = [
  "application/protobuf",
  "application/x-protobuf",
  "application/vnd.google.protobuf",
] as const;

export const messageMediaTypes: readonly string[] = [JSON_MEDIA.type, ...protobufMediaTypes];

/**
 * Whether the request carries a body, by its framing headers, as RFC 9110 defines it.
 * @param ctx - the Koa context
 */
export function hasBody(ctx: Context): boolean {
  return ctx.get("transfer-encoding") !== "" || Number(ctx.get("content-length") || 0) > 0;
}

/**
 * The encoding of the request body, or undefined when there is none.
 * @throws AppError unsupported_media_type for any other type, or JSON in a charset other than UTF-8
 */
export function requestMedia(ctx: Context): Media | undefined {
  if (!hasBody(ctx)) return undefined;
  return mediaOfType(ctx.request.type, ctx.request.charset, "body");
}

/**
 * The encoding a Content-Type names.
 * @param type - the media type without parameters
 * @param charset - its charset parameter, if any
 * @param what - what carries it, for the error ("body", "`achievement` part")
 * @throws AppError unsupported_media_type for anything but JSON in UTF-8 and the protobuf aliases
 */
export function mediaOfType(type: string, charset: string | undefined, what: string): Media {
  const lower = type.toLowerCase();
  if (lower === JSON_MEDIA.type) {
    if (charset && charset.toLowerCase() !== "utf-8" && charset.toLowerCase() !== "utf8") {
      throw new AppError("unsupported_media_type", "JSON must be UTF-8.");
    }
    return JSON_MEDIA;
  }
  if ((protobufMediaTypes as readonly string[]).includes(lower)) return { encoding: "protobuf", type: lower };
  throw new AppError(
    "unsupported_media_type",
    `Send the ${what} as ${messageMediaTypes.join(", ")}; ${lower ? `"${lower}"` : "one without a Content-Type"} is not accepted.`,
  );
}

/**
 * Picks the response encoding from `Accept`. Without one, or with only wildcards, the request body's
 * encoding is mirrored (JSON when there was none); ties between equally acceptable types go the same way.
 * @param mirror - the request body's media, if any
 * @throws AppError not_acceptable when Accept allows neither JSON nor protobuf
 */
export function responseMedia(ctx: Context, mirror: Media | undefined): Media {
  const preferred = mirror ?? JSON_MEDIA;
  const accept = ctx.get("accept").trim();
  if (accept === "" || accept === "*/*") return preferred;
  // What clients send nearly always, one of ours alone, needs no negotiation.
  if (accept === JSON_MEDIA.type) return JSON_MEDIA;
  if ((protobufMediaTypes as readonly string[]).includes(accept)) return { encoding: "protobuf", type: accept };
  const offered = [preferred.type, ...messageMediaTypes.filter((type) => type !== preferred.type)];
  const chosen = ctx.accepts(offered);
  if (typeof chosen !== "string") {
    throw new AppError(
      "not_acceptable",
      `This endpoint answers with ${messageMediaTypes.join(", ")}; Accept allows none of them.`,
    );
  }
  return chosen === JSON_MEDIA.type ? JSON_MEDIA : { encoding: "protobuf", type: chosen };
}

/**
 * The media to render an error in when negotiation has not run or has failed: whatever the client
 * can take, falling back to JSON, which every client can at least read.
 */
export function errorMedia(ctx: Context): Media {
  let mirror: Media | undefined;
  try {
    mirror = requestMedia(ctx);
  } catch {
    mirror = undefined;
  }
  try {
    return responseMedia(ctx, mirror);
  } catch {
    return JSON_MEDIA;
  }
}
