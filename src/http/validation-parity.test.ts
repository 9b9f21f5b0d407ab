import assert from "node:assert/strict";
import { Error as ErrorMessage, type FieldViolation } from "../../generated/shtp/v1/error.js";
import { routes } from "../modules/index.js";
import { fixtureRoutes } from "../testing/fixture-routes.js";
import { rawRequest, type RawResponse } from "../testing/http.js";
import { startTestServer, type TestServer } from "../testing/server.js";

const JSON_TYPE = "application/json; charset=utf-8";
const PROTOBUF_TYPE = "application/protobuf";

/** A valid echo body to start each case from. */
const valid: ErrorMessage = {
  code: "ok",
  detail: "",
  fieldViolations: [{ field: "a", description: "short" }],
  requestId: "",
};

const violation = (index: number): FieldViolation => ({ field: `f${index}`, description: "d" });

interface Case {
  name: string;
  message: ErrorMessage;
  /** The field paths the 400 must name, in order. */
  fields: string[];
}

/** Bodies the echo route (`echoSchema`) must refuse, whatever their encoding. */
const cases: Case[] = [
  { name: "an empty code", message: { ...valid, code: "" }, fields: ["code"] },
  { name: "a code over 40 characters", message: { ...valid, code: "c".repeat(41) }, fields: ["code"] },
  {
    name: "a violation with an empty field",
    message: { ...valid, fieldViolations: [{ field: "", description: "x" }] },
    fields: ["fieldViolations.0.field"],
  },
  {
    name: "a second violation with a description over 20 characters",
    message: {
      ...valid,
      fieldViolations: [
        { field: "a", description: "fine" },
        { field: "b", description: "d".repeat(21) },
      ],
    },
    fields: ["fieldViolations.1.description"],
  },
  {
    name: "more than 50 violations",
    message: { ...valid, fieldViolations: Array.from({ length: 51 }, (_, index) => violation(index)) },
    fields: ["fieldViolations"],
  },
  {
    name: "several bad fields at once",
    message: {
      ...valid,
      code: "",
      fieldViolations: [
        { field: "", description: "x" },
        { field: "b", description: "d".repeat(21) },
      ],
    },
    fields: ["code", "fieldViolations.0.field", "fieldViolations.1.description"],
  },
];

const jsonOf = (message: ErrorMessage) => JSON.stringify(ErrorMessage.toJSON(message));
const protobufOf = (message: ErrorMessage) => Buffer.from(ErrorMessage.encode(message).finish());

describe("validation parity between JSON and protobuf bodies over real HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ routes: [...routes, ...fixtureRoutes] });
  });
  after(() => server.close());

  const echo = (type: string, body: Buffer | string) =>
    rawRequest(`${server.url}/api/v1/test/echo`, { method: "POST", headers: { "content-type": type }, body });

  /** Decodes a 400 in the encoding it must have been sent in and checks the common parts. */
  function badRequest(response: RawResponse, encoding: "json" | "protobuf"): ErrorMessage {
    assert.equal(response.status, 400);
    const expectedType = encoding === "json" ? JSON_TYPE : PROTOBUF_TYPE;
    assert.equal(response.headers["content-type"], expectedType);
    const error =
      encoding === "json"
        ? ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8")))
        : ErrorMessage.decode(response.body);
    assert.equal(error.code, "invalid_argument");
    assert.ok(error.detail.length > 0, "the error should say what went wrong");
    assert.equal(error.requestId, response.headers["x-request-id"]);
    return error;
  }

  it("accepts the valid starting body in both encodings", async () => {
    const json = await echo("application/json", jsonOf(valid));
    assert.equal(json.status, 200);
    assert.deepEqual(ErrorMessage.fromJSON(JSON.parse(json.body.toString("utf8"))), valid);
    const protobuf = await echo(PROTOBUF_TYPE, protobufOf(valid));
    assert.equal(protobuf.status, 200);
    assert.deepEqual(ErrorMessage.decode(protobuf.body), valid);
  });

  for (const { name, message, fields } of cases) {
    it(`refuses ${name} with the same 400 in JSON and in protobuf`, async () => {
      const fromJson = badRequest(await echo("application/json", jsonOf(message)), "json");
      const fromProtobuf = badRequest(await echo(PROTOBUF_TYPE, protobufOf(message)), "protobuf");
      assert.deepEqual(
        fromJson.fieldViolations.map((item) => item.field),
        fields,
      );
      for (const item of fromJson.fieldViolations) assert.ok(item.description.length > 0, item.field);
      assert.deepEqual(fromProtobuf.fieldViolations, fromJson.fieldViolations);
      assert.equal(fromProtobuf.detail, fromJson.detail);
    });
  }

  it("treats an absent, null and empty JSON code alike, as protobuf cannot tell them apart", async () => {
    const fromProtobuf = badRequest(await echo(PROTOBUF_TYPE, protobufOf({ ...valid, code: "" })), "protobuf");
    assert.deepEqual(
      fromProtobuf.fieldViolations.map((item) => item.field),
      ["code"],
    );
    const { code: _code, ...withoutCode } = ErrorMessage.toJSON(valid) as Record<string, unknown>;
    for (const body of [withoutCode, { ...withoutCode, code: "" }, { ...withoutCode, code: null }]) {
      const fromJson = badRequest(await echo("application/json", JSON.stringify(body)), "json");
      assert.deepEqual(fromJson.fieldViolations, fromProtobuf.fieldViolations, JSON.stringify(body));
    }
  });

  it("treats an empty body as the empty message in both encodings", async () => {
    const fromJson = badRequest(await echo("application/json", "{}"), "json");
    assert.deepEqual(
      fromJson.fieldViolations.map((item) => item.field),
      ["code"],
    );
    // A zero-length body is no body at all, so there is nothing to mirror: ask for protobuf explicitly.
    const emptyProtobuf = await rawRequest(`${server.url}/api/v1/test/echo`, {
      method: "POST",
      headers: { "content-type": PROTOBUF_TYPE, accept: PROTOBUF_TYPE, "content-length": "0" },
    });
    const fromProtobuf = badRequest(emptyProtobuf, "protobuf");
    assert.deepEqual(fromProtobuf.fieldViolations, fromJson.fieldViolations);
  });

  it("answers every case in the encoding the client asks for, whatever it sent", async () => {
    const [first] = cases;
    assert.ok(first);
    const response = await rawRequest(`${server.url}/api/v1/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/x-protobuf" },
      body: jsonOf(first.message),
    });
    assert.equal(response.status, 400);
    assert.equal(response.headers["content-type"], "application/x-protobuf");
    const error = ErrorMessage.decode(response.body);
    assert.equal(error.code, "invalid_argument");
    assert.deepEqual(
      error.fieldViolations.map((item) => item.field),
      first.fields,
    );
  });
});
