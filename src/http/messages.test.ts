import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import Koa from "koa";
import { AppError } from "../errors/index.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { JSON_MEDIA, type Media } from "./media.js";
import { encodeMessage, encodeResponseBody, readBody } from "./messages.js";

/**
 * What readBody makes of the one request a client writes by hand on a raw socket: the server side of a
 * body that arrives broken, which no well-behaved HTTP client would send.
 * @param write - writes the request and then does what the client does (hangs up, for one)
 * @param limit - the body limit in bytes
 */
async function readBodyOf(write: (socket: net.Socket) => void, limit = 1024): Promise<Buffer> {
  const app = new Koa();
  const server = http.createServer();
  const read = new Promise<Buffer>((resolve, reject) => {
    server.once("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      readBody(app.createContext(request, response), limit).then(resolve, reject);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, "127.0.0.1", () => write(socket));
  socket.on("error", () => undefined);
  try {
    return await read;
  } finally {
    socket.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe("readBody (src/http/messages.ts)", () => {
  it("refuses a body its client abandons half-way as invalid_argument, not as a failure of ours", async () => {
    const abandoned = readBodyOf((socket) => {
      socket.write(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
      );
      socket.write('{"title": "cut sh', () => setTimeout(() => socket.destroy(), 50));
    });
    await assert.rejects(abandoned, (error: unknown) => {
      assert.ok(error instanceof AppError, String(error));
      assert.equal(error.code, "invalid_argument");
      assert.equal(error.status, 400);
      assert.equal(error.message, "The request body could not be read.");
      return true;
    });
  });
});

describe("encodeResponseBody (src/http/messages.ts)", () => {
  const message = { name: "shtp-api", version: "1.2.3", apiVersion: "shtp.v1 — ü" };
  const PROTOBUF_MEDIA: Media = { encoding: "protobuf", type: "application/x-protobuf" };

  it("hands a JSON answer to Koa as its string, the same UTF-8 bytes encodeMessage writes", () => {
    const body = encodeResponseBody(message, VersionInfo, JSON_MEDIA);
    assert.equal(typeof body, "string");
    assert.deepEqual(Buffer.from(body as string), encodeMessage(message, VersionInfo, JSON_MEDIA));
  });

  it("hands a protobuf answer over as its bytes", () => {
    const body = encodeResponseBody(message, VersionInfo, PROTOBUF_MEDIA);
    assert.ok(Buffer.isBuffer(body));
    assert.deepEqual(VersionInfo.decode(body), message);
  });
});
