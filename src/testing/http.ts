import http from "node:http";
import zlib from "node:zlib";

/** A response as it came off the wire: nothing decoded, nothing added. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body after undoing Content-Encoding. */
  body: Buffer;
  /** The body as sent, before decompression. */
  wireBody: Buffer;
}

/**
 * A plain HTTP request with exactly the headers given (fetch would add Accept and Accept-Encoding).
 * @param url - the full URL
 * @param options - method, headers and body
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (response) => {
        const chunks: Buffer[] = [];
        // An event stream never ends: hand it back after its first complete block and hang up.
        const isStream = String(response.headers["content-type"]).startsWith("text/event-stream");
        response.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          if (isStream && Buffer.concat(chunks).includes("\n\n")) {
            const body = Buffer.concat(chunks);
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body, wireBody: body });
            request.destroy();
          }
        });
        response.on("error", reject);
        response.on("end", () => {
          const wireBody = Buffer.concat(chunks);
          const encoding = response.headers["content-encoding"];
          const body =
            encoding === "gzip"
              ? zlib.gunzipSync(wireBody)
              : encoding === "br"
                ? zlib.brotliDecompressSync(wireBody)
                : wireBody;
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body, wireBody });
        });
      },
    );
    request.on("error", reject);
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}
