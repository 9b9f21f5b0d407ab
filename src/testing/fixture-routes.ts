import { z } from "zod";
import { Error as ErrorMessage, FieldViolation } from "../../generated/shtp/v1/error.js";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { defineRoute } from "../http/route.js";
import { each, requestBody } from "../validation/rules.js";

/**
 * Routes that exist only in tests of the framework itself: they echo a message with nested and
 * repeated fields, gate on roles and sleep, so negotiation, validation and shutdown can be
 * exercised before any resource module needs them.
 */
export const echoBody = requestBody(ErrorMessage, {
  code: z.string().min(1).max(40),
  detail: z.string().max(5000),
  fieldViolations: each({ field: z.string().min(1), description: z.string().max(20) }, { max: 50 }),
});

export const echoRoute = defineRoute({
  name: "testEcho",
  method: "post",
  path: "/test/echo",
  summary: "Echoes an Error message.",
  access: "public",
  body: echoBody,
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
