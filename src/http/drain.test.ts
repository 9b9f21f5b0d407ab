import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectionDrain } from "./drain.js";

/** A real server on loopback whose handler the test holds, with its drain wired as the app's is. */
async function drainedServer(handle: (response: http.ServerResponse) => void) {
  const server = http.createServer();
  const drain = new ConnectionDrain(server);
  server.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
    drain.admit(response);
    handle(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<{ connection: string | undefined; body: string }>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/", agent }, (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (body += chunk));
          response.on("end", () => resolve({ connection: response.headers.connection, body }));
        })
        .on("error", reject);
    });
  return { server, drain, agent, get };
}

describe("ConnectionDrain (src/http/drain.ts)", () => {
  it("answers a request arriving on a kept-alive connection after the drain began with Connection: close", async () => {
    const { drain, agent, get } = await drainedServer((response) => response.end("ok"));
    try {
      assert.equal((await get()).connection, "keep-alive");
      const closed = drain.drain();
      const late = await get();
      assert.deepEqual(late, { connection: "close", body: "ok" });
      await closed;
    } finally {
      agent.destroy();
    }
  });

  it("makes a request in flight when the drain begins close its connection once answered", async () => {
    let answer: (() => void) | undefined;
    let reached: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (reached = resolve));
    const { drain, agent, get } = await drainedServer((response) => {
      answer = () => response.end("late");
      reached();
    });
    try {
      const pending = get();
      await inFlight;
      const closed = drain.drain();
      answer?.();
      assert.deepEqual(await pending, { connection: "close", body: "late" });
      await closed;
    } finally {
      agent.destroy();
    }
  });

  it("cuts connections still open when asked to, and says how many there were", async () => {
    const { server, drain, agent, get } = await drainedServer((response) => response.end("ok"));
    try {
      assert.equal((await get()).connection, "keep-alive");
      const closed = drain.drain();
      assert.equal(await drain.closeAll(), 1, "the idle kept-alive connection");
      await closed;
      assert.equal(server.listening, false);
    } finally {
      agent.destroy();
    }
  });
});
