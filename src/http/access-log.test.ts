import assert from "node:assert/strict";
import { createLogger } from "../logging/logger.js";
import { rawRequest } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";

describe("the access log (src/http/access-log.ts)", () => {
  const lines: string[] = [];
  const logger = createLogger("info", { write: (line: string) => void lines.push(line) });
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ logger });
  });
  after(() => server.close());

  it("writes one line per request with its id, method, path (never the query), status and duration", async () => {
    const requestId = `access-log-${Date.now()}`;
    const response = await rawRequest(`${server.url}/api/v1/version?secret=kept-out`, {
      headers: { "x-request-id": requestId, authorization: "Bearer not-a-real-token" },
    });
    assert.equal(response.status, 200);
    const line = lines
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry.msg === "request" && entry.requestId === requestId);
    assert.ok(line, "the request's line was written");
    assert.equal(line.method, "GET");
    assert.equal(line.path, "/api/v1/version");
    assert.equal(line.status, 200);
    assert.equal(typeof line.ms, "number");
    const raw = JSON.stringify(line);
    assert.ok(!raw.includes("kept-out") && !raw.includes("not-a-real-token"), raw);
  });

  it("leaves the process logger's redaction on for every other line", () => {
    logger.info({ password: "hunter2", extra: { refreshToken: "r-secret" } }, "not an access line");
    const raw = lines.at(-1) ?? "";
    assert.ok(!raw.includes("hunter2") && !raw.includes("r-secret"), raw);
  });
});
