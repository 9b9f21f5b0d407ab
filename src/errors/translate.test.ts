import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { errors as joseErrors } from "jose";
import {
  ConnectionError,
  DatabaseError,
  EmptyResultError,
  ForeignKeyConstraintError,
  UniqueConstraintError,
} from "sequelize";
import { z } from "zod";
import { issueAccessToken, verifyAccessToken } from "../auth/tokens.js";
import { createSequelize } from "../db/sequelize.js";
import { User } from "../modules/users/user.model.js";
import { buildGroup, buildUser } from "../testing/factories.js";
import { testConfig } from "../testing/server.js";
import { AppError, errorCodes, statusOf } from "./index.js";
import { toAppError } from "./translate.js";

/** Runs `action`, which must fail, and returns what it threw. */
async function thrownBy(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  assert.fail("expected the action to throw");
}

const settings = testConfig().auth;

describe("toAppError (src/errors/translate.ts)", () => {
  it("passes an AppError through untouched", () => {
    const original = new AppError("conflict", "Taken.", { fieldViolations: [{ field: "email", description: "x" }] });
    assert.equal(toAppError(original), original);
  });

  it("turns a ZodError into invalid_argument with one violation per bad field", () => {
    const schema = z.strictObject({ name: z.string().min(1), items: z.array(z.strictObject({ id: z.string() })) });
    const parsed = schema.safeParse({ name: "", items: [{ id: 1 }], extra: true });
    assert.equal(parsed.success, false);
    const error = toAppError(parsed.error);
    assert.equal(error.code, "invalid_argument");
    assert.equal(error.status, 400);
    assert.deepEqual(error.fieldViolations.map((violation) => violation.field).sort(), ["extra", "items.0.id", "name"]);
  });

  describe("tokens", () => {
    it("turns a real expired token's JWTExpired into token_expired", async () => {
      const token = await issueAccessToken({ userId: randomUUID() }, settings, new Date(Date.now() - 2 * 3600 * 1000));
      const thrown = await thrownBy(() => verifyAccessToken(token, settings));
      assert.ok(thrown instanceof joseErrors.JWTExpired);
      const error = toAppError(thrown);
      assert.equal(error.code, "token_expired");
      assert.equal(error.status, 401);
    });

    it("turns every other JOSE error into unauthenticated", async () => {
      const token = await issueAccessToken({ userId: randomUUID() }, settings);
      const failures = [
        await thrownBy(() => verifyAccessToken("not-a-token", settings)),
        await thrownBy(() => verifyAccessToken(token, { ...settings, jwtSecret: "y".repeat(40) })),
        await thrownBy(() => verifyAccessToken(token, { ...settings, audience: "elsewhere" })),
        await thrownBy(() => verifyAccessToken(token, { ...settings, issuer: "someone-else" })),
        new joseErrors.JOSEAlgNotAllowed("none"),
      ];
      for (const thrown of failures) {
        assert.ok(thrown instanceof joseErrors.JOSEError, String(thrown));
        assert.ok(!(thrown instanceof joseErrors.JWTExpired));
        const error = toAppError(thrown);
        assert.equal(error.code, "unauthenticated", String(thrown));
        assert.equal(error.status, 401);
      }
    });
  });

  describe("database errors", () => {
    it("turns a real unique violation (emails differing only in case) into conflict", async () => {
      const email = `Case-${randomUUID().slice(0, 8)}@Example.test`;
      await buildUser({ email });
      const thrown = await thrownBy(() => buildUser({ email: email.toLowerCase() }));
      assert.ok(thrown instanceof UniqueConstraintError);
      const error = toAppError(thrown);
      assert.equal(error.code, "conflict");
      assert.equal(error.status, 409);
      assert.equal(error.cause, thrown);
      // The unique index is on lower(email); the client is told about the field it sent.
      assert.deepEqual(error.fieldViolations, [{ field: "email", description: "Already taken." }]);
    });

    it("names the camelCase field of a case-insensitive nickname clash", async () => {
      const nickName = `Nick_${randomUUID().slice(0, 8)}`;
      await buildUser({ nickName });
      const thrown = await thrownBy(() => buildUser({ nickName: nickName.toUpperCase() }));
      assert.ok(thrown instanceof UniqueConstraintError);
      const error = toAppError(thrown);
      assert.equal(error.code, "conflict");
      assert.deepEqual(error.fieldViolations, [{ field: "nickName", description: "Already taken." }]);
    });

    it("turns a real unique violation of a plain column into conflict naming the camelCase field", async () => {
      const user = await buildUser();
      const thrown = await thrownBy(() => User.create({ ...userFields(), id: user.id, groupId: user.groupId }));
      assert.ok(thrown instanceof UniqueConstraintError);
      const error = toAppError(thrown);
      assert.equal(error.code, "conflict");
      assert.deepEqual(error.fieldViolations, [{ field: "id", description: "Already taken." }]);
    });

    it("names snake_case fields of a constructed UniqueConstraintError in camelCase", () => {
      const thrown = new UniqueConstraintError({ fields: { nick_name: "x" } });
      const error = toAppError(thrown);
      assert.equal(error.code, "conflict");
      assert.deepEqual(error.fieldViolations, [{ field: "nickName", description: "Already taken." }]);
    });

    it("turns a unique violation that names no field into conflict without field violations", () => {
      const error = toAppError(new UniqueConstraintError({}));
      assert.equal(error.code, "conflict");
      assert.deepEqual(error.fieldViolations, []);
    });

    it("reads a foreign key violation without pg's detail as a reference to a missing row", () => {
      const parent = Object.assign(new Error("insert or update violates foreign key constraint"), {
        sql: "INSERT INTO users",
        code: "23503",
      });
      const error = toAppError(new ForeignKeyConstraintError({ parent }));
      assert.equal(error.code, "failed_precondition");
      assert.equal(error.status, 422);
    });

    it("turns a real lookup that must find a row (rejectOnEmpty) and finds none into not_found", async () => {
      const thrown = await thrownBy(() => User.findByPk(randomUUID(), { rejectOnEmpty: true }));
      assert.ok(thrown instanceof EmptyResultError);
      const error = toAppError(thrown);
      assert.equal(error.code, "not_found");
      assert.equal(error.status, 404);
    });

    it("turns a real reference to a missing row into failed_precondition", async () => {
      const thrown = await thrownBy(() => User.create({ ...userFields(), groupId: randomUUID() }));
      assert.ok(thrown instanceof ForeignKeyConstraintError);
      const error = toAppError(thrown);
      assert.equal(error.code, "failed_precondition");
      assert.equal(error.status, 422);
    });

    it("turns a real delete of a row still referenced under ON DELETE RESTRICT into conflict", async () => {
      const group = await buildGroup();
      await buildUser({ groupId: group.id });
      const thrown = await thrownBy(() => group.destroy());
      assert.ok(thrown instanceof DatabaseError);
      const error = toAppError(thrown);
      assert.equal(error.code, "conflict");
      assert.equal(error.status, 409);
      assert.doesNotMatch(error.message, /users|Key \(/);
    });

    it("turns a NO ACTION foreign key violation on delete into conflict", () => {
      const parent = Object.assign(new Error("update or delete violates foreign key constraint"), {
        sql: "DELETE FROM groups",
        code: "23503",
        detail: 'Key (id)=(x) is still referenced from table "users".',
      });
      const error = toAppError(new ForeignKeyConstraintError({ parent }));
      assert.equal(error.code, "conflict");
      assert.equal(error.status, 409);
    });

    it("turns a real malformed uuid in a query into invalid_argument", async () => {
      const thrown = await thrownBy(() => User.findByPk("not-a-uuid"));
      const error = toAppError(thrown);
      assert.equal(error.code, "invalid_argument");
      assert.equal(error.status, 400);
      assert.doesNotMatch(error.message, /not-a-uuid|uuid/i);
    });

    it("turns database errors that mean 'not now' into unavailable, wrapped by Sequelize or not, and nothing else", () => {
      const databaseError = (message: string, code?: string) =>
        new DatabaseError(Object.assign(new Error(message), code ? { code, sql: "SELECT 1" } : { sql: "SELECT 1" }));
      const unavailable: [string, string | undefined][] = [
        ["terminating connection due to administrator command", "57P01"],
        ["the database system is starting up", "57P03"],
        ["connection failure", "08006"],
        ["sorry, too many clients already", "53300"],
        ["terminating connection due to idle-in-transaction timeout", "25P03"],
        ["Query read timeout", undefined],
        ["Connection terminated unexpectedly", undefined],
        ["Client has encountered a connection error and is not queryable", undefined],
        ["Client was closed and is not queryable", undefined],
      ];
      for (const [message, code] of unavailable) {
        const error = toAppError(databaseError(message, code));
        assert.equal(error.code, "unavailable", message);
        assert.equal(error.message, "The database is unavailable; try again shortly.");
      }
      // pg's own errors reach us unwrapped when they happen while Sequelize sets up a new connection.
      const raw = toAppError(new Error("Query read timeout"));
      assert.equal(raw.code, "unavailable");
      assert.equal(
        toAppError(Object.assign(new Error("the database system is shutting down"), { code: "57P03" })).code,
        "unavailable",
      );
      assert.equal(toAppError(Object.assign(new Error("no such file"), { code: "ENOENT" })).code, "internal");
      const slow = toAppError(databaseError("canceling statement due to statement timeout", "57014"));
      assert.equal(slow.code, "unavailable");
      assert.equal(slow.status, 503);
      assert.match(slow.message, /took too long/);
      for (const [message, code] of [
        ['relation "nothing" does not exist', "42P01"],
        ["database dropped", "57P04"],
        ["Query read timeout elsewhere", "XX000"],
        ["something else went wrong", undefined],
      ] as const) {
        assert.equal(toAppError(databaseError(message, code)).code, "internal", message);
      }
    });

    it("turns a ConnectionError, constructed or real, into unavailable", async () => {
      const constructed = toAppError(new ConnectionError(new Error("connect ECONNREFUSED 10.0.0.1:5432")));
      assert.equal(constructed.code, "unavailable");
      assert.equal(constructed.status, 503);
      assert.doesNotMatch(constructed.message, /ECONNREFUSED|10\.0\.0\.1/);

      // Port 1 on loopback: nothing listens there, so the connection is refused at once.
      const unreachable = createSequelize("postgres://nobody:nothing@127.0.0.1:1/none", {
        ...testConfig().database,
        poolMax: 1,
      });
      try {
        const thrown = await thrownBy(() => unreachable.authenticate());
        assert.ok(thrown instanceof ConnectionError, String(thrown));
        assert.equal(toAppError(thrown).code, "unavailable");
      } finally {
        await unreachable.close();
      }
    });
  });

  it("hides an unknown error behind internal, keeping it as the cause for the log", () => {
    const original = new Error("secret text");
    const error = toAppError(original);
    assert.equal(error.code, "internal");
    assert.equal(error.status, 500);
    assert.ok(!error.message.includes("secret text"));
    assert.deepEqual(error.fieldViolations, []);
    assert.equal(error.cause, original);
  });

  it("turns thrown non-errors into internal", () => {
    for (const thrown of ["secret text", undefined, null, 42, { message: "secret text" }]) {
      const error = toAppError(thrown);
      assert.equal(error.code, "internal", JSON.stringify(thrown) ?? "undefined");
      assert.ok(!error.message.includes("secret text"));
    }
  });

  it("maps HTTP errors by status or statusCode (router and body parser errors)", () => {
    const cases: [object, string, number][] = [
      [{ status: 404 }, "not_found", 404],
      [{ status: 405 }, "method_not_allowed", 405],
      [{ status: 413 }, "payload_too_large", 413],
      [{ statusCode: 413 }, "payload_too_large", 413],
      [Object.assign(new Error("request entity too large"), { status: 413 }), "payload_too_large", 413],
      [{ status: 415 }, "unsupported_media_type", 415],
      [{ status: 400 }, "invalid_argument", 400],
      [{ status: 418 }, "internal", 500],
      [{ status: "404" }, "internal", 500],
    ];
    for (const [thrown, code, status] of cases) {
      const error = toAppError(thrown);
      assert.equal(error.code, code, JSON.stringify(thrown));
      assert.equal(error.status, status, JSON.stringify(thrown));
    }
  });
});

describe("statusOf (src/errors/index.ts)", () => {
  it("gives every code a client or server error status, and AppError agrees", () => {
    assert.ok(errorCodes.length > 0);
    for (const code of errorCodes) {
      const status = statusOf(code);
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
      assert.equal(new AppError(code, "x").status, status);
    }
  });

  it("matches the statuses the README lists for each code", () => {
    const expected: Record<string, number> = {
      invalid_argument: 400,
      unauthenticated: 401,
      token_expired: 401,
      permission_denied: 403,
      not_found: 404,
      conflict: 409,
      payload_too_large: 413,
      unsupported_media_type: 415,
      not_acceptable: 406,
      rate_limited: 429,
      unavailable: 503,
      internal: 500,
    };
    for (const code of Object.keys(expected)) {
      assert.ok((errorCodes as readonly string[]).includes(code), code);
    }
    for (const code of errorCodes) {
      if (code in expected) assert.equal(statusOf(code), expected[code], code);
    }
    assert.equal(statusOf("failed_precondition"), 422);
    assert.equal(statusOf("method_not_allowed"), 405);
  });
});

/** The columns of a user with unique email and nickname, but no group. */
function userFields() {
  const tag = randomUUID().slice(0, 8);
  return {
    email: `translate-${tag}@example.test`,
    nickName: `translate_${tag}`,
    firstName: "Trans",
    lastName: "Late",
    role: "student" as const,
    passwordHash: "unusable",
  };
}
