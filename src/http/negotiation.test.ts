import assert from "node:assert/strict";
import { Error as ErrorMessage } from "../../generated/shtp/v1/error.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { routes } from "../modules/index.js";
import { fixtureRoutes } from "../testing/fixture-routes.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { decodeAs } from "../testing/api.js";

const protobufTypes = ["application/protobuf", "application/x-protobuf", "application/vnd.google.protobuf"];

const errorOf = (response: RawResponse): ErrorMessage => decodeAs(ErrorMessage, response);

const sample: ErrorMessage = {
  code: "hello",
  detail: "négociation ✓",
  fieldViolations: [{ field: "a.b", description: "c" }],
  requestId: "",
};

describe("content negotiation over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ routes: [...routes, ...fixtureRoutes] });
  });
  after(() => server.close());

  const post = (headers: Record<string, string>, body: Buffer | string) =>
    rawRequest(`${server.url}/api/v1/test/echo`, { method: "POST", headers, body });

  it("accepts JSON with and without charset and answers JSON", async () => {
    for (const type of ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]) {
      const response = await post({ "content-type": type }, JSON.stringify(ErrorMessage.toJSON(sample)));
      assert.equal(response.status, 200, type);
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
      assert.deepEqual(ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8"))), sample);
    }
  });

  for (const type of protobufTypes) {
    it(`accepts ${type} and mirrors the same alias when there is no Accept`, async () => {
      const response = await post({ "content-type": type }, Buffer.from(ErrorMessage.encode(sample).finish()));
      assert.equal(response.status, 200);
      assert.equal(response.headers["content-type"], type);
      assert.deepEqual(ErrorMessage.decode(response.body), sample);
    });

    it(`echoes the alias ${type} named in Accept`, async () => {
      const response = await rawRequest(`${server.url}/api/v1/version`, { headers: { accept: type } });
      assert.equal(response.status, 200);
      assert.equal(response.headers["content-type"], type);
      assert.equal(VersionInfo.decode(response.body).name, "shtp-api");
    });
  }

  it("mirrors the request encoding for Accept: */*", async () => {
    const response = await post(
      { "content-type": "application/x-protobuf", accept: "*/*" },
      Buffer.from(ErrorMessage.encode(sample).finish()),
    );
    assert.equal(response.headers["content-type"], "application/x-protobuf");
  });

  it("answers JSON to a bodyless request with no Accept or with */*", async () => {
    for (const headers of [{}, { accept: "*/*" }] as Record<string, string>[]) {
      const response = await rawRequest(`${server.url}/api/v1/version`, { headers });
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
      assert.equal(VersionInfo.fromJSON(JSON.parse(response.body.toString("utf8"))).name, "shtp-api");
    }
  });

  it("honours q-values and wildcards in Accept", async () => {
    const cases: [string, string][] = [
      ["application/json;q=0.5, application/protobuf", "application/protobuf"],
      ["application/protobuf;q=0.1, application/json", "application/json; charset=utf-8"],
      ["application/*;q=0.2, application/vnd.google.protobuf;q=0.9", "application/vnd.google.protobuf"],
      ["text/html, application/*;q=0.1", "application/json; charset=utf-8"],
      ["application/json;q=0, */*", "application/protobuf"],
    ];
    for (const [accept, expected] of cases) {
      const response = await rawRequest(`${server.url}/api/v1/version`, { headers: { accept } });
      assert.equal(response.status, 200, accept);
      assert.equal(response.headers["content-type"], expected, accept);
    }
  });

  it("answers 406 in JSON when Accept allows neither encoding", async () => {
    const response = await rawRequest(`${server.url}/api/v1/version`, {
      headers: { accept: "text/html, application/xml" },
    });
    assert.equal(response.status, 406);
    assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
    assert.equal(errorOf(response).code, "not_acceptable");
  });

  it("answers 415 for other request types, in the client's Accept", async () => {
    for (const type of [
      "application/octet-stream",
      "text/plain",
      "application/xml",
      "multipart/form-data; boundary=x",
    ]) {
      const response = await post({ "content-type": type, accept: "application/protobuf" }, "x=1");
      assert.equal(response.status, 415, type);
      assert.equal(response.headers["content-type"], "application/protobuf");
      assert.equal(errorOf(response).code, "unsupported_media_type");
    }
    const untyped = await post({}, "{}");
    assert.equal(untyped.status, 415);
    const latin1 = await post({ "content-type": "application/json; charset=iso-8859-1" }, "{}");
    assert.equal(latin1.status, 415);
  });

  it("answers 400 to malformed JSON and to a JSON body that is not an object", async () => {
    for (const body of ["{", "null", "[]", '"text"', "12"]) {
      const response = await post({ "content-type": "application/json" }, body);
      assert.equal(response.status, 400, body);
      assert.equal(errorOf(response).code, "invalid_argument");
    }
  });

  it("answers 400 to garbage protobuf, in protobuf", async () => {
    const response = await post(
      { "content-type": "application/protobuf" },
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    );
    assert.equal(response.status, 400);
    assert.equal(response.headers["content-type"], "application/protobuf");
    const error = ErrorMessage.decode(response.body);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.detail, /shtp\.v1\.Error/);
  });

  it("answers 400 naming each unknown JSON key", async () => {
    const response = await post(
      { "content-type": "application/json" },
      JSON.stringify({ code: "x", colour: 1, fieldViolations: [{ field: "a", typo: 2 }] }),
    );
    assert.equal(response.status, 400);
    const error = errorOf(response);
    assert.deepEqual(error.fieldViolations.map((violation) => violation.field).sort(), [
      "colour",
      "fieldViolations.0.typo",
    ]);
  });

  it("skips unknown protobuf fields, as the wire rules say", async () => {
    const known = Buffer.from(ErrorMessage.encode(sample).finish());
    const unknownField = Buffer.from([0xf8, 0x06, 0x01]); // field 111, varint 1
    const response = await post({ "content-type": "application/protobuf" }, Buffer.concat([known, unknownField]));
    assert.equal(response.status, 200);
    assert.deepEqual(ErrorMessage.decode(response.body), sample);
  });

  it("answers 413 past the body limit, by Content-Length and by streamed size", async () => {
    const limit = server.config.http.maxBodyBytes;
    const big = JSON.stringify({ code: "x", detail: "y".repeat(limit) });
    const declared = await post(
      { "content-type": "application/json", "content-length": String(big.length), accept: "application/protobuf" },
      big,
    );
    assert.equal(declared.status, 413);
    assert.equal(ErrorMessage.decode(declared.body).code, "payload_too_large");
    const chunked = await rawRequest(`${server.url}/api/v1/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      body: big,
    });
    assert.equal(chunked.status, 413);
    assert.equal(errorOf(chunked).code, "payload_too_large");
  });

  it("sets Vary, nosniff and X-Request-Id on successes, errors and unknown paths", async () => {
    const responses = [
      await rawRequest(`${server.url}/api/v1/version`),
      await rawRequest(`${server.url}/api/v1/version`, { headers: { accept: "image/png" } }),
      await rawRequest(`${server.url}/api/v1/no/such/path`),
      await rawRequest(`${server.url}/healthz`),
    ];
    for (const response of responses) {
      assert.match(String(response.headers.vary), /Accept/);
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.match(String(response.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    }
  });

  it("keeps a well-formed client X-Request-Id and puts it in error bodies", async () => {
    const response = await rawRequest(`${server.url}/api/v1/nowhere`, {
      headers: { "x-request-id": "client-abc-123" },
    });
    assert.equal(response.headers["x-request-id"], "client-abc-123");
    assert.equal(errorOf(response).requestId, "client-abc-123");
    const forged = await rawRequest(`${server.url}/api/v1/version`, {
      headers: { "x-request-id": "bad id\twith tab" },
    });
    assert.notEqual(forged.headers["x-request-id"], "bad id\twith tab");
  });

  it("renders unknown paths as 404 and wrong methods as 405 in the negotiated encoding", async () => {
    const missing = await rawRequest(`${server.url}/api/v1/nothing-here`, {
      headers: { accept: "application/x-protobuf" },
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers["content-type"], "application/x-protobuf");
    assert.equal(ErrorMessage.decode(missing.body).code, "not_found");
    const wrongMethod = await rawRequest(`${server.url}/api/v1/version`, { method: "DELETE" });
    assert.equal(wrongMethod.status, 405);
    assert.match(String(wrongMethod.headers.allow), /GET/);
    assert.equal(errorOf(wrongMethod).code, "method_not_allowed");
  });

  it("compresses protobuf and JSON above 1 KiB when the client accepts it, and not below", async () => {
    const large: ErrorMessage = { ...sample, detail: "x".repeat(4000) };
    for (const [encoding, type] of [
      ["gzip", "application/protobuf"],
      ["br", "application/json"],
    ] as const) {
      const body =
        type === "application/json"
          ? JSON.stringify(ErrorMessage.toJSON(large))
          : Buffer.from(ErrorMessage.encode(large).finish());
      const response = await post({ "content-type": type, "accept-encoding": encoding }, body);
      assert.equal(response.status, 200, type);
      assert.equal(response.headers["content-encoding"], encoding, type);
      assert.ok(response.wireBody.length < 1024, `${type} should shrink, got ${response.wireBody.length} bytes`);
      const decoded =
        type === "application/json"
          ? ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8")))
          : ErrorMessage.decode(response.body);
      assert.equal(decoded.detail, large.detail);
    }
    const small = await rawRequest(`${server.url}/api/v1/version`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(small.headers["content-encoding"], undefined);
  });
});
