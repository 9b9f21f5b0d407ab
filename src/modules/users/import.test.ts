import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Op } from "sequelize";
import { LoginRequest, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { Error as ErrorMessage } from "../../../generated/shtp/v1/error.js";
import { ImportUsersResponse } from "../../../generated/shtp/v1/users.js";
import { multipart } from "../../testing/files.js";
import { buildGroup, buildUser, tokenFor } from "../../testing/factories.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { User } from "./user.model.js";
import { decodeAs } from "../../testing/api.js";

/**
 * POST /users/import over real HTTP: multipart `file`, CSV, all or nothing. Every
 * request runs against a server with a storage root of its own, so the temporary folder can be checked.
 */

const PROTOBUF = "application/protobuf";
const JSON_TYPE = "application/json; charset=utf-8";
const HEADER = "firstName,lastName,email,role,password,learningClass,groupName";
const MiB = 1024 * 1024;

const errorOf = (response: RawResponse): ErrorMessage => decodeAs(ErrorMessage, response);

const importResultOf = (response: RawResponse): ImportUsersResponse => decodeAs(ImportUsersResponse, response);

const fieldsOf = (error: ErrorMessage) => error.fieldViolations.map((violation) => violation.field).sort();

/** Joins CSV lines with CRLF, as RFC 4180 writes them. */
const csv = (lines: string[]) => `${lines.join("\r\n")}\r\n`;

describe("POST /users/import (CSV, all or nothing) over real HTTP", () => {
  let server: TestServer;
  let storageDir: string;
  let adminToken: string;
  let teacherToken: string;
  let studentToken: string;
  let groupName: string;
  let groupId: string;
  const tag = randomUUID().slice(0, 8);

  before(async () => {
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-import-test-"));
    server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
    const group = await buildGroup({ name: `Import Group ${tag}` });
    groupName = group.name;
    groupId = group.id;
    adminToken = await tokenFor(await buildUser({ role: "admin" }), server.config);
    teacherToken = await tokenFor(await buildUser({ role: "teacher" }), server.config);
    studentToken = await tokenFor(await buildUser({ role: "student" }), server.config);
  });
  after(async () => {
    await server.close();
    await fs.rm(storageDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    // No request, accepted or refused, leaves anything in the temporary folder.
    const left = await fs.readdir(path.join(storageDir, "tmp")).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    });
    assert.deepEqual(left, [], "STORAGE_DIR/tmp is empty or absent");
  });

  /**
   * Sends `file` as the `file` part of a multipart body.
   * @param options.accept - the Accept header, if any
   */
  const upload = (
    file: Buffer | string,
    options: { token?: string; accept?: string; dryRun?: boolean; filename?: string; contentType?: string } = {},
  ) => {
    const form = multipart([
      {
        name: "file",
        filename: options.filename ?? "users.csv",
        contentType: options.contentType ?? "text/csv",
        data: file,
      },
    ]);
    const headers: Record<string, string> = { "content-type": form.contentType };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.accept !== undefined) headers.accept = options.accept;
    return rawRequest(`${server.url}/api/v1/users/import${options.dryRun ? "?dryRun=true" : ""}`, {
      method: "POST",
      headers,
      body: form.body,
    });
  };

  /** Sends the same file twice, asking for JSON then protobuf, and checks the error each time. */
  async function expectError(
    file: Buffer | string,
    status: number,
    code: string,
    options: { token?: string; filename?: string; contentType?: string } = {},
  ): Promise<ErrorMessage> {
    const json = await upload(file, { token: adminToken, ...options });
    assert.equal(json.status, status, json.body.toString("utf8").slice(0, 500));
    assert.equal(json.headers["content-type"], JSON_TYPE);
    const jsonError = errorOf(json);
    assert.equal(jsonError.code, code);
    assert.ok(jsonError.detail.length > 0);

    const protobuf = await upload(file, { token: adminToken, ...options, accept: PROTOBUF });
    assert.equal(protobuf.status, status);
    assert.equal(protobuf.headers["content-type"], PROTOBUF);
    const protobufError = ErrorMessage.decode(protobuf.body);
    assert.equal(protobufError.code, code);
    assert.deepEqual(fieldsOf(protobufError), fieldsOf(jsonError));
    return jsonError;
  }

  const countByEmail = (emails: string[]) =>
    User.count({ where: { email: { [Op.in]: emails.map((email) => email.toLowerCase()) } } });

  describe("a good file", () => {
    const ann = { email: `ann-${tag}@example.test`, password: "ann-password-1" };
    const bob = { email: `Bob-${tag}@Example.test`, password: "bob-password-2" };
    // A UTF-8 BOM, CRLF line endings, a quoted comma, an escaped quote and the group named in another case.
    const goodFile = () =>
      Buffer.from(
        "\uFEFF" +
          csv([
            HEADER,
            `Ann,"Lee, Jr",${ann.email},student,${ann.password},10A,${groupName}`,
            `"Bob ""The Builder""",Stone,${bob.email},TEACHER,${bob.password},,${groupName.toUpperCase()}`,
          ]),
        "utf8",
      );

    it("validates only with ?dryRun=true, in both encodings, and creates nobody", async () => {
      for (const accept of [undefined, PROTOBUF]) {
        const response = await upload(goodFile(), { token: adminToken, dryRun: true, accept });
        assert.equal(response.status, 200, response.body.toString("utf8"));
        assert.equal(response.headers["content-type"], accept ?? JSON_TYPE);
        const result = importResultOf(response);
        assert.equal(result.dryRun, true);
        assert.equal(result.createdCount, 2);
        assert.deepEqual(
          result.users.map((user) => [user.firstName, user.lastName]),
          [
            ["Ann", "Lee, Jr"],
            ['Bob "The Builder"', "Stone"],
          ],
        );
      }
      assert.equal(await countByEmail([ann.email, bob.email]), 0);
    });

    it("creates every row with its names, role and group, and the passwords sign in", async () => {
      const response = await upload(goodFile(), { token: adminToken });
      assert.equal(response.status, 200, response.body.toString("utf8"));
      const result = importResultOf(response);
      assert.equal(result.dryRun, false);
      assert.equal(result.createdCount, 2);
      assert.equal(result.users.length, 2);
      for (const user of result.users) assert.match(user.id, /^[0-9a-f-]{36}$/);

      const annRow = await User.findOne({ where: { email: ann.email.toLowerCase() } });
      assert.ok(annRow, "Ann exists");
      assert.equal(annRow.firstName, "Ann");
      assert.equal(annRow.lastName, "Lee, Jr");
      assert.equal(annRow.role, "student");
      assert.equal(annRow.groupId, groupId);
      assert.equal(annRow.learningClass, "10A");

      const bobRow = await User.findOne({ where: { email: bob.email.toLowerCase() } });
      assert.ok(bobRow, "Bob exists, his email stored in lower case");
      assert.equal(bobRow.firstName, 'Bob "The Builder"');
      assert.equal(bobRow.lastName, "Stone");
      assert.equal(bobRow.role, "teacher");
      assert.equal(bobRow.groupId, groupId);
      assert.equal(bobRow.learningClass, "");
      assert.deepEqual(result.users.map((user) => user.id).sort(), [annRow.id, bobRow.id].sort());

      const annLogin = await rawRequest(`${server.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: ann.email, password: ann.password }),
      });
      assert.equal(annLogin.status, 200, annLogin.body.toString("utf8"));
      assert.ok(TokenPair.fromJSON(JSON.parse(annLogin.body.toString("utf8"))).accessToken.length > 0);

      const bobLogin = await rawRequest(`${server.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": PROTOBUF },
        body: Buffer.from(LoginRequest.encode({ email: bob.email, password: bob.password }).finish()),
      });
      assert.equal(bobLogin.status, 200);
      assert.equal(bobLogin.headers["content-type"], PROTOBUF);
      assert.ok(TokenPair.decode(bobLogin.body).accessToken.length > 0);
    });

    it("refuses the same file again: every email is taken now", async () => {
      const error = await expectError(goodFile(), 422, "failed_precondition");
      assert.deepEqual(fieldsOf(error), ["lines.2.email", "lines.3.email"]);
    });
  });

  it("creates nothing when any line is bad, and names each bad line and column", async () => {
    const existing = await buildUser({ email: `existing-${tag}@example.test` });
    const emails = {
      good: `good-${tag}@example.test`,
      dup: `dup-${tag}@example.test`,
      role: `role-${tag}@example.test`,
      group: `group-${tag}@example.test`,
      short: `short-${tag}@example.test`,
    };
    const file = csv([
      HEADER,
      `Good,Row,${emails.good},student,good-password,9B,${groupName}`,
      `Dup,First,${emails.dup},student,good-password,9B,${groupName}`,
      `Dup,Second,${emails.dup},student,good-password,9B,${groupName}`,
      `Exist,Ing,${existing.email.toUpperCase()},student,good-password,9B,${groupName}`,
      `Bad,Role,${emails.role},wizard,good-password,9B,${groupName}`,
      `Unknown,Group,${emails.group},student,good-password,9B,No such group ${tag}`,
      `Short,Password,${emails.short},student,short,9B,${groupName}`,
    ]);
    for (const dryRun of [false, true]) {
      const response = await upload(file, { token: adminToken, dryRun });
      assert.equal(response.status, 422);
      assert.equal(errorOf(response).code, "failed_precondition");
    }
    const error = await expectError(file, 422, "failed_precondition");
    assert.deepEqual(fieldsOf(error), [
      "lines.4.email",
      "lines.5.email",
      "lines.6.role",
      "lines.7.groupName",
      "lines.8.password",
    ]);
    assert.equal(await countByEmail(Object.values(emails)), 0, "not one user was created, the good rows included");
    assert.equal(await countByEmail([existing.email]), 1);
  });

  it("refuses a teacher's row for a teacher account, naming that line", async () => {
    const email = `by-teacher-${tag}@example.test`;
    const file = csv([
      HEADER,
      `Stu,Dent,student-${email},student,good-password,8A,${groupName}`,
      `Tea,Cher,${email},teacher,good-password,,${groupName}`,
    ]);
    const error = await expectError(file, 422, "failed_precondition", { token: teacherToken });
    assert.deepEqual(fieldsOf(error), ["lines.3.role"]);
    assert.equal(await countByEmail([email, `student-${email}`]), 0);
  });

  it("answers 403 to a student and 401 without a token", async () => {
    const file = csv([HEADER, `A,B,nobody-${tag}@example.test,student,good-password,8A,${groupName}`]);
    await expectError(file, 403, "permission_denied", { token: studentToken });
    const anonymous = await upload(file);
    assert.equal(anonymous.status, 401);
    assert.equal(errorOf(anonymous).code, "unauthenticated");
  });

  it("answers 422 naming line 1 for a wrong header", async () => {
    const file = csv([
      "firstName,lastName,mail,role,password,learningClass,groupName",
      `A,B,header-${tag}@example.test,student,good-password,8A,${groupName}`,
    ]);
    const error = await expectError(file, 422, "failed_precondition");
    assert.deepEqual(fieldsOf(error), ["lines.1"]);
    assert.match(error.fieldViolations[0]?.description ?? "", /missing: email; unknown: mail/);
  });

  it("answers 422 for an unclosed quote", async () => {
    const file = csv([HEADER, `A,"B,unclosed-${tag}@example.test,student,good-password,8A,${groupName}`]);
    const error = await expectError(file, 422, "failed_precondition");
    assert.equal(error.fieldViolations.length, 1);
    assert.match(error.fieldViolations[0]?.field ?? "", /^lines\.\d+$/);
    assert.equal(await countByEmail([`unclosed-${tag}@example.test`]), 0);
  });

  it("answers 422 for a header without rows", async () => {
    const error = await expectError(csv([HEADER]), 422, "failed_precondition");
    assert.deepEqual(fieldsOf(error), ["lines.2"]);
  });

  it("answers 415 for a binary file, whatever its name and Content-Type say", async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(64)]);
    const error = await expectError(png, 415, "unsupported_media_type");
    assert.deepEqual(fieldsOf(error), ["file"]);
  });

  it("answers 400 for a file that stops being UTF-8 after its first bytes", async () => {
    const padding = `A,B,latin-${tag}@example.test,student,good-password,8A,${groupName}\r\n`.repeat(10);
    const file = Buffer.concat([Buffer.from(csv([HEADER]) + padding), Buffer.from([0xe9, 0x0d, 0x0a])]);
    assert.ok(file.length > 600, "the bad byte lies past the sniffed head");
    const error = await expectError(file, 400, "invalid_argument");
    assert.deepEqual(fieldsOf(error), ["file"]);
  });

  it("answers 413 for a file over 1 MiB", async () => {
    const line = `A,B,big-${tag}@example.test,student,good-password,8A,${groupName}\r\n`;
    const body = (HEADER + "\r\n" + line.repeat(Math.ceil(MiB / line.length))).slice(0, MiB + 1);
    assert.equal(Buffer.byteLength(body), MiB + 1);
    await expectError(body, 413, "payload_too_large");
    assert.equal(await countByEmail([`big-${tag}@example.test`]), 0);
  });

  it("answers 415 to a body that is not multipart and 400 to one without the `file` part", async () => {
    const json = await rawRequest(`${server.url}/api/v1/users/import`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
      body: "{}",
    });
    assert.equal(json.status, 415);
    assert.equal(errorOf(json).code, "unsupported_media_type");

    const empty = multipart([]);
    const missing = await rawRequest(`${server.url}/api/v1/users/import`, {
      method: "POST",
      headers: { "content-type": empty.contentType, authorization: `Bearer ${adminToken}` },
      body: empty.body,
    });
    assert.equal(missing.status, 400);
    const error = errorOf(missing);
    assert.equal(error.code, "invalid_argument");
    assert.deepEqual(fieldsOf(error), ["file"]);
  });
});
