import { z } from "zod";
import { Error as ErrorMessage, FieldViolation } from "../../generated/shtp/v1/error.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { defineRoute } from "../http/route.js";
import { protoRepeated, protoRequest, protoString } from "../validation/protojson.js";

/**
 * Routes that exist only in tests of the framework itself: they echo a message with nested and
 * repeated fields, gate on roles and sleep, so negotiation, validation and shutdown can be
 * exercised before any resource module needs them.
 */
export const echoSchema = protoRequest({
  code: protoString(z.string().min(1).max(40)),
  detail: protoString(z.string().max(5000)),
  fieldViolations: protoRepeated(
    protoRequest({ field: protoString(z.string().min(1)), description: protoString(z.string().max(20)) }),
    { max: 50 },
  ),
  requestId: protoString(),
});

export const echoRoute = defineRoute({
  name: "testEcho",
  method: "post",
  path: "/test/echo",
  summary: "Echoes an Error message.",
  access: "public",
  body: { message: ErrorMessage, schema: echoSchema },
  response: ErrorMessage,
  transactional: false,
  handler: async ({ body }) => body,
});

export const teacherOnlyRoute = defineRoute({
  name: "testTeacherOnly",
  method: "get",
  path: "/test/teachers",
  summary: "Answers teachers and admins only.",
  access: ["teacher", "admin"],
  response: FieldViolation,
  handler: async ({ actor }) => ({ field: actor.id, description: actor.role }),
});

export const slowRoute = defineRoute({
  name: "testSlow",
  method: "get",
  path: "/test/slow",
  summary: "Answers after `ms` milliseconds.",
  access: "public",
  query: z.strictObject({ ms: z.coerce.number().int().min(0).max(10_000) }),
  response: VersionInfo,
  handler: async ({ query }) => {
    await new Promise((resolve) => setTimeout(resolve, query.ms));
    return { name: "slow", version: String(query.ms), apiVersion: "" };
  },
});

export const fixtureRoutes = [echoRoute, teacherOnlyRoute, slowRoute];
