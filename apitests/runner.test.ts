import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ApiCase } from "./lib/cases.js";
import { normalise, partialMatch } from "./lib/match.js";
import { ProtoCodec, type Json } from "./lib/protojson.js";
import { coverageGaps, runApiTests, todayIn, type CaseResult, type Operation } from "./lib/runner.js";

const protoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "proto");
const protoFiles = fs
  .readdirSync(protoDir, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".proto"));

/** A length-delimited protobuf field, written by hand so the fixture does not share the runner's codec. */
function stringField(number: number, value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  assert.ok(bytes.length < 128, "one-byte lengths only");
  return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
}

/** How the fixture server answers GET /api/v1/version. */
type Mode = "correct" | "protobufWrongFieldNumber" | "jsonWithoutApiVersion" | "jsonUnknownKey";

const version = { name: "shtp-api", version: "1.2.3", apiVersion: "shtp.v1" };

/** The smallest OpenAPI document the runner reads: one operation, its proto message and a failure status. */
const openApi: { openapi: string; info: object; paths: Record<string, object> } = {
  openapi: "3.1.0",
  info: { title: "fixture", version: "1" },
  paths: {
    "/version": {
      get: {
        operationId: "getVersion",
        responses: {
          "200": { description: "ok", "x-proto-message": "shtp.v1.VersionInfo" },
          "406": { description: "neither encoding" },
        },
      },
    },
  },
};

const caseFile = `resource: meta
cases:
  - name: anyone reads the version → 200
    op: getVersion
    path: /version
    expect:
      status: 200
      body: { name: shtp-api, version: 1.2.3, apiVersion: shtp.v1 }
  - name: an Accept that allows neither encoding → 406 not_acceptable
    op: getVersion
    path: /version
    headers: { accept: text/html }
    encodings: [json]
    expect: { status: 406, code: not_acceptable }
`;

describe("the API test runner", () => {
  describe("against a fixture server", () => {
    let server: http.Server;
    let baseUrl: string;
    let casesDir: string;
    let mode: Mode = "correct";
    let requestCount = 0;
    let streamsOpen = 0;
    const uploaded: string[] = [];

    before(async () => {
      casesDir = fs.mkdtempSync(path.join(os.tmpdir(), "apitests-runner-"));
      fs.writeFileSync(path.join(casesDir, "00-version.yaml"), caseFile);
      server = http.createServer((request, response) => {
        requestCount += 1;
        const requestId = `fixture-${requestCount}`;
        response.setHeader("x-request-id", requestId);
        const accept = request.headers.accept ?? "";
        if (request.url?.startsWith("/api/v1/stream")) {
          // An event stream that never ends: a comment block first, unless `silent` asks for nothing at all.
          streamsOpen += 1;
          response.once("close", () => (streamsOpen -= 1));
          response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          if (request.url.includes("silent")) response.flushHeaders();
          else response.write("retry: 2000\n: connected\n\n");
        } else if (request.url === "/api/v1/echo" && request.method === "POST") {
          // Answers the text of the multipart file part as `name`, in the negotiated encoding.
          const chunks: Buffer[] = [];
          request.on("data", (chunk: Buffer) => chunks.push(chunk));
          request.on("end", () => {
            const text = /\r\n\r\n([\s\S]*?)\r\n--/.exec(Buffer.concat(chunks).toString("utf8"))?.[1] ?? "";
            uploaded.push(text);
            const protobuf = accept === "application/protobuf";
            response.setHeader("content-type", protobuf ? "application/protobuf" : "application/json");
            response.end(protobuf ? stringField(1, text) : JSON.stringify({ name: text }));
          });
        } else if (request.url === "/api/v1/token" && request.method === "POST") {
          // Plain JSON whatever Accept says, RFC 6749 style: tokens for the password grant, an error otherwise.
          const chunks: Buffer[] = [];
          request.on("data", (chunk: Buffer) => chunks.push(chunk));
          request.on("end", () => {
            const grant = new URLSearchParams(Buffer.concat(chunks).toString("utf8")).get("grant_type");
            response.statusCode = grant === "password" ? 200 : 400;
            response.setHeader("content-type", "application/json; charset=utf-8");
            response.end(
              JSON.stringify(
                grant === "password"
                  ? { access_token: `token-${requestCount}`, token_type: "Bearer" }
                  : { error: "unsupported_grant_type", error_description: "fixture error" },
              ),
            );
          });
        } else if (request.url === "/api/v1/openapi.json") {
          response.setHeader("content-type", "application/json; charset=utf-8");
          response.end(JSON.stringify(openApi));
        } else if (request.url === "/api/v1/version" && accept === "application/protobuf") {
          response.setHeader("content-type", "application/protobuf");
          response.end(
            Buffer.concat([
              stringField(mode === "protobufWrongFieldNumber" ? 9 : 1, version.name),
              stringField(2, version.version),
              stringField(3, version.apiVersion),
            ]),
          );
        } else if (request.url === "/api/v1/version" && accept === "application/json") {
          const body: Record<string, string> = { ...version };
          if (mode === "jsonWithoutApiVersion") delete body.apiVersion;
          if (mode === "jsonUnknownKey") body.colour = "red";
          response.setHeader("content-type", "application/json; charset=utf-8");
          response.end(JSON.stringify(body));
        } else {
          const notAcceptable = request.url === "/api/v1/version";
          response.statusCode = notAcceptable ? 406 : 404;
          response.setHeader("content-type", "application/json; charset=utf-8");
          response.end(
            JSON.stringify({
              code: notAcceptable ? "not_acceptable" : "not_found",
              detail: "fixture error",
              requestId,
            }),
          );
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(casesDir, { recursive: true, force: true });
    });

    const run = async (which: Mode): Promise<CaseResult[]> => {
      mode = which;
      return runApiTests({
        baseUrl,
        casesDir,
        protoDir,
        fixturesDir: casesDir,
        admin: { email: "unused@fixture.example", password: "unused-password" },
        seed: false,
      });
    };
    const resultOf = (results: CaseResult[], encoding: CaseResult["encoding"]) => {
      const found = results.find((result) => result.encoding === encoding && result.title.startsWith("anyone reads"));
      assert.ok(found, `a ${encoding} result for the version case`);
      return found;
    };

    it("passes a server that answers correctly in both encodings", async () => {
      const results = await run("correct");
      assert.deepEqual(
        results.map((result) => [result.encoding, result.title, result.failures]),
        [
          ["json", "anyone reads the version → 200", []],
          ["json", "an Accept that allows neither encoding → 406 not_acceptable", []],
          ["protobuf", "anyone reads the version → 200", []],
          ["both", "anyone reads the version → 200", []],
        ],
      );
    });

    it("fails the protobuf run and the comparison when a field travels under a wrong number", async () => {
      const results = await run("protobufWrongFieldNumber");
      assert.deepEqual(resultOf(results, "json").failures, []);
      assert.deepEqual(resultOf(results, "protobuf").failures, ['body.name: expected "shtp-api", got undefined']);
      const [difference, ...more] = resultOf(results, "both").failures;
      assert.equal(more.length, 0);
      assert.match(difference ?? "", /JSON and protobuf answers differ/);
      assert.match(difference ?? "", /json: +\{"name":"shtp-api",/);
      assert.match(difference ?? "", /protobuf: \{"version":"1\.2\.3","apiVersion":"shtp\.v1"\}/);
    });

    it("fails the JSON run and the comparison when the JSON answer lacks a field", async () => {
      const results = await run("jsonWithoutApiVersion");
      assert.deepEqual(resultOf(results, "json").failures, ['body.apiVersion: expected "shtp.v1", got undefined']);
      assert.deepEqual(resultOf(results, "protobuf").failures, []);
      const [difference] = resultOf(results, "both").failures;
      assert.match(difference ?? "", /JSON and protobuf answers differ/);
      assert.match(difference ?? "", /json: +\{"name":"shtp-api","version":"1\.2\.3"\}/);
      assert.match(difference ?? "", /protobuf: \{"name":"shtp-api","version":"1\.2\.3","apiVersion":"shtp\.v1"\}/);
    });

    it("fails the JSON run clearly when the JSON answer has a key the message does not know", async () => {
      const results = await run("jsonUnknownKey");
      assert.deepEqual(resultOf(results, "json").failures, [
        "the JSON answer is not a shtp.v1.VersionInfo: .shtp.v1.VersionInfo: unknown field colour",
      ]);
      assert.deepEqual(resultOf(results, "protobuf").failures, []);
      // Without a JSON answer there is nothing to compare: no [both] line, and the JSON line has failed.
      assert.equal(
        results.some((result) => result.encoding === "both"),
        false,
      );
    });

    it("fills {{variables}} into an uploaded text fixture only when the case asks for it", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apitests-runner-"));
      openApi.paths["/echo"] = {
        post: {
          operationId: "echoUpload",
          responses: { "200": { description: "ok", "x-proto-message": "shtp.v1.VersionInfo" } },
        },
      };
      try {
        fs.writeFileSync(path.join(dir, "greeting.txt"), "hello {{run}}");
        fs.writeFileSync(
          path.join(dir, "00.yaml"),
          `resource: echo
cases:
  - name: anyone uploads a filled-in fixture → 200
    op: echoUpload
    path: /echo
    upload: { field: file, file: greeting.txt, contentType: text/plain, substitute: true }
    expect: { status: 200, body: { name: "hello {{run}}" } }
  - name: anyone uploads the fixture as it is → 200
    op: echoUpload
    path: /echo
    upload: { field: file, file: greeting.txt, contentType: text/plain }
    expect: { status: 200, body: { name: $any } }
`,
        );
        mode = "correct";
        const results = await runApiTests({
          baseUrl,
          casesDir: dir,
          protoDir,
          fixturesDir: dir,
          admin: { email: "unused@fixture.example", password: "unused-password" },
          seed: false,
        });
        const mine = results.filter((result) => result.encoding !== "coverage");
        assert.deepEqual(
          mine.map((result) => [result.encoding, result.failures]),
          [
            ["json", []],
            ["json", []],
            ["protobuf", []],
            ["protobuf", []],
            ["both", []],
            ["both", []],
          ],
        );
        assert.equal(uploaded.length, 4);
        assert.match(uploaded[0] ?? "", /^hello json[0-9a-f]{6}$/);
        assert.equal(uploaded[1], "hello {{run}}");
        assert.match(uploaded[2] ?? "", /^hello protobuf[0-9a-f]{6}$/);
        assert.equal(uploaded[3], "hello {{run}}");
      } finally {
        delete openApi.paths["/echo"];
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reads an endless event stream only until its first block (or a second), hangs up and checks the status", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apitests-runner-"));
      openApi.paths["/stream"] = {
        get: {
          operationId: "streamThings",
          responses: {
            "200": {
              description: "events",
              content: { "text/event-stream": { "x-proto-message": "shtp.v1.VersionInfo" } },
              "x-proto-message": "shtp.v1.VersionInfo",
            },
          },
        },
      };
      try {
        fs.writeFileSync(
          path.join(dir, "00.yaml"),
          `resource: stream
cases:
  - name: anyone opens a stream that sends a comment → 200
    op: streamThings
    path: /stream
    headers: { accept: text/event-stream }
    expect: { status: 200 }
  - name: anyone opens a stream that sends nothing → 200
    op: streamThings
    path: /stream
    query: { silent: true }
    headers: { accept: text/event-stream }
    encodings: [json]
    expect: { status: 200 }
`,
        );
        const started = performance.now();
        const results = await runApiTests({
          baseUrl,
          casesDir: dir,
          protoDir,
          fixturesDir: dir,
          admin: { email: "unused@fixture.example", password: "unused-password" },
          seed: false,
        });
        const elapsed = performance.now() - started;
        assert.deepEqual(
          results
            .filter((result) => result.encoding !== "coverage")
            .map((result) => [result.encoding, result.title, result.failures]),
          [
            ["json", "anyone opens a stream that sends a comment → 200", []],
            ["json", "anyone opens a stream that sends nothing → 200", []],
            ["protobuf", "anyone opens a stream that sends a comment → 200", []],
            ["both", "anyone opens a stream that sends a comment → 200", []],
          ],
        );
        const [comment, silent] = results.filter((result) => result.encoding === "json");
        assert.ok((comment?.ms ?? Infinity) < 500, `the first block ends the read at once (${comment?.ms} ms)`);
        assert.ok((silent?.ms ?? 0) >= 900, `a silent stream is read for about a second (${silent?.ms} ms)`);
        assert.ok(elapsed < 5000, `the runner returns promptly (${elapsed} ms)`);
        // The runner hung up: the fixture sees every stream closed.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(streamsOpen, 0);
      } finally {
        delete openApi.paths["/stream"];
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reads a plain-JSON operation's answers as they are, in both runs, and its errors by `error`", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apitests-runner-"));
      openApi.paths["/token"] = {
        post: {
          operationId: "issueToken",
          responses: {
            "200": { description: "tokens", content: { "application/json": { schema: { type: "object" } } } },
            "400": { description: "error", content: { "application/json": { schema: { type: "object" } } } },
          },
        },
      };
      try {
        fs.writeFileSync(
          path.join(dir, "00.yaml"),
          `resource: token
cases:
  - name: anyone signs in → 200
    op: issueToken
    path: /token
    rawBody: { contentType: application/x-www-form-urlencoded, text: grant_type=password }
    expect: { status: 200, body: { access_token: $any, token_type: Bearer } }
  - name: anyone asks for another grant → 400 unsupported_grant_type
    op: issueToken
    path: /token
    rawBody: { contentType: application/x-www-form-urlencoded, text: grant_type=other }
    expect: { status: 400, code: unsupported_grant_type }
  - name: a case expecting the wrong error fails
    op: issueToken
    path: /token
    rawBody: { contentType: application/x-www-form-urlencoded, text: grant_type=other }
    encodings: [json]
    expect: { status: 400, code: invalid_grant }
`,
        );
        const results = await runApiTests({
          baseUrl,
          casesDir: dir,
          protoDir,
          fixturesDir: dir,
          admin: { email: "unused@fixture.example", password: "unused-password" },
          seed: false,
        });
        assert.deepEqual(
          results
            .filter((result) => result.encoding !== "coverage")
            .map((result) => [result.encoding, result.title, result.failures]),
          [
            ["json", "anyone signs in → 200", []],
            ["json", "anyone asks for another grant → 400 unsupported_grant_type", []],
            [
              "json",
              "a case expecting the wrong error fails",
              ['code "unsupported_grant_type", expected invalid_grant'],
            ],
            ["protobuf", "anyone signs in → 200", []],
            ["protobuf", "anyone asks for another grant → 400 unsupported_grant_type", []],
            ["both", "anyone signs in → 200", []],
            ["both", "anyone asks for another grant → 400 unsupported_grant_type", []],
          ],
        );
      } finally {
        delete openApi.paths["/token"];
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("reports an operation without a failure case and a case whose path does not fit its operation", async () => {
      const onlySuccess = fs.mkdtempSync(path.join(os.tmpdir(), "apitests-runner-"));
      try {
        fs.writeFileSync(
          path.join(onlySuccess, "00.yaml"),
          "resource: meta\ncases:\n  - { name: x → 200, op: getVersion, path: /versions, expect: { status: 200 } }\n",
        );
        mode = "correct";
        const results = await runApiTests({
          baseUrl,
          casesDir: onlySuccess,
          protoDir,
          fixturesDir: onlySuccess,
          admin: { email: "unused@fixture.example", password: "unused-password" },
          seed: false,
        });
        const coverage = results
          .filter((result) => result.encoding === "coverage")
          .flatMap((result) => result.failures);
        assert.deepEqual(coverage, [
          "getVersion (GET /version) has no failure case",
          "path /versions does not fit /version",
        ]);
      } finally {
        fs.rmSync(onlySuccess, { recursive: true, force: true });
      }
    });
  });

  describe("partialMatch", () => {
    it("accepts an answer that has every listed key, ignoring the others", () => {
      assert.deepEqual(partialMatch({ a: 1, b: { c: "x" } }, { a: 1, b: { c: "x", d: true }, e: null }), []);
    });

    it("names each difference by its path", () => {
      assert.deepEqual(partialMatch({ a: 1, b: { c: "x" } }, { a: 2, b: { c: "y" } }), [
        "body.a: expected 1, got 2",
        'body.b.c: expected "x", got "y"',
      ]);
    });

    it("treats $any as present and $absent as missing", () => {
      assert.deepEqual(partialMatch({ a: "$any", b: "$absent" }, { a: 0 }), []);
      assert.deepEqual(partialMatch({ a: "$any", b: "$absent" }, { b: "" }), [
        "body.a: missing",
        'body.b: should be absent, got ""',
      ]);
    });

    it("matches lists element by element and insists on their length", () => {
      assert.deepEqual(partialMatch([{ id: "1" }, { id: "2" }], [{ id: "1" }, { id: "2", x: 1 }]), []);
      assert.deepEqual(partialMatch([{ id: "1" }], [{ id: "1" }, { id: "2" }]), ["body: expected 1 items, got 2"]);
      assert.deepEqual(partialMatch([{ id: "1" }], [{ id: "9" }]), ['body.0.id: expected "1", got "9"']);
      assert.deepEqual(partialMatch({ items: [] }, { items: "no" }), ['body.items: expected a list, got "no"']);
      assert.deepEqual(partialMatch({ a: { b: 1 } }, { a: [1] }), ["body.a: expected an object, got [1]"]);
    });
  });

  describe("normalise", () => {
    it("masks volatile fields wherever they are", () => {
      assert.deepEqual(
        normalise({ requestId: "r1", user: { createdAt: "2026-01-01T00:00:00.000Z", id: "u" }, nextCursor: "abc" }, {}),
        { requestId: "<requestId>", user: { createdAt: "<createdAt>", id: "u" }, nextCursor: "<nextCursor>" },
      );
    });

    it("replaces each run's variable values by their names, longest first, leaving short values alone", () => {
      const variables = { run: "json12ab", newUserId: "json12ab-id", tiny: "abc" };
      assert.deepEqual(
        normalise({ id: "json12ab-id", nickName: "new_json12ab", items: ["abc", 3, true, null] }, variables),
        { id: "<newUserId>", nickName: "new_<run>", items: ["abc", 3, true, null] },
      );
    });

    it("leaves an absent answer absent", () => {
      assert.equal(normalise(undefined, { run: "json12ab" }), undefined);
    });
  });

  describe("todayIn", () => {
    it("gives the date of a time zone as YYYY-MM-DD, so {{today}} is the server's today", () => {
      assert.match(todayIn("Europe/Moscow"), /^\d{4}-\d{2}-\d{2}$/);
      // 25 hours apart: never the same date.
      assert.notEqual(todayIn("Pacific/Kiritimati"), todayIn("Pacific/Pago_Pago"));
    });
  });

  describe("coverageGaps", () => {
    const operations = new Map<string, Operation>([
      ["getVersion", { id: "getVersion", method: "GET", template: "/version", plainJson: false }],
      ["deleteGroup", { id: "deleteGroup", method: "DELETE", template: "/groups/{id}", plainJson: false }],
    ]);
    const apiCase = (op: string, status: number): ApiCase => ({
      name: `${op} → ${status}`,
      op,
      actor: "anonymous",
      path: "/",
      expect: { status },
      file: "test.yaml",
    });

    it("names the operations that lack a success or a failure case", () => {
      assert.deepEqual(coverageGaps(operations, [apiCase("getVersion", 200), apiCase("getVersion", 302)]), [
        "getVersion (GET /version) has no failure case",
        "deleteGroup (DELETE /groups/{id}) has no success case",
        "deleteGroup (DELETE /groups/{id}) has no failure case",
      ]);
    });

    it("is empty when every operation has both", () => {
      const cases = [
        apiCase("getVersion", 200),
        apiCase("getVersion", 406),
        apiCase("deleteGroup", 204),
        apiCase("deleteGroup", 409),
      ];
      assert.deepEqual(coverageGaps(operations, cases), []);
    });
  });

  describe("ProtoCodec", () => {
    const codec = ProtoCodec.load(protoDir, protoFiles);
    const roundTrip = (typeName: string, json: Json) => codec.decode(typeName, codec.encode(typeName, json));

    it("round-trips a Timestamp as RFC 3339 UTC with milliseconds", () => {
      assert.deepEqual(roundTrip("shtp.v1.User", { id: "u1", createdAt: "2026-11-22T10:00:00.250Z" }), {
        id: "u1",
        createdAt: "2026-11-22T10:00:00.250Z",
      });
      assert.deepEqual(codec.canonicalJson("shtp.v1.User", { createdAt: "2026-11-22T10:00:00Z" }), {
        createdAt: "2026-11-22T10:00:00.000Z",
      });
      assert.throws(() => codec.encode("shtp.v1.User", { createdAt: "yesterday" }), /not a timestamp: yesterday/);
    });

    it("round-trips an enum by its name and refuses a name the enum lacks", () => {
      assert.deepEqual(roundTrip("shtp.v1.User", { role: "ROLE_TEACHER" }), { role: "ROLE_TEACHER" });
      assert.deepEqual(roundTrip("shtp.v1.UpdateUserRequest", { role: "ROLE_ADMIN" }), { role: "ROLE_ADMIN" });
      assert.throws(() => codec.encode("shtp.v1.User", { role: "ROLE_PRINCIPAL" }), /ROLE_PRINCIPAL is not a/);
    });

    it("round-trips a repeated nested message and drops default values", () => {
      const response: Json = {
        dryRun: true,
        createdCount: 2,
        users: [
          { nickName: "ann", firstName: "Ann" },
          { id: "", nickName: "bob", avatarUrl: "/storage/avatars/b.png" },
        ],
      };
      assert.deepEqual(roundTrip("shtp.v1.ImportUsersResponse", response), {
        dryRun: true,
        createdCount: 2,
        users: [
          { nickName: "ann", firstName: "Ann" },
          { nickName: "bob", avatarUrl: "/storage/avatars/b.png" },
        ],
      });
      assert.deepEqual(roundTrip("shtp.v1.ImportUsersResponse", { dryRun: false, users: [] }), {});
    });

    it("keeps a present proto3 optional field even at its default value", () => {
      assert.deepEqual(roundTrip("shtp.v1.UpdateMyProfileRequest", { aboutText: "", socialLinks: {} }), {
        aboutText: "",
        socialLinks: {},
      });
    });

    it("refuses a JSON key the message does not have", () => {
      assert.throws(() => codec.encode("shtp.v1.VersionInfo", { colour: "red" }), /unknown field colour/);
    });
  });
});
