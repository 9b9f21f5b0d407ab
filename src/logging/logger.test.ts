import assert from "node:assert/strict";
import { createLogger, createProcessLogger, flushLogs, logFormatFor } from "./logger.js";

/** A pino destination that keeps each written line. */
function memoryDestination(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

type LogLine = Record<string, unknown> & {
  req?: { headers?: Record<string, unknown> };
  body?: Record<string, unknown>;
  headers?: Record<string, unknown>;
};

const parse = (line: string | undefined): LogLine => {
  assert.ok(line, "expected a log line");
  return JSON.parse(line) as LogLine;
};

describe("createLogger (src/logging/logger.ts)", () => {
  it("writes JSON lines with the service name and message to the given destination", () => {
    const destination = memoryDestination();
    createLogger("info", destination).info({ requestId: "r-1" }, "hello");
    assert.equal(destination.lines.length, 1);
    const line = parse(destination.lines[0]);
    assert.equal(line.service, "shtp-api");
    assert.equal(line.msg, "hello");
    assert.equal(line.requestId, "r-1");
    assert.equal(line.level, 30);
  });

  it("blanks the authorization header and passwords and tokens in bodies and at the top", () => {
    const destination = memoryDestination();
    createLogger("info", destination).info(
      {
        req: { headers: { authorization: "Bearer abc", cookie: "session=zzz", accept: "application/json" } },
        body: { password: "p", refreshToken: "r", email: "kept@example.test" },
        password: "x",
      },
      "request",
    );
    const raw = destination.lines[0] ?? "";
    const line = parse(raw);
    assert.equal(line.req?.headers?.authorization, "[redacted]");
    assert.equal(line.req?.headers?.cookie, "[redacted]");
    assert.equal(line.req?.headers?.accept, "application/json");
    assert.equal(line.body?.password, "[redacted]");
    assert.equal(line.body?.refreshToken, "[redacted]");
    assert.equal(line.body?.email, "kept@example.test");
    assert.equal(line.password, "[redacted]");
    assert.ok(!raw.includes("abc"), raw);
    assert.ok(!raw.includes("zzz"), raw);
    assert.ok(!raw.includes('"p"'), raw);
    assert.ok(!raw.includes('"r"'), raw);
    assert.ok(!raw.includes('"x"'), raw);
  });

  it("blanks every credential field name, top level and one level down", () => {
    const destination = memoryDestination();
    const secrets = {
      password: "s1",
      currentPassword: "s2",
      newPassword: "s3",
      accessToken: "s4",
      refreshToken: "s5",
      token: "s6",
      ticket: "s10",
      access_token: "s11",
      refresh_token: "s12",
    };
    createLogger("info", destination).info(
      {
        extra: secrets,
        headers: { authorization: "Bearer s7" },
        accessToken: "s8",
        refreshToken: "s9",
        ticket: "s13",
      },
      "credentials",
    );
    const raw = destination.lines[0] ?? "";
    const line = parse(raw);
    const extra = line.extra as Record<string, unknown>;
    for (const name of Object.keys(secrets)) assert.equal(extra[name], "[redacted]", name);
    assert.equal(line.headers?.authorization, "[redacted]");
    assert.equal(line.accessToken, "[redacted]");
    assert.equal(line.refreshToken, "[redacted]");
    assert.equal(line.ticket, "[redacted]");
    for (const secret of ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13"]) {
      assert.ok(!raw.includes(secret), `${secret} leaked: ${raw}`);
    }
  });

  it("does not change the logged object itself", () => {
    const destination = memoryDestination();
    const entry = { body: { password: "p" } };
    createLogger("info", destination).info(entry, "kept");
    assert.equal(entry.body.password, "p");
    assert.equal(parse(destination.lines[0]).body?.password, "[redacted]");
  });

  it("honours the level, and silent writes nothing", () => {
    const warnOnly = memoryDestination();
    const logger = createLogger("warn", warnOnly);
    logger.info("dropped");
    logger.warn("kept");
    assert.deepEqual(
      warnOnly.lines.map((line) => parse(line).msg),
      ["kept"],
    );
    const silent = memoryDestination();
    const quiet = createLogger("silent", silent);
    quiet.error("nothing");
    quiet.fatal("nothing");
    assert.deepEqual(silent.lines, []);
  });

  it("chooses pretty lines only in development on a terminal, JSON lines otherwise", () => {
    assert.equal(logFormatFor("development", true), "pretty");
    assert.equal(logFormatFor("development", false), "json");
    assert.equal(logFormatFor("production", true), "json");
    assert.equal(logFormatFor("production", false), "json");
    assert.equal(logFormatFor("test", true), "json");
  });

  it("builds the process logger in the chosen format (pino-pretty is installed in development)", async () => {
    assert.equal((await createProcessLogger("silent", "pretty")).format, "pretty");
    assert.equal((await createProcessLogger("silent", "json")).format, "json");
  });

  it("builds an asynchronous JSON logger when asked (production)", async () => {
    const { logger, format } = await createProcessLogger("silent", "json", true);
    assert.equal(format, "json");
    await flushLogs(logger);
  });
});

describe("flushLogs (src/logging/logger.ts)", () => {
  it("waits until the destination has written what it holds", async () => {
    const memory = memoryDestination();
    let flushed = false;
    const destination = {
      write: (line: string) => memory.write(line),
      flush: (done: () => void) =>
        setTimeout(() => {
          flushed = true;
          done();
        }, 30),
    };
    const logger = createLogger("info", destination);
    logger.info("last words");
    await flushLogs(logger);
    assert.equal(flushed, true);
    assert.equal(parse(memory.lines[0]).msg, "last words");
  });

  it("resolves for a destination that refuses to flush, so the process still exits", async () => {
    const refusing = {
      write: () => undefined,
      flush: () => {
        throw new Error("not ready");
      },
    };
    await flushLogs(createLogger("info", refusing));
  });
});
