import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createLogger } from "../logging/logger.js";
import { testDatabase } from "../testing/database.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { rawRequest } from "../testing/http.js";
import { childEnv, cleanUpProcesses, listeningUrl, makeStorageDir, runTs } from "../testing/processes.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { AddressLimit, limitConnectionsPerAddress } from "./address-limit.js";
import { waitFor } from "../testing/wait.js";

const quiet = createLogger("silent");

/** A TCP connection to `url`'s port, resolved once connected; `closed` resolves when the server ends it. */
function connect(url: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => resolve({ socket, closed }));
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("error", reject);
  });
}

/** Sends a GET for `/healthz` on an open socket and resolves with the status line. */
function statusLineOn(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once("data", (chunk: Buffer) => resolve(chunk.toString("latin1").split("\r\n")[0] ?? ""));
    socket.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
  });
}

/** Opens GET `path` and resolves once its response headers arrive, leaving the response open. */
function openRequest(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; close: () => void }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers, close: () => request.destroy() });
    });
    request.on("error", reject);
  });
}

describe("AddressLimit (src/http/address-limit.ts)", () => {
  it("admits up to the limit per address, counts each off once, and keeps addresses apart", () => {
    const limit = new AddressLimit(2, "connections", quiet);
    assert.equal(limit.tryOpen("198.51.100.1"), true);
    assert.equal(limit.tryOpen("198.51.100.1"), true);
    assert.equal(limit.tryOpen("198.51.100.1"), false);
    assert.equal(limit.tryOpen("198.51.100.2"), true);
    assert.equal(limit.count("198.51.100.1"), 2);
    limit.close("198.51.100.1");
    assert.equal(limit.count("198.51.100.1"), 1);
    assert.equal(limit.tryOpen("198.51.100.1"), true);
    limit.close("198.51.100.1");
    limit.close("198.51.100.1");
    assert.equal(limit.count("198.51.100.1"), 0);
  });

  it("counts off an address it never admitted without going below zero", () => {
    const limit = new AddressLimit(1, "connections", quiet);
    limit.close("198.51.100.9");
    assert.equal(limit.count("198.51.100.9"), 0);
    assert.equal(limit.tryOpen("198.51.100.9"), true);
    assert.equal(limit.tryOpen("198.51.100.9"), false, "the limit still holds after a stray close");
  });

  it("on a server in this process, destroys a connection past the limit unread and counts the others off as they close", async () => {
    const server = http.createServer((_request, response) => response.end("ok"));
    const limit = limitConnectionsPerAddress(server, 1, quiet);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const first = await connect(url);
      assert.match(await statusLineOn(first.socket), /^HTTP\/1\.1 200/);
      assert.equal(limit.count("127.0.0.1"), 1);
      const second = await connect(url);
      await second.closed;
      assert.equal(second.socket.bytesRead, 0, "nothing was answered on the refused connection");
      first.socket.destroy();
      await waitFor(() => limit.count("127.0.0.1") === 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("logs a refused address once until it is under its limit again", () => {
    const lines: string[] = [];
    const limit = new AddressLimit(
      1,
      "connections",
      createLogger("info", { write: (line: string) => lines.push(line) }),
    );
    limit.tryOpen("198.51.100.9");
    limit.tryOpen("198.51.100.9");
    limit.tryOpen("198.51.100.9");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /refusing connections from an address over its limit/);
    limit.close("198.51.100.9");
    limit.tryOpen("198.51.100.9");
    limit.tryOpen("198.51.100.9");
    assert.equal(lines.length, 2);
  });
});

describe("connections per client address (the server process)", function () {
  this.timeout(120_000);
  afterEach(async function () {
    this.timeout(60_000);
    await cleanUpProcesses();
  });

  /** Runs `src/server.ts` as `npm start` does, on the suite's database. */
  const boot = async (env: Record<string, string>) => {
    const server = runTs(
      "src/server.ts",
      [],
      childEnv({ DATABASE_URL: testDatabase().database.url, STORAGE_DIR: await makeStorageDir(), ...env }),
    );
    return listeningUrl(server);
  };

  it("closes a connection past the limit as it is accepted, and takes one again once another has closed", async () => {
    const url = await boot({ MAX_CONNECTIONS_PER_ADDRESS: "2" });
    const first = await connect(url);
    const second = await connect(url);
    assert.match(await statusLineOn(first.socket), /^HTTP\/1\.1 200/);
    const third = await connect(url);
    await third.closed;
    assert.equal(third.socket.bytesRead, 0, "nothing was answered on the refused connection");
    assert.match(await statusLineOn(second.socket), /^HTTP\/1\.1 200/, "the admitted ones still work");

    first.socket.destroy();
    await first.closed;
    // The server counts the closed one off when its side of the socket closes, a moment later.
    await waitFor(async () => {
      const next = await connect(url);
      const line = await Promise.race([statusLineOn(next.socket), next.closed.then(() => "closed")]);
      next.socket.destroy();
      return line.startsWith("HTTP/1.1 200");
    });
    second.socket.destroy();
  });

  it("counts no sockets behind a trusted proxy (they are all the proxy's)", async () => {
    const url = await boot({ MAX_CONNECTIONS_PER_ADDRESS: "2", TRUST_PROXY: "true" });
    const sockets = await Promise.all([1, 2, 3, 4].map(() => connect(url)));
    for (const { socket } of sockets) assert.match(await statusLineOn(socket), /^HTTP\/1\.1 200/);
    for (const { socket } of sockets) socket.destroy();
  });
});

describe("requests in flight per forwarded address (behind a trusted proxy)", () => {
  let server: TestServer;
  let token: string;
  const open: { close: () => void }[] = [];
  before(async () => {
    server = await startTestServer({ env: { TRUST_PROXY: "true", MAX_CONNECTIONS_PER_ADDRESS: "2" } });
    token = await tokenFor(await buildUser(), server.config);
  });
  after(async () => {
    for (const request of open) request.close();
    await waitFor(() => server.services.notificationHub.streamCount === 0);
    await server.close();
  });

  const stream = async (forwardedFor: string) => {
    const opened = await openRequest(`${server.url}/api/v1/notifications/stream`, {
      authorization: `Bearer ${token}`,
      "x-forwarded-for": forwardedFor,
    });
    open.push(opened);
    return opened;
  };

  it("answers 429 with Retry-After past the limit of one forwarded address, and not another's", async () => {
    const first = await stream("203.0.113.7");
    assert.equal(first.status, 200);
    assert.equal((await stream("203.0.113.7")).status, 200);
    const refused = await rawRequest(`${server.url}/api/v1/version`, {
      headers: { "x-forwarded-for": "203.0.113.7", accept: "application/json" },
    });
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers["retry-after"]), /^[1-9]\d*$/);
    assert.equal((JSON.parse(refused.body.toString("utf8")) as { code: string }).code, "rate_limited");
    const elsewhere = await rawRequest(`${server.url}/api/v1/version`, {
      headers: { "x-forwarded-for": "203.0.113.8" },
    });
    assert.equal(elsewhere.status, 200);

    first.close();
    await waitFor(
      async () =>
        (await rawRequest(`${server.url}/api/v1/version`, { headers: { "x-forwarded-for": "203.0.113.7" } })).status ===
        200,
    );
  });
});
