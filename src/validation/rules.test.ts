import assert from "node:assert/strict";
import { z } from "zod";
import { CreateEventRequest, UpdateEventRequest } from "../../generated/shtp/v1/events.js";
import { SendMessageRequest } from "../../generated/shtp/v1/notifications.js";
import { CreateUserRequest, UpdateMyProfileRequest } from "../../generated/shtp/v1/users.js";
import { AppError } from "../errors/index.js";
import { buildApiRouter } from "../http/router.js";
import { defineRoute } from "../http/route.js";
import { routes } from "../modules/index.js";
import { createLogger } from "../logging/logger.js";
import { createServices } from "../services.js";
import { testDatabase } from "../testing/database.js";
import { testConfig } from "../testing/server.js";
import { each, compileRequestBody, required, requestBody, type FieldRules, type RequestBody } from "./rules.js";

/** Parses `json` with `body`'s rules; returns the message or the violated field paths. */
function run<T>(body: RequestBody<T>, json: Record<string, unknown>): { message?: T; fields?: string[] } {
  try {
    return { message: compileRequestBody(body)(json) };
  } catch (error) {
    assert.ok(error instanceof AppError && error.code === "invalid_argument", String(error));
    return { fields: error.fieldViolations.map((violation) => violation.field) };
  }
}

describe("business rules over derived request shapes (src/validation/rules.ts)", () => {
  it("every declared route's rules name real fields of its message", () => {
    const withBodies = routes.filter((route) => route.body);
    assert.ok(withBodies.length > 10, `only ${withBodies.length} routes with a body`);
    for (const route of withBodies) {
      if (route.body) assert.doesNotThrow(() => compileRequestBody(route.body as RequestBody<unknown>), route.name);
    }
  });

  it("a rule naming a field the message lacks fails when compiled, and so when the router is built at boot", () => {
    // The cast stands for a field removed from the proto while its rule stayed behind.
    const stale = { nickName: z.string(), nickname: z.string() } as FieldRules<CreateUserRequest>;
    const body = requestBody(CreateUserRequest, stale);
    assert.throws(() => compileRequestBody(body), /rule names "nickname", which shtp\.v1\.CreateUserRequest does not/);
    const nested = requestBody(UpdateMyProfileRequest, {
      socialLinks: { value: each() },
    });
    assert.throws(() => compileRequestBody(nested), /socialLinks: a rule names "value"/);
    const route = defineRoute({
      name: "staleRule",
      method: "post",
      path: "/stale",
      summary: "A route whose rule outlived its field.",
      access: "public",
      body,
      transactional: false,
      handler: async () => undefined,
    });
    const services = createServices({
      config: testConfig(),
      logger: createLogger("silent"),
      sequelize: testDatabase().database.sequelize,
    });
    assert.throws(() => buildApiRouter([route], services), /nickname/);
  });

  it("nested rules on a field that is not a message fail when compiled, under required and each too", () => {
    for (const rule of [{ first: z.string() }, required({ first: z.string() }), each({ first: z.string() })]) {
      const body = requestBody(CreateUserRequest, { firstName: rule });
      assert.throws(
        () => compileRequestBody(body),
        /shtp\.v1\.CreateUserRequest\.firstName: nested rules need a message field/,
      );
    }
  });

  it("`each` on a field that is not repeated fails when compiled, under required too", () => {
    for (const rule of [each(z.string()), required(each(z.string()))]) {
      const body = requestBody(CreateUserRequest, { firstName: rule });
      assert.throws(
        () => compileRequestBody(body),
        /shtp\.v1\.CreateUserRequest\.firstName: `each` needs a repeated field/,
      );
    }
  });

  it("checks implicit-presence fields at their default, so a required string refuses absent, null and empty", () => {
    const body = requestBody(CreateUserRequest, { firstName: z.string().trim().min(1) });
    for (const json of [{}, { firstName: null }, { firstName: "" }, { firstName: "   " }]) {
      assert.deepEqual(run(body, json).fields, ["firstName"], JSON.stringify(json));
    }
    assert.equal(run(body, { firstName: "  Ada " }).message?.firstName, "Ada", "the rule's output is kept");
  });

  it("checks explicit-presence fields only when set, unless required", () => {
    const optional = requestBody(UpdateEventRequest, { title: z.string().min(1) });
    assert.equal(run(optional, {}).message?.title, undefined);
    assert.deepEqual(run(optional, { title: "" }).fields, ["title"]);
    const needed = requestBody(CreateEventRequest, { startsAt: required(), endsAt: required() });
    assert.deepEqual(run(needed, { startsAt: "2026-12-01T10:00:00Z" }).fields, ["endsAt"]);
  });

  it("checks lists' lengths and items, and nested messages' fields, with full paths", () => {
    const body = requestBody(UpdateMyProfileRequest, {
      socialLinks: { values: each(z.url(), { max: 2 }) },
      techStack: { values: each(z.string().min(2)) },
    });
    assert.deepEqual(run(body, { socialLinks: { values: ["https://a.example", "no"] } }).fields, [
      "socialLinks.values.1",
    ]);
    assert.deepEqual(
      run(body, { socialLinks: { values: ["https://a.example", "https://b.example", "https://c.example"] } }).fields,
      ["socialLinks.values"],
    );
    assert.deepEqual(run(body, { techStack: { values: ["ok", "x", "y"] } }).fields, [
      "techStack.values.1",
      "techStack.values.2",
    ]);
  });

  it("checks a oneof's member when it is the one set, and blames an unset required oneof on its first member", () => {
    const body = requestBody(SendMessageRequest, {
      audience: required(),
      userId: z.uuid(),
      learningClass: z.string().trim(),
    });
    assert.deepEqual(run(body, {}).fields, ["userId"]);
    assert.deepEqual(run(body, { userId: "not-a-uuid" }).fields, ["userId"]);
    assert.deepEqual(run(body, { learning_class: " 10A " }).message?.audience, {
      $case: "learningClass",
      value: "10A",
    });
  });

  it("runs cross-field rules once every field rule holds, on typed values", () => {
    const seen: Date[] = [];
    const body = requestBody(CreateEventRequest, { title: z.string().min(1) }, (event, report) => {
      if (event.startsAt) seen.push(event.startsAt);
      report("endsAt", "Always wrong here.");
    });
    assert.deepEqual(run(body, { startsAt: "2026-12-01T10:00:00+03:00" }).fields, ["title"]);
    assert.equal(seen.length, 0);
    assert.deepEqual(run(body, { title: "t", startsAt: "2026-12-01T10:00:00+03:00" }).fields, ["endsAt"]);
    assert.deepEqual(seen, [new Date("2026-12-01T07:00:00Z")]);
  });
});
