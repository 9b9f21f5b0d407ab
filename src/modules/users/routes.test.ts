import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import {
  CreateUserRequest,
  LeaderboardResponse,
  ListUsersResponse,
  PublicProfile,
  ResetPasswordRequest,
  Role,
  UpdateMyProfileRequest,
  UpdateUserRequest,
  User as UserMessage,
} from "../../../generated/shtp/v1/users.js";
import { verifyPassword } from "../../auth/passwords.js";
import type { Actor, RoleName } from "../../auth/roles.js";
import { AppError, type ErrorCode } from "../../errors/index.js";
import { createLogger } from "../../logging/logger.js";
import { createServices } from "../../services.js";
import {
  bothEncodings as sharedBothEncodings,
  message,
  expectMessage,
  expectError,
  expectNoContent,
  type Api,
  type Payload,
} from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, testConfig, type TestServer } from "../../testing/server.js";
import { deleteUser, updateAccount } from "./accounts.service.js";
import { User } from "./user.model.js";

let server: TestServer;

/** Hand-made forms, for what the generated codecs cannot write (an explicit zero, say). */
const handMade = (forms: { json: unknown; protobuf: Uint8Array }): Payload => ({
  bytes: (encoding) => (encoding === "json" ? JSON.stringify(forms.json) : Buffer.from(forms.protobuf)),
});

/** Declares one test per encoding, each with its own client. */
const bothEncodings = (title: string, test: (api: Api) => Promise<void>): void =>
  sharedBothEncodings(() => server.url, title, test);

/** Eight hex digits behind a letter, so that upper-casing it always changes it. */
const unique = () => `q${randomUUID().slice(0, 8)}`;
const idsOf = (items: readonly { id: string }[]) => items.map((item) => item.id);
const sorted = (values: readonly string[]) => [...values].sort();
const query = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** A user of this role with a live session. */
async function signedIn(role: RoleName): Promise<{ user: User; token: string }> {
  const user = await buildUser({ role });
  return { user, token: await tokenFor(user, server.config) };
}

/** The row as the database has it now, as a plain object to compare. */
async function rowOf(id: string): Promise<Record<string, unknown> | undefined> {
  return (await User.findByPk(id))?.get({ plain: true });
}

/** A valid creation request for a fresh account. */
function newAccount(groupId: string, overrides: Partial<CreateUserRequest> = {}): CreateUserRequest {
  const tag = unique();
  return {
    email: `new-${tag}@example.test`,
    nickName: `new_${tag}`,
    firstName: "New",
    lastName: `Person ${tag}`,
    role: Role.STUDENT,
    groupId,
    learningClass: "9B",
    password: `pw-${randomBytes(6).toString("hex")}`,
    ...overrides,
  };
}

const isAppError = (code: ErrorCode) => (error: unknown) => {
  assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
  assert.equal(error.code, code);
  return true;
};

describe("users (/users) over real HTTP", () => {
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  describe("GET /users", () => {
    bothEncodings("filters by query, case-insensitively, on first and last name, nickname and email", async (api) => {
      const { token } = await signedIn("teacher");
      const tag = unique();
      const byLastName = await buildUser();
      await byLastName.update({ lastName: `Lastx${tag}` });
      const byFirstName = await buildUser({ role: "teacher" });
      await byFirstName.update({ firstName: `Firstx${tag}` });
      const byNickName = await buildUser({ nickName: `nick_${tag}` });
      const byEmail = await buildUser({ email: `mail.${tag}@example.test` });
      await buildUser();

      const response = await api.call("GET", `/users?${query({ query: tag.toUpperCase(), limit: "100" })}`, { token });
      const page = expectMessage(api, response, ListUsersResponse);
      assert.deepEqual(sorted(idsOf(page.items)), sorted(idsOf([byLastName, byFirstName, byNickName, byEmail])));
      assert.equal(page.nextCursor, "");

      // LIKE wildcards in the query are literal: "_" matches only an underscore.
      const literal = await api.call("GET", `/users?${query({ query: `_${tag.toUpperCase()}` })}`, { token });
      assert.deepEqual(idsOf(expectMessage(api, literal, ListUsersResponse).items), [byNickName.id]);
    });

    bothEncodings("filters by groupId", async (api) => {
      const { token } = await signedIn("admin");
      const group = await buildGroup();
      const members = [await buildUser({ groupId: group.id }), await buildUser({ groupId: group.id, role: "teacher" })];
      await buildUser();
      const response = await api.call("GET", `/users?${query({ groupId: group.id })}`, { token });
      const page = expectMessage(api, response, ListUsersResponse);
      assert.deepEqual(sorted(idsOf(page.items)), sorted(idsOf(members)));
      assert.ok(page.items.every((item) => item.groupId === group.id));
    });

    bothEncodings("filters by role", async (api) => {
      const { token } = await signedIn("teacher");
      const group = await buildGroup();
      const teacher = await buildUser({ groupId: group.id, role: "teacher" });
      await buildUser({ groupId: group.id, role: "student" });
      await buildUser({ groupId: group.id, role: "admin" });

      const inGroup = await api.call("GET", `/users?${query({ groupId: group.id, role: "ROLE_TEACHER" })}`, { token });
      assert.deepEqual(idsOf(expectMessage(api, inGroup, ListUsersResponse).items), [teacher.id]);

      const everywhere = await api.call("GET", `/users?${query({ role: "ROLE_TEACHER", limit: "100" })}`, { token });
      const page = expectMessage(api, everywhere, ListUsersResponse);
      assert.ok(page.items.length > 0);
      assert.ok(page.items.every((item) => item.role === Role.TEACHER));
    });

    bothEncodings("filters by learningClass", async (api) => {
      const { token } = await signedIn("teacher");
      const learningClass = `C${randomBytes(4).toString("hex")}`;
      const inClass = [await buildUser({ learningClass }), await buildUser({ learningClass })];
      await buildUser({ learningClass: `${learningClass}x` });
      const response = await api.call("GET", `/users?${query({ learningClass })}`, { token });
      const page = expectMessage(api, response, ListUsersResponse);
      assert.deepEqual(sorted(idsOf(page.items)), sorted(idsOf(inClass)));
      assert.ok(page.items.every((item) => item.learningClass === learningClass));
    });

    bothEncodings("pages with limit=1 through every match once, in (lastName, firstName, id) order", async (api) => {
      const { token } = await signedIn("teacher");
      const group = await buildGroup();
      const names: [string, string][] = [
        ["Gamma", "Al"],
        ["Alpha", "Zed"],
        ["Beta", "Bob"],
        ["Alpha", "Amy"],
        ["Beta", "Bob"],
      ];
      const users: User[] = [];
      for (const [lastName, firstName] of names) {
        const user = await buildUser({ groupId: group.id });
        users.push(await user.update({ lastName, firstName }));
      }
      const expected = [...users]
        .sort(
          (a, b) =>
            a.lastName.localeCompare(b.lastName) ||
            a.firstName.localeCompare(b.firstName) ||
            (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        )
        .map((user) => user.id);

      const visited: string[] = [];
      let cursor = "";
      for (let pageNumber = 0; pageNumber <= names.length; pageNumber += 1) {
        const params: Record<string, string> = { groupId: group.id, limit: "1" };
        if (cursor) params.cursor = cursor;
        const page = expectMessage(api, await api.call("GET", `/users?${query(params)}`, { token }), ListUsersResponse);
        assert.equal(page.items.length, 1);
        visited.push(...idsOf(page.items));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      assert.equal(cursor, "", "the last page has no next cursor");
      assert.deepEqual(visited, expected);
    });

    bothEncodings("refuses a limit out of 1..100, a garbage cursor and unknown keys", async (api) => {
      const { token } = await signedIn("teacher");
      for (const limit of ["0", "101", "-1", "ten"]) {
        const response = await api.call("GET", `/users?${query({ limit })}`, { token });
        expectError(api, response, 400, "invalid_argument", "limit");
      }
      for (const cursor of ["not a cursor!", Buffer.from('["a",1]').toString("base64url")]) {
        const response = await api.call("GET", `/users?${query({ cursor })}`, { token });
        expectError(api, response, 400, "invalid_argument", "cursor");
      }
      const unknown = await api.call("GET", `/users?${query({ colour: "red" })}`, { token });
      expectError(api, unknown, 400, "invalid_argument", "colour");
      const badRole = await api.call("GET", `/users?${query({ role: "ROLE_KING" })}`, { token });
      expectError(api, badRole, 400, "invalid_argument", "role");
    });

    bothEncodings("is for staff: a student gets 403, nobody gets 401", async (api) => {
      const { token } = await signedIn("student");
      expectError(api, await api.call("GET", "/users", { token }), 403, "permission_denied");
      expectError(api, await api.call("GET", "/users"), 401, "unauthenticated");
    });
  });

  describe("POST /users", () => {
    bothEncodings("lets a teacher create a student, 201, with no password in the answer", async (api) => {
      const { token } = await signedIn("teacher");
      const group = await buildGroup();
      const request = newAccount(group.id, { email: `Mixed.${unique()}@Example.TEST` });
      const response = await api.call("POST", "/users", { token, body: message(CreateUserRequest, request) });
      const created = expectMessage(api, response, UserMessage, 201);
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      assert.equal(created.email, request.email.toLowerCase());
      assert.equal(created.nickName, request.nickName);
      assert.equal(created.firstName, request.firstName);
      assert.equal(created.lastName, request.lastName);
      assert.equal(created.role, Role.STUDENT);
      assert.equal(created.groupId, group.id);
      assert.equal(created.learningClass, "9B");
      assert.ok(created.createdAt instanceof Date);

      assert.ok(!response.body.includes(request.password), "the password is not echoed");
      if (api.encoding === "json") {
        const keys = Object.keys(JSON.parse(response.body.toString("utf8")) as object);
        assert.ok(!keys.some((key) => /password/i.test(key)), JSON.stringify(keys));
      }
      const row = await User.findByPk(created.id);
      assert.ok(row);
      assert.notEqual(row.passwordHash, request.password);
      assert.ok(await verifyPassword(request.password, row.passwordHash));
    });

    bothEncodings("answers 409 on an email taken in another case, naming email", async (api) => {
      const { token } = await signedIn("teacher");
      const existing = await buildUser();
      const request = newAccount(existing.groupId, { email: existing.email.toUpperCase() });
      const response = await api.call("POST", "/users", { token, body: message(CreateUserRequest, request) });
      expectError(api, response, 409, "conflict", "email");
      assert.equal(await User.count({ where: { nickName: request.nickName } }), 0);
    });

    bothEncodings("answers 409 on a nickname taken in another case, naming nickName", async (api) => {
      const { token } = await signedIn("teacher");
      const existing = await buildUser();
      const request = newAccount(existing.groupId, { nickName: existing.nickName.toUpperCase() });
      const response = await api.call("POST", "/users", { token, body: message(CreateUserRequest, request) });
      expectError(api, response, 409, "conflict", "nickName");
      assert.equal(await User.count({ where: { email: request.email } }), 0);
    });

    bothEncodings("answers 422 for an unknown group", async (api) => {
      const { token } = await signedIn("teacher");
      const request = newAccount(randomUUID());
      const response = await api.call("POST", "/users", { token, body: message(CreateUserRequest, request) });
      expectError(api, response, 422, "failed_precondition", "groupId");
      assert.equal(await User.count({ where: { email: request.email } }), 0);
    });

    bothEncodings("answers 400 for a short password, a bad email or no role", async (api) => {
      const { token } = await signedIn("teacher");
      const group = await buildGroup();
      const cases: [Payload, string][] = [
        [message(CreateUserRequest, newAccount(group.id, { password: "1234567" })), "password"],
        [message(CreateUserRequest, newAccount(group.id, { email: "not-an-email" })), "email"],
        // ROLE_UNSPECIFIED is the zero value: absent in both encodings.
        [message(CreateUserRequest, newAccount(group.id, { role: Role.UNSPECIFIED })), "role"],
      ];
      const explicit = newAccount(group.id, { role: Role.UNSPECIFIED });
      cases.push([
        handMade({
          json: { ...(CreateUserRequest.toJSON(explicit) as Record<string, unknown>), role: "ROLE_UNSPECIFIED" },
          // Field 6 (role), varint 0: present on the wire, still the zero value.
          protobuf: Buffer.concat([CreateUserRequest.encode(explicit).finish(), Buffer.from([0x30, 0x00])]),
        }),
        "role",
      ]);
      for (const [body, field] of cases) {
        const response = await api.call("POST", "/users", { token, body });
        expectError(api, response, 400, "invalid_argument", field);
      }
      assert.equal(await User.count({ where: { groupId: group.id } }), 0);
    });
  });

  describe("GET /users/:idOrNickName", () => {
    bothEncodings("shows the public profile by id or nickname, in any case, without a token or email", async (api) => {
      const tag = unique();
      const user = await buildUser({ nickName: `Pro_${tag}`, email: `profile-${tag}@example.test` });
      await user.update({ aboutText: "Hi", techStack: ["TypeScript"] });
      for (const key of [user.id, user.id.toUpperCase(), `pro_${tag}`, `PRO_${tag.toUpperCase()}`]) {
        const response = await api.call("GET", `/users/${encodeURIComponent(key)}`);
        const profile = expectMessage(api, response, PublicProfile);
        assert.equal(profile.id, user.id, key);
        assert.equal(profile.nickName, user.nickName);
        assert.equal(profile.aboutText, "Hi");
        assert.deepEqual(profile.techStack, ["TypeScript"]);
        assert.equal(profile.role, Role.STUDENT);
        assert.ok(!response.body.includes(user.email), "no email on the wire");
        if (api.encoding === "json") {
          assert.ok(!("email" in (JSON.parse(response.body.toString("utf8")) as object)));
        }
      }
    });

    bothEncodings("answers 404 for an unknown id or nickname", async (api) => {
      for (const key of [randomUUID(), `nobody_${unique()}`, "%25", "a_b"]) {
        expectError(api, await api.call("GET", `/users/${key}`), 404, "not_found");
      }
    });
  });

  describe("PATCH /users/me", () => {
    async function profiled(): Promise<{ user: User; token: string }> {
      const { user, token } = await signedIn("student");
      await user.update({
        aboutText: "Before",
        socialLinks: ["https://example.test/me"],
        techStack: ["Go", "SQL"],
      });
      return { user, token };
    }
    const patchMe = (api: Api, token: string, request: UpdateMyProfileRequest) =>
      api.call("PATCH", "/users/me", { token, body: message(UpdateMyProfileRequest, request) });

    bothEncodings("changes only the fields sent: aboutText alone leaves the rest", async (api) => {
      const { user, token } = await profiled();
      const updated = expectMessage(api, await patchMe(api, token, { aboutText: "After" }), UserMessage);
      assert.equal(updated.aboutText, "After");
      assert.equal(updated.nickName, user.nickName);
      assert.deepEqual(updated.socialLinks, ["https://example.test/me"]);
      assert.deepEqual(updated.techStack, ["Go", "SQL"]);
      const row = await User.findByPk(user.id);
      assert.equal(row?.aboutText, "After");
      assert.equal(row.nickName, user.nickName);
      assert.deepEqual(row.socialLinks, ["https://example.test/me"]);
      assert.deepEqual(row.techStack, ["Go", "SQL"]);
    });

    bothEncodings("clears a list sent present but empty, and sets a new nickname", async (api) => {
      const { user, token } = await profiled();
      const cleared = expectMessage(api, await patchMe(api, token, { socialLinks: { values: [] } }), UserMessage);
      assert.deepEqual(cleared.socialLinks, []);
      assert.deepEqual(cleared.techStack, ["Go", "SQL"]);
      assert.equal(cleared.aboutText, "Before");
      assert.deepEqual((await User.findByPk(user.id))?.socialLinks, []);

      const nickName = `Renamed_${unique()}`;
      const renamed = expectMessage(
        api,
        await patchMe(api, token, { nickName, techStack: { values: ["Rust"] } }),
        UserMessage,
      );
      assert.equal(renamed.nickName, nickName);
      assert.deepEqual(renamed.techStack, ["Rust"]);
      assert.equal((await User.findByPk(user.id))?.nickName, nickName);
    });

    bothEncodings("refuses an empty nickname (present, so a change), a reserved one and a taken one", async (api) => {
      const { user, token } = await profiled();
      const before = await rowOf(user.id);
      expectError(api, await patchMe(api, token, { nickName: "" }), 400, "invalid_argument", "nickName");
      for (const nickName of ["me", "Leaderboard", "import"]) {
        expectError(api, await patchMe(api, token, { nickName }), 400, "invalid_argument", "nickName");
      }
      const other = await buildUser();
      const taken = await patchMe(api, token, { nickName: other.nickName.toUpperCase(), aboutText: "Changed" });
      expectError(api, taken, 409, "conflict", "nickName");
      assert.deepEqual(await rowOf(user.id), before);
    });
  });

  describe("staff edits cannot escalate privileges", () => {
    bothEncodings("a teacher can create neither an admin nor a teacher", async (api) => {
      const { token } = await signedIn("teacher");
      const group = await buildGroup();
      for (const role of [Role.ADMIN, Role.TEACHER]) {
        const request = newAccount(group.id, { role, learningClass: "" });
        const response = await api.call("POST", "/users", { token, body: message(CreateUserRequest, request) });
        expectError(api, response, 403, "permission_denied");
        assert.equal(await User.count({ where: { email: request.email } }), 0);
      }
    });

    bothEncodings("a teacher can neither edit a teacher nor make a student an admin", async (api) => {
      const { token } = await signedIn("teacher");
      const teacher = await buildUser({ role: "teacher" });
      const student = await buildUser({ role: "student" });
      const teacherBefore = await rowOf(teacher.id);
      const studentBefore = await rowOf(student.id);

      const editTeacher = await api.call("PATCH", `/users/${teacher.id}`, {
        token,
        body: message(UpdateUserRequest, { firstName: "Hijacked", email: `hijack-${unique()}@example.test` }),
      });
      expectError(api, editTeacher, 403, "permission_denied");
      assert.deepEqual(await rowOf(teacher.id), teacherBefore);

      const promote = await api.call("PATCH", `/users/${student.id}`, {
        token,
        body: message(UpdateUserRequest, { role: Role.ADMIN, lastName: "Promoted" }),
      });
      expectError(api, promote, 403, "permission_denied");
      const studentAfter = await rowOf(student.id);
      assert.equal(studentAfter?.role, "student");
      assert.deepEqual(studentAfter, studentBefore);
    });

    bothEncodings("a teacher can neither reset an admin's password nor delete a teacher", async (api) => {
      const { token } = await signedIn("teacher");
      const admin = await buildUser({ role: "admin" });
      const teacher = await buildUser({ role: "teacher" });
      const adminBefore = await rowOf(admin.id);
      const teacherBefore = await rowOf(teacher.id);

      const reset = await api.call("POST", `/users/${admin.id}/password`, {
        token,
        body: message(ResetPasswordRequest, { newPassword: "attacker-chosen-1" }),
      });
      expectError(api, reset, 403, "permission_denied");
      assert.deepEqual(await rowOf(admin.id), adminBefore);

      expectError(api, await api.call("DELETE", `/users/${teacher.id}`, { token }), 403, "permission_denied");
      assert.deepEqual(await rowOf(teacher.id), teacherBefore);
    });

    bothEncodings("a student can use none of the staff routes", async (api) => {
      const { token } = await signedIn("student");
      const target = await buildUser();
      const before = await rowOf(target.id);
      const attempts = [
        api.call("PATCH", `/users/${target.id}`, { token, body: message(UpdateUserRequest, { firstName: "X" }) }),
        api.call("POST", `/users/${target.id}/password`, {
          token,
          body: message(ResetPasswordRequest, { newPassword: "student-chosen-1" }),
        }),
        api.call("DELETE", `/users/${target.id}`, { token }),
      ];
      for (const response of await Promise.all(attempts)) expectError(api, response, 403, "permission_denied");
      assert.deepEqual(await rowOf(target.id), before);
    });

    bothEncodings("answers 404 for an unknown uuid and 400 for an id that is not one", async (api) => {
      const { token } = await signedIn("teacher");
      const requests = (id: string) => [
        api.call("PATCH", `/users/${id}`, { token, body: message(UpdateUserRequest, { firstName: "X" }) }),
        api.call("POST", `/users/${id}/password`, {
          token,
          body: message(ResetPasswordRequest, { newPassword: "long-enough-1" }),
        }),
        api.call("DELETE", `/users/${id}`, { token }),
      ];
      for (const response of await Promise.all(requests(randomUUID()))) expectError(api, response, 404, "not_found");
      for (const response of await Promise.all(requests("not-a-uuid"))) {
        expectError(api, response, 400, "invalid_argument", "id");
      }
    });
  });

  describe("staff edits", () => {
    bothEncodings("a teacher edits a student's names and group", async (api) => {
      const { token } = await signedIn("teacher");
      const student = await buildUser();
      const group = await buildGroup();
      const response = await api.call("PATCH", `/users/${student.id}`, {
        token,
        body: message(UpdateUserRequest, { firstName: "Ada", lastName: "Lovelace", groupId: group.id }),
      });
      const updated = expectMessage(api, response, UserMessage);
      assert.equal(updated.firstName, "Ada");
      assert.equal(updated.lastName, "Lovelace");
      assert.equal(updated.groupId, group.id);
      assert.equal(updated.email, student.email);
      assert.equal(updated.role, Role.STUDENT);
      const row = await User.findByPk(student.id);
      assert.equal(row?.firstName, "Ada");
      assert.equal(row.lastName, "Lovelace");
      assert.equal(row.groupId, group.id);
      assert.equal(row.nickName, student.nickName);

      const missingGroup = await api.call("PATCH", `/users/${student.id}`, {
        token,
        body: message(UpdateUserRequest, { groupId: randomUUID() }),
      });
      expectError(api, missingGroup, 422, "failed_precondition", "groupId");
      assert.equal((await User.findByPk(student.id))?.groupId, group.id);
    });

    bothEncodings("an admin makes a student a teacher", async (api) => {
      const { token } = await signedIn("admin");
      const student = await buildUser();
      const response = await api.call("PATCH", `/users/${student.id}`, {
        token,
        body: message(UpdateUserRequest, { role: Role.TEACHER }),
      });
      assert.equal(expectMessage(api, response, UserMessage).role, Role.TEACHER);
      assert.equal((await User.findByPk(student.id))?.role, "teacher");
    });

    bothEncodings("an admin resets a teacher's password, which ends the teacher's sessions", async (api) => {
      const { token } = await signedIn("admin");
      const { user: teacher, token: teacherToken } = await signedIn("teacher");
      expectMessage(api, await api.call("GET", "/users?limit=1", { token: teacherToken }), ListUsersResponse);
      const newPassword = `reset-${randomBytes(6).toString("hex")}`;
      expectNoContent(
        await api.call("POST", `/users/${teacher.id}/password`, {
          token,
          body: message(ResetPasswordRequest, { newPassword }),
        }),
      );
      const row = await User.findByPk(teacher.id);
      assert.ok(row && (await verifyPassword(newPassword, row.passwordHash)));
      expectError(api, await api.call("GET", "/users?limit=1", { token: teacherToken }), 401, "unauthenticated");
    });

    bothEncodings("an admin deletes a student, whose profile is then gone", async (api) => {
      const { token } = await signedIn("admin");
      const student = await buildUser();
      expectMessage(api, await api.call("GET", `/users/${student.id}`), PublicProfile);
      expectNoContent(await api.call("DELETE", `/users/${student.id}`, { token }));
      expectError(api, await api.call("GET", `/users/${student.id}`), 404, "not_found");
      assert.equal(await User.findByPk(student.id), null);
      expectError(api, await api.call("DELETE", `/users/${student.id}`, { token }), 404, "not_found");
    });
  });

  describe("the last admin (service rule, in transactions)", () => {
    const rollback = new Error("roll back the test transaction");
    const adminActor = (user: { id: string }): Actor => ({ id: user.id, role: "admin", sessionId: randomUUID() });

    it("can be neither demoted nor deleted; with a second admin the demotion succeeds", async () => {
      const { sequelize } = testDatabase().database;
      const services = createServices({ config: testConfig(), logger: createLogger("silent"), sequelize });
      const group = await buildGroup();
      const adminsBefore = await User.count({ where: { role: "admin" } });
      let onlyAdminId = "";

      await assert.rejects(
        sequelize.transaction(async (transaction) => {
          await sequelize.query("UPDATE users SET role = 'teacher' WHERE role = 'admin'", { transaction });
          const account = (tag: string) => ({
            email: `admin-${tag}@example.test`,
            nickName: `admin_${tag}`,
            firstName: "Only",
            lastName: `Admin ${tag}`,
            role: "admin" as const,
            groupId: group.id,
            passwordHash: "unusable",
          });
          const only = await User.create(account(unique()), { transaction });
          onlyAdminId = only.id;
          assert.equal(await User.count({ where: { role: "admin" }, transaction }), 1);

          for (const role of ["teacher", "student"] as const) {
            await assert.rejects(
              updateAccount({ sequelize, transaction }, adminActor(only), only.id, { role }),
              isAppError("failed_precondition"),
            );
          }
          await assert.rejects(
            deleteUser({ sequelize, transaction }, services, adminActor(only), only.id),
            isAppError("failed_precondition"),
          );
          assert.equal((await User.findByPk(only.id, { transaction }))?.role, "admin");
          // Keeping the role is no demotion.
          const kept = await updateAccount({ sequelize, transaction }, adminActor(only), only.id, {
            role: "admin",
            firstName: "Kept",
          });
          assert.equal(kept.firstName, "Kept");

          // With a second admin the first may step down; then the second is the last one.
          const second = await User.create(account(unique()), { transaction });
          const demoted = await updateAccount({ sequelize, transaction }, adminActor(second), only.id, {
            role: "teacher",
          });
          assert.equal(demoted.role, "teacher");
          await assert.rejects(
            deleteUser({ sequelize, transaction }, services, adminActor(second), second.id),
            isAppError("failed_precondition"),
          );
          await assert.rejects(
            updateAccount({ sequelize, transaction }, adminActor(second), second.id, { role: "student" }),
            isAppError("failed_precondition"),
          );
          throw rollback;
        }),
        (error) => error === rollback,
      );

      assert.equal(await User.findByPk(onlyAdminId), null, "the transaction was rolled back");
      assert.equal(await User.count({ where: { role: "admin" } }), adminsBefore);
    });

    it("keeps one of two admins who demote each other at the same time", async () => {
      // The rule counts every admin in the table, and other tests leave admins behind. So the two
      // transactions run against a copy of the table, in a schema of their own, holding just the two.
      const { sequelize } = testDatabase().database;
      const schema = `last_admin_${randomBytes(6).toString("hex")}`;
      const first = await buildUser({ role: "admin" });
      const second = await buildUser({ role: "admin" });
      await sequelize.query(
        `CREATE SCHEMA ${schema};
         CREATE TABLE ${schema}.users (LIKE public.users INCLUDING ALL);`,
      );
      try {
        for (let round = 0; round < 10; round += 1) {
          await sequelize.query(`TRUNCATE ${schema}.users`);
          await sequelize.query(`INSERT INTO ${schema}.users SELECT * FROM public.users WHERE id IN (:ids)`, {
            replacements: { ids: [first.id, second.id] },
          });
          const demote = (actor: User, target: User) =>
            sequelize.transaction(async (transaction) => {
              await sequelize.query(`SET LOCAL search_path TO ${schema}`, { transaction });
              return updateAccount({ sequelize, transaction }, adminActor(actor), target.id, { role: "teacher" });
            });
          const outcomes = await Promise.allSettled([demote(first, second), demote(second, first)]);

          const admins = await sequelize.query<{ id: string }>(`SELECT id FROM ${schema}.users WHERE role = 'admin'`, {
            type: QueryTypes.SELECT,
          });
          assert.equal(admins.length, 1, `round ${round}: exactly one admin remains`);
          const fulfilled = outcomes.filter((outcome) => outcome.status === "fulfilled");
          const rejected = outcomes.flatMap((outcome): unknown[] =>
            outcome.status === "rejected" ? [outcome.reason] : [],
          );
          assert.equal(fulfilled.length, 1, `round ${round}: one demotion succeeds`);
          assert.equal(rejected.length, 1);
          isAppError("failed_precondition")(rejected[0]);
        }
      } finally {
        await sequelize.query(`DROP SCHEMA ${schema} CASCADE`);
      }
    });
  });

  describe("GET /users/leaderboard", () => {
    /** Each run rates its students above every earlier run's, so its own are the top of the board. */
    let ratingBase = 1_000_000_000;

    bothEncodings("ranks only students by rating, equal ratings sharing a rank, without a token", async (api) => {
      ratingBase += 1_000;
      const base = ratingBase;
      const rated = async (role: RoleName, rating: number) => (await buildUser({ role })).update({ rating });
      const top = await rated("student", base + 30);
      const tiedA = await rated("student", base + 20);
      const tiedB = await rated("student", base + 20);
      const fourth = await rated("student", base + 10);
      await rated("teacher", base + 100);
      await rated("admin", base + 90);
      const tied = sorted([tiedA.id, tiedB.id]);

      const three = expectMessage(api, await api.call("GET", "/users/leaderboard?limit=3"), LeaderboardResponse);
      assert.deepEqual(
        three.items.map((item) => [item.rank, item.user?.id, item.rating]),
        [
          [1, top.id, base + 30],
          [2, tied[0], base + 20],
          [2, tied[1], base + 20],
        ],
      );
      assert.equal(three.items[0]?.user?.nickName, top.nickName);

      const four = await api.call("GET", "/users/leaderboard?limit=4");
      const ranks = expectMessage(api, four, LeaderboardResponse).items.map((item) => [item.rank, item.user?.id]);
      assert.deepEqual(ranks.at(-1), [4, fourth.id]);
      assert.ok(!four.body.includes(top.email), "no emails on the leaderboard");
    });

    bothEncodings("refuses a limit out of 1..100", async (api) => {
      for (const limit of ["0", "101"]) {
        expectError(api, await api.call("GET", `/users/leaderboard?limit=${limit}`), 400, "invalid_argument", "limit");
      }
      expectError(api, await api.call("GET", "/users/leaderboard?page=2"), 400, "invalid_argument", "page");
    });

    it("walks users_leaderboard_idx rather than scanning the table", async () => {
      const { sequelize } = testDatabase().database;
      const group = await buildGroup();
      const rollback = new Error("roll back the bulk students");
      let plan = "";
      await assert.rejects(
        sequelize.transaction(async (transaction) => {
          // Enough students that the planner would never read the table whole; rolled back below.
          await sequelize.query(
            `INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, password_hash, rating)
             SELECT 'bulk-' || :tag || '-' || n || '@example.test', 'bulk_' || :tag || '_' || n,
                    'Bulk', 'Student ' || n, 'student', :groupId, 'unusable', n % 500
               FROM generate_series(1, 2000) AS n`,
            { replacements: { tag: unique(), groupId: group.id }, transaction },
          );
          await sequelize.query("ANALYZE users", { transaction });
          const rows = await sequelize.query<Record<string, string>>(
            "EXPLAIN SELECT id FROM users WHERE role = 'student' ORDER BY rating DESC, id LIMIT 20",
            { type: QueryTypes.SELECT, transaction },
          );
          plan = rows.map((row) => Object.values(row).join(" ")).join("\n");
          throw rollback;
        }),
        (error) => error === rollback,
      );
      assert.match(plan, /users_leaderboard_idx/, plan);
      assert.doesNotMatch(plan, /Seq Scan/, plan);
    });
  });
});
