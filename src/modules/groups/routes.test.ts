import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { QueryTypes } from "sequelize";
import { Error as ErrorMessage } from "../../../generated/shtp/v1/error.js";
import {
  CreateGroupRequest,
  Group as GroupMessage,
  ListGroupsResponse,
  UpdateGroupRequest,
} from "../../../generated/shtp/v1/groups.js";
import type { MessageCodec } from "../../http/messages.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser, tokenFor } from "../../testing/factories.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { User } from "../users/user.model.js";
import { Group } from "./group.model.js";
import { decodeAs } from "../../testing/api.js";

/** The groups endpoints over real HTTP, each case in JSON and in protobuf. */

type Encoding = "json" | "protobuf";
const encodings: readonly Encoding[] = ["json", "protobuf"];
const PROTOBUF = "application/protobuf";
const JSON_TYPE = "application/json; charset=utf-8";
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const tag = () => randomUUID().slice(0, 8);

describe("groups over real HTTP, in JSON and protobuf", () => {
  let server: TestServer;
  let storageDir: string;
  let studentToken: string;
  let teacherToken: string;
  let adminToken: string;

  before(async () => {
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-groups-test-"));
    server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
    studentToken = await tokenFor(await buildUser({ role: "student" }), server.config);
    teacherToken = await tokenFor(await buildUser({ role: "teacher" }), server.config);
    adminToken = await tokenFor(await buildUser({ role: "admin" }), server.config);
  });
  after(async () => {
    await server.close();
    await fs.rm(storageDir, { recursive: true, force: true });
  });

  /**
   * Calls the API in one encoding: the body (if any) is encoded with its codec and the answer is asked
   * for in the same encoding.
   */
  function call<T>(
    encoding: Encoding,
    method: string,
    pathAndQuery: string,
    options: { token?: string; body?: { codec: MessageCodec<T>; value: T } } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: encoding === "json" ? "application/json" : PROTOBUF };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: Buffer | string | undefined;
    if (options.body) {
      const { codec, value } = options.body;
      headers["content-type"] = encoding === "json" ? "application/json" : PROTOBUF;
      body = encoding === "json" ? JSON.stringify(codec.toJSON(value)) : Buffer.from(codec.encode(value).finish());
    }
    return rawRequest(`${server.url}/api/v1${pathAndQuery}`, { method, headers, body });
  }

  /** Checks a success status and its content type, then decodes the message. */
  function expectMessage<T>(response: RawResponse, encoding: Encoding, status: number, codec: MessageCodec<T>): T {
    assert.equal(response.status, status, response.body.toString("utf8"));
    assert.equal(response.headers["content-type"], encoding === "json" ? JSON_TYPE : PROTOBUF);
    return decodeAs(codec, response);
  }

  /** Checks an error's status, encoding and code; returns the decoded error. */
  function expectError(response: RawResponse, encoding: Encoding, status: number, code: string): ErrorMessage {
    assert.equal(response.status, status, response.body.toString("utf8"));
    assert.equal(response.headers["content-type"], encoding === "json" ? JSON_TYPE : PROTOBUF);
    const error = decodeAs(ErrorMessage, response);
    assert.equal(error.code, code, error.detail);
    assert.ok(error.detail.length > 0);
    return error;
  }

  const fieldsOf = (error: ErrorMessage) => error.fieldViolations.map((violation) => violation.field).sort();

  const create = (encoding: Encoding, name: string, token = teacherToken) =>
    call(encoding, "POST", "/groups", { token, body: { codec: CreateGroupRequest, value: { name } } });

  const update = (encoding: Encoding, id: string, value: UpdateGroupRequest, token = teacherToken) =>
    call(encoding, "PATCH", `/groups/${id}`, { token, body: { codec: UpdateGroupRequest, value } });

  describe("GET /groups", () => {
    it("walks every group exactly once with limit=1, in case-insensitive name order, with member counts", async () => {
      const t = tag();
      const alpha = await buildGroup({ name: `gw ${t} alpha` });
      const bravo = await buildGroup({ name: `GW ${t} Bravo` });
      const charlie = await buildGroup({ name: `gw ${t} charlie` });
      await buildUser({ groupId: alpha.id });
      await buildUser({ groupId: alpha.id });
      await buildUser({ groupId: charlie.id });
      const expectedCounts = new Map([
        [alpha.id, 2],
        [bravo.id, 0],
        [charlie.id, 1],
      ]);
      const expectedOrder = (
        await testDatabase().database.sequelize.query<{ id: string }>("SELECT id FROM groups ORDER BY lower(name)", {
          type: QueryTypes.SELECT,
        })
      ).map((row) => row.id);

      for (const encoding of encodings) {
        const seen: string[] = [];
        let cursor = "";
        for (let page = 0; page <= expectedOrder.length; page++) {
          const query = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : "?limit=1";
          const body = expectMessage(
            await call(encoding, "GET", `/groups${query}`, { token: studentToken }),
            encoding,
            200,
            ListGroupsResponse,
          );
          assert.ok(body.items.length <= 1);
          for (const item of body.items) {
            seen.push(item.id);
            const expected = expectedCounts.get(item.id);
            if (expected !== undefined) assert.equal(item.memberCount, expected, item.name);
            assert.ok(item.createdAt instanceof Date);
          }
          cursor = body.nextCursor;
          if (!cursor) break;
        }
        assert.equal(cursor, "", "the walk ended");
        assert.equal(new Set(seen).size, seen.length, "no group twice");
        assert.deepEqual(seen, expectedOrder, `${encoding}: every group, in lower(name) order`);
        const positions = [alpha.id, bravo.id, charlie.id].map((id) => seen.indexOf(id));
        assert.ok(
          positions.every(
            (position, index) => position >= 0 && (index === 0 || position > (positions[index - 1] ?? 0)),
          ),
          "alpha, Bravo, charlie",
        );
      }
    });

    it("answers a full page with the default limit and refuses bad paging", async () => {
      for (const encoding of encodings) {
        const body = expectMessage(
          await call(encoding, "GET", "/groups", { token: studentToken }),
          encoding,
          200,
          ListGroupsResponse,
        );
        assert.ok(body.items.length > 0 && body.items.length <= 20);
        for (const query of ["?limit=0", "?limit=101", "?limit=abc"]) {
          const error = expectError(
            await call(encoding, "GET", `/groups${query}`, { token: studentToken }),
            encoding,
            400,
            "invalid_argument",
          );
          assert.deepEqual(fieldsOf(error), ["limit"], query);
        }
        const badCursor = expectError(
          await call(encoding, "GET", "/groups?cursor=not-a-cursor", { token: studentToken }),
          encoding,
          400,
          "invalid_argument",
        );
        assert.deepEqual(fieldsOf(badCursor), ["cursor"]);
        expectError(
          await call(encoding, "GET", "/groups?colour=red", { token: studentToken }),
          encoding,
          400,
          "invalid_argument",
        );
      }
    });

    it("answers 401 without a token", async () => {
      for (const encoding of encodings) {
        expectError(await call(encoding, "GET", "/groups"), encoding, 401, "unauthenticated");
      }
    });
  });

  describe("GET /groups/:id", () => {
    it("answers the group with its member count to any signed-in user", async () => {
      const group = await buildGroup();
      await buildUser({ groupId: group.id });
      for (const encoding of encodings) {
        const body = expectMessage(
          await call(encoding, "GET", `/groups/${group.id}`, { token: studentToken }),
          encoding,
          200,
          GroupMessage,
        );
        assert.equal(body.id, group.id);
        assert.equal(body.name, group.name);
        assert.equal(body.memberCount, 1);
        assert.equal(body.createdAt?.getTime(), group.createdAt.getTime());
      }
    });

    it("answers 404 for an unknown id and 400 for one that is not a uuid", async () => {
      for (const encoding of encodings) {
        expectError(
          await call(encoding, "GET", `/groups/${randomUUID()}`, { token: studentToken }),
          encoding,
          404,
          "not_found",
        );
        const error = expectError(
          await call(encoding, "GET", "/groups/not-a-uuid", { token: studentToken }),
          encoding,
          400,
          "invalid_argument",
        );
        assert.deepEqual(fieldsOf(error), ["id"]);
      }
    });
  });

  describe("POST /groups", () => {
    it("creates a group for a teacher and an admin (201), trimming the name", async () => {
      for (const encoding of encodings) {
        for (const token of [teacherToken, adminToken]) {
          const name = `Physics ${tag()}`;
          const body = expectMessage(await create(encoding, `  ${name} `, token), encoding, 201, GroupMessage);
          assert.match(body.id, uuidPattern);
          assert.equal(body.name, name);
          assert.equal(body.memberCount, 0);
          assert.ok(body.createdAt instanceof Date);
          assert.equal((await Group.findByPk(body.id))?.name, name);
        }
      }
    });

    it("answers 409 for a name taken in another case", async () => {
      for (const encoding of encodings) {
        const name = `Chemistry ${tag()}`;
        expectMessage(await create(encoding, name), encoding, 201, GroupMessage);
        expectError(await create(encoding, name.toUpperCase()), encoding, 409, "conflict");
        expectError(await create(encoding, ` ${name.toLowerCase()}`), encoding, 409, "conflict");
        assert.equal(await Group.count({ where: { name } }), 1);
      }
    });

    it("answers 400 naming the field for an empty or blank name", async () => {
      for (const encoding of encodings) {
        for (const name of ["", "   "]) {
          const error = expectError(await create(encoding, name), encoding, 400, "invalid_argument");
          assert.deepEqual(fieldsOf(error), ["name"], JSON.stringify(name));
        }
        const long = expectError(await create(encoding, "x".repeat(101)), encoding, 400, "invalid_argument");
        assert.deepEqual(fieldsOf(long), ["name"]);
      }
    });

    it("answers 403 to a student and 401 without a token", async () => {
      for (const encoding of encodings) {
        const name = `Forbidden ${tag()}`;
        expectError(await create(encoding, name, studentToken), encoding, 403, "permission_denied");
        expectError(
          await call(encoding, "POST", "/groups", { body: { codec: CreateGroupRequest, value: { name } } }),
          encoding,
          401,
          "unauthenticated",
        );
        assert.equal(await Group.count({ where: { name } }), 0);
      }
    });
  });

  describe("PATCH /groups/:id", () => {
    it("leaves an absent name as it is and renames when one is given", async () => {
      for (const encoding of encodings) {
        const group = await buildGroup();
        await buildUser({ groupId: group.id });
        const unchanged = expectMessage(await update(encoding, group.id, {}), encoding, 200, GroupMessage);
        assert.equal(unchanged.name, group.name);
        assert.equal(unchanged.memberCount, 1);
        assert.equal((await Group.findByPk(group.id))?.name, group.name);

        const renamed = `Biology ${tag()}`;
        const body = expectMessage(await update(encoding, group.id, { name: renamed }), encoding, 200, GroupMessage);
        assert.equal(body.id, group.id);
        assert.equal(body.name, renamed);
        assert.equal(body.memberCount, 1);
        assert.equal((await Group.findByPk(group.id))?.name, renamed);

        // Its own name in another case is not a clash.
        const recased = expectMessage(
          await update(encoding, group.id, { name: renamed.toUpperCase() }),
          encoding,
          200,
          GroupMessage,
        );
        assert.equal(recased.name, renamed.toUpperCase());
      }
    });

    it("answers 409 for a name another group has, 400 for a blank one, 404 for an unknown id", async () => {
      for (const encoding of encodings) {
        const taken = await buildGroup();
        const group = await buildGroup();
        expectError(await update(encoding, group.id, { name: taken.name.toLowerCase() }), encoding, 409, "conflict");
        const blank = expectError(await update(encoding, group.id, { name: " " }), encoding, 400, "invalid_argument");
        assert.deepEqual(fieldsOf(blank), ["name"]);
        assert.equal((await Group.findByPk(group.id))?.name, group.name);
        expectError(await update(encoding, randomUUID(), { name: `Nowhere ${tag()}` }), encoding, 404, "not_found");
        expectError(
          await update(encoding, group.id, { name: `Student ${tag()}` }, studentToken),
          encoding,
          403,
          "permission_denied",
        );
      }
    });
  });

  describe("DELETE /groups/:id", () => {
    it("answers 409 while the group has members, 204 once empty, then 404", async () => {
      for (const encoding of encodings) {
        const group = await buildGroup();
        const member = await buildUser({ groupId: group.id });
        const remove = (token = teacherToken) => call(encoding, "DELETE", `/groups/${group.id}`, { token });

        expectError(await remove(studentToken), encoding, 403, "permission_denied");
        expectError(await remove(), encoding, 409, "conflict");
        assert.ok(await Group.findByPk(group.id), "the group is kept");

        await User.update({ groupId: (await buildGroup()).id }, { where: { id: member.id } });
        const deleted = await remove();
        assert.equal(deleted.status, 204, deleted.body.toString("utf8"));
        assert.equal(deleted.body.length, 0);
        assert.equal(await Group.findByPk(group.id), null);

        expectError(await remove(), encoding, 404, "not_found");
        expectError(
          await call(encoding, "GET", `/groups/${group.id}`, { token: studentToken }),
          encoding,
          404,
          "not_found",
        );
      }
    });
  });
});
