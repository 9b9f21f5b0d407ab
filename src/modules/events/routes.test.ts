import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import {
  CreateEventRequest,
  Event as EventMessage,
  ListEventRegistrationsResponse,
  ListEventsResponse,
  MarkAttendanceRequest,
  MarkAttendanceResponse,
  UpdateEventRequest,
} from "../../../generated/shtp/v1/events.js";
import type { Error as ErrorMessage } from "../../../generated/shtp/v1/error.js";
import { Medal } from "../../../generated/shtp/v1/medals.js";
import { ListNotificationsResponse, NotificationType } from "../../../generated/shtp/v1/notifications.js";
import { PublicProfile } from "../../../generated/shtp/v1/users.js";
import type { RoleName } from "../../auth/roles.js";
import {
  countStatements,
  encodingClients,
  encodings,
  expectError,
  expectMessage,
  expectNoContent,
  message,
  rawJson,
  type Api,
} from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildGroupOfStudents, buildUser, tokenFor } from "../../testing/factories.js";
import type { RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { untilWaitingForLock } from "../../testing/wait.js";
import type { User } from "../users/user.model.js";
import { listScope } from "./policy.js";
import { eventsPageStatement } from "./queries.js";

/** The events endpoints over real HTTP, each case in JSON and in protobuf. */

let server: TestServer;
const { apiFor, bothEncodings } = encodingClients(() => server);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const unique = () => randomUUID().slice(0, 8);
const fromNow = (ms: number) => new Date(Date.now() + ms);
const sql = () => testDatabase().database.sequelize;

interface Caller {
  user: User;
  token: string;
}

async function signedIn(role: RoleName, overrides: { groupId?: string; learningClass?: string } = {}): Promise<Caller> {
  const user = await buildUser({ role, ...overrides });
  return { user, token: await tokenFor(user, server.config) };
}

async function countRows(query: string, replacements: Record<string, unknown> = {}): Promise<number> {
  const [row] = await sql().query<{ count: string }>(query, { replacements, type: QueryTypes.SELECT });
  return Number(row?.count ?? 0);
}

/** What this file reads of an EXPLAIN (ANALYZE, FORMAT JSON) plan node. */
interface PlanNode {
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  Plans?: PlanNode[];
}

/** A valid event two days ahead, open to everyone, unlimited; `overrides` change it. */
const eventRequest = (overrides: Partial<CreateEventRequest> = {}): CreateEventRequest => ({
  title: `Event ${unique()}`,
  description: "A school event",
  location: "Hall 1",
  startsAt: fromNow(2 * DAY),
  endsAt: fromNow(2 * DAY + 2 * HOUR),
  capacity: 0,
  registrationDeadline: fromNow(DAY),
  audience: undefined,
  ...overrides,
});

const audience = (groupIds: string[] = [], learningClasses: string[] = []) => ({ groupIds, learningClasses });

async function create(api: Api, token: string, overrides: Partial<CreateEventRequest> = {}): Promise<EventMessage> {
  const response = await api.call("POST", "/events", {
    token,
    body: message(CreateEventRequest, eventRequest(overrides)),
  });
  return expectMessage(api, response, EventMessage, 201);
}

const register = (api: Api, caller: Caller, eventId: string) =>
  api.call("POST", `/events/${eventId}/registration`, { token: caller.token });

const patch = (api: Api, token: string, eventId: string, changes: UpdateEventRequest) =>
  api.call("PATCH", `/events/${eventId}`, { token, body: message(UpdateEventRequest, changes) });

/** Moves an event into the past (it started two hours ago and ended an hour ago), as time would. */
const moveIntoPast = (eventId: string) =>
  sql().query(
    `UPDATE events SET registration_deadline = now() - interval '3 hours', starts_at = now() - interval '2 hours',
            ends_at = now() - interval '1 hour' WHERE id = :eventId`,
    { replacements: { eventId } },
  );

const notificationsOf = (userId: string, type: string) =>
  countRows("SELECT count(*) AS count FROM notifications WHERE user_id = :userId AND type = :type", { userId, type });

const eventCreatedFor = (userId: string, eventId: string) =>
  countRows(
    `SELECT count(*) AS count FROM notifications
      WHERE user_id = :userId AND type = 'event_created' AND payload->>'eventId' = :eventId`,
    { userId, eventId },
  );

async function listIds(api: Api, caller: Caller, query = ""): Promise<string[]> {
  const response = await api.call("GET", `/events?limit=100${query}`, { token: caller.token });
  return expectMessage(api, response, ListEventsResponse).items.map((item) => item.id);
}

/**
 * Sends one create body in JSON and in protobuf and checks both refusals are the same error.
 * @returns the JSON one
 */
async function sameRefusalInBothEncodings(
  token: string,
  body: CreateEventRequest,
  expected: { status: number; code: "invalid_argument" | "failed_precondition"; field: string },
): Promise<ErrorMessage> {
  const errors: ErrorMessage[] = [];
  for (const encoding of encodings) {
    const api = apiFor(encoding);
    const response = await api.call("POST", "/events", { token, body: message(CreateEventRequest, body) });
    errors.push({ ...expectError(api, response, expected.status, expected.code, expected.field), requestId: "" });
  }
  assert.deepEqual(errors[0], errors[1], "the same error in JSON and protobuf");
  return errors[0]!;
}

describe("events routes", function () {
  this.timeout(120_000);
  let teacher: Caller;
  let otherTeacher: Caller;
  let admin: Caller;

  before(async () => {
    server = await startTestServer();
    teacher = await signedIn("teacher");
    otherTeacher = await signedIn("teacher");
    admin = await signedIn("admin");
  });
  after(async () => server?.close());

  describe("create, read, update, delete", () => {
    bothEncodings(
      "teacher creates (201), everyone in the audience reads it, PATCH keeps absent fields",
      async (api) => {
        const group = await buildGroup();
        const student = await signedIn("student", { groupId: group.id });
        const request = eventRequest({ capacity: 10, audience: audience([group.id], ["10A"]) });
        const created = expectMessage(
          api,
          await api.call("POST", "/events", { token: teacher.token, body: message(CreateEventRequest, request) }),
          EventMessage,
          201,
        );
        assert.equal(created.title, request.title);
        assert.equal(created.location, "Hall 1");
        assert.equal(created.startsAt?.getTime(), request.startsAt?.getTime());
        assert.equal(created.registrationDeadline?.getTime(), request.registrationDeadline?.getTime());
        assert.deepEqual(created.audience, audience([group.id], ["10A"]));
        assert.equal(created.capacity, 10);
        assert.equal(created.authorId, teacher.user.id);
        assert.equal(created.registeredCount, 0);
        assert.equal(created.registered, false);

        const read = expectMessage(
          api,
          await api.call("GET", `/events/${created.id}`, { token: student.token }),
          EventMessage,
        );
        assert.deepEqual({ ...read, updatedAt: undefined }, { ...created, updatedAt: undefined });

        const renamed = expectMessage(
          api,
          await patch(api, teacher.token, created.id, { title: "Renamed" }),
          EventMessage,
        );
        assert.equal(renamed.title, "Renamed");
        assert.equal(renamed.capacity, 10, "absent capacity is kept");
        assert.equal(renamed.description, "A school event", "absent description is kept");
        assert.deepEqual(renamed.audience, audience([group.id], ["10A"]), "absent audience is kept");

        // Presence: capacity 0 and an empty description and audience are values, not "absent".
        const cleared = expectMessage(
          api,
          await patch(api, teacher.token, created.id, { capacity: 0, description: "", audience: audience() }),
          EventMessage,
        );
        assert.equal(cleared.capacity, 0);
        assert.equal(cleared.description, "");
        assert.deepEqual(cleared.audience, audience(), "a present empty audience means everyone");
        assert.equal(cleared.title, "Renamed");

        const deadline = fromNow(DAY + HOUR);
        const moved = expectMessage(
          api,
          await patch(api, teacher.token, created.id, { registrationDeadline: deadline }),
          EventMessage,
        );
        assert.equal(moved.registrationDeadline?.getTime(), deadline.getTime());
      },
    );

    bothEncodings("an event outlives its author's account, and reads without an author", async (api) => {
      const author = await signedIn("teacher");
      const created = await create(api, author.token);
      assert.equal(created.authorId, author.user.id);
      await sql().query("DELETE FROM users WHERE id = :id", { replacements: { id: author.user.id } });
      const read = expectMessage(
        api,
        await api.call("GET", `/events/${created.id}`, { token: teacher.token }),
        EventMessage,
      );
      assert.equal(read.authorId, "");
      assert.equal(read.title, created.title);
    });

    bothEncodings("the deadline defaults to the start; an absent audience is everyone", async (api) => {
      const created = await create(api, teacher.token, { registrationDeadline: undefined, audience: undefined });
      assert.equal(created.registrationDeadline?.getTime(), created.startsAt?.getTime());
      assert.deepEqual(created.audience, audience());
    });

    bothEncodings(
      "only the author or an admin edits and deletes (403 for another teacher and students)",
      async (api) => {
        const event = await create(api, teacher.token);
        const student = await signedIn("student");
        expectError(
          api,
          await patch(api, otherTeacher.token, event.id, { title: "Mine now" }),
          403,
          "permission_denied",
        );
        expectError(api, await patch(api, student.token, event.id, { title: "Mine now" }), 403, "permission_denied");
        const byOther = await api.call("DELETE", `/events/${event.id}`, { token: otherTeacher.token });
        expectError(api, byOther, 403, "permission_denied");
        expectError(
          api,
          await api.call("POST", "/events", {
            token: student.token,
            body: message(CreateEventRequest, eventRequest()),
          }),
          403,
          "permission_denied",
        );

        const byAdmin = expectMessage(
          api,
          await patch(api, admin.token, event.id, { title: "By admin" }),
          EventMessage,
        );
        assert.equal(byAdmin.title, "By admin");
        assert.equal(byAdmin.authorId, teacher.user.id, "the author stays");

        expectNoContent(await api.call("DELETE", `/events/${event.id}`, { token: teacher.token }));
        expectError(api, await api.call("GET", `/events/${event.id}`, { token: teacher.token }), 404, "not_found");
        expectError(api, await patch(api, teacher.token, event.id, { title: "x" }), 404, "not_found");
        const adminsOwn = await create(api, admin.token);
        expectNoContent(await api.call("DELETE", `/events/${adminsOwn.id}`, { token: admin.token }));
        expectError(api, await api.call("GET", `/events/${randomUUID()}`, { token: admin.token }), 404, "not_found");
      },
    );
  });

  describe("validation", () => {
    const bad: { name: string; body: () => Partial<CreateEventRequest>; status: number; field: string }[] = [
      {
        name: "end before start",
        body: () => ({ startsAt: fromNow(2 * DAY), endsAt: fromNow(DAY) }),
        status: 400,
        field: "endsAt",
      },
      {
        name: "end equal to start",
        body: () => {
          const at = fromNow(2 * DAY);
          return { startsAt: at, endsAt: at, registrationDeadline: undefined };
        },
        status: 400,
        field: "endsAt",
      },
      {
        name: "deadline after start",
        body: () => ({ registrationDeadline: fromNow(3 * DAY) }),
        status: 400,
        field: "registrationDeadline",
      },
      { name: "negative capacity", body: () => ({ capacity: -1 }), status: 400, field: "capacity" },
      { name: "no start", body: () => ({ startsAt: undefined }), status: 400, field: "startsAt" },
      { name: "an empty title", body: () => ({ title: "  " }), status: 400, field: "title" },
      {
        name: "a malformed group id",
        body: () => ({ audience: audience(["not-a-uuid"]) }),
        status: 400,
        field: "audience.groupIds.0",
      },
      {
        name: "an empty learning class",
        body: () => ({ audience: audience([], ["10A", " "]) }),
        status: 400,
        field: "audience.learningClasses.1",
      },
    ];

    for (const entry of bad) {
      it(`${entry.name} → ${entry.status} on ${entry.field}, the same error in JSON and protobuf`, async () => {
        await sameRefusalInBothEncodings(teacher.token, eventRequest(entry.body()), {
          status: entry.status,
          code: "invalid_argument",
          field: entry.field,
        });
      });
    }

    it("an unknown group id → 422 on audience.groupIds.<index>, the same in JSON and protobuf, nothing created", async () => {
      const known = await buildGroup();
      const title = `Unknown group ${unique()}`;
      const error = await sameRefusalInBothEncodings(
        teacher.token,
        eventRequest({ title, audience: audience([known.id, randomUUID()]) }),
        { status: 422, code: "failed_precondition", field: "audience.groupIds.1" },
      );
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        ["audience.groupIds.1"],
      );
      assert.equal(await countRows("SELECT count(*) AS count FROM events WHERE title = :title", { title }), 0);
    });

    it("an unknown JSON key and capacity as a decimal string (ProtoJSON int32)", async () => {
      const api = apiFor("json");
      const json = CreateEventRequest.toJSON(eventRequest()) as Record<string, unknown>;
      expectError(
        api,
        await api.call("POST", "/events", { token: teacher.token, body: rawJson({ ...json, colour: "red" }) }),
        400,
        "invalid_argument",
        "colour",
      );
      const created = expectMessage(
        api,
        await api.call("POST", "/events", { token: teacher.token, body: rawJson({ ...json, capacity: "7" }) }),
        EventMessage,
        201,
      );
      assert.equal(created.capacity, 7);
    });

    bothEncodings("PATCH checks the merged times and the capacity against the registrations", async (api) => {
      const student = await signedIn("student");
      const event = await create(api, teacher.token, { capacity: 3 });
      expectError(
        api,
        await patch(api, teacher.token, event.id, { endsAt: fromNow(DAY) }),
        400,
        "invalid_argument",
        "endsAt",
      );
      expectError(
        api,
        await patch(api, teacher.token, event.id, { startsAt: fromNow(5 * DAY) }),
        400,
        "invalid_argument",
        "startsAt",
      );
      expectError(
        api,
        await patch(api, teacher.token, event.id, { registrationDeadline: fromNow(4 * DAY) }),
        400,
        "invalid_argument",
        "registrationDeadline",
      );
      expectError(
        api,
        await patch(api, teacher.token, event.id, { capacity: -2 }),
        400,
        "invalid_argument",
        "capacity",
      );
      expectError(
        api,
        await patch(api, teacher.token, event.id, { audience: audience([randomUUID()]) }),
        422,
        "failed_precondition",
        "audience.groupIds.0",
      );
      expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      const other = await signedIn("student");
      expectMessage(api, await register(api, other, event.id), EventMessage, 201);
      expectError(
        api,
        await patch(api, teacher.token, event.id, { capacity: 1 }),
        422,
        "failed_precondition",
        "capacity",
      );
      const exact = expectMessage(api, await patch(api, teacher.token, event.id, { capacity: 2 }), EventMessage);
      assert.equal(exact.capacity, 2);
      assert.equal(exact.registeredCount, 2);
    });
  });

  describe("audience and visibility", () => {
    bothEncodings(
      "a student of another group and class neither sees, registers nor is notified; the audience is",
      async (api) => {
        const group = await buildGroup();
        const learningClass = `c${unique()}`;
        const byGroup = await signedIn("student", { groupId: group.id });
        const byClass = await signedIn("student", { learningClass });
        const outsider = await signedIn("student", { learningClass: `o${unique()}` });
        const event = await create(api, teacher.token, { audience: audience([group.id], [learningClass]) });

        for (const insider of [byGroup, byClass]) {
          assert.equal(await eventCreatedFor(insider.user.id, event.id), 1);
          assert.ok((await listIds(api, insider)).includes(event.id));
          const read = await api.call("GET", `/events/${event.id}`, { token: insider.token });
          assert.equal(expectMessage(api, read, EventMessage).id, event.id);
        }
        const listed = expectMessage(
          api,
          await api.call("GET", "/notifications?limit=10", { token: byGroup.token }),
          ListNotificationsResponse,
        );
        const told = listed.items.find(
          (item) => item.payload?.$case === "eventCreated" && item.payload.value.eventId === event.id,
        );
        assert.equal(told?.type, NotificationType.EVENT_CREATED);
        assert.deepEqual(told.payload?.$case === "eventCreated" ? told.payload.value : undefined, {
          eventId: event.id,
          title: event.title,
          startsAt: event.startsAt,
        });
        assert.equal(await eventCreatedFor(outsider.user.id, event.id), 0, "no notification outside the audience");
        assert.equal(await eventCreatedFor(teacher.user.id, event.id), 0, "staff are not the audience");
        assert.ok(!(await listIds(api, outsider)).includes(event.id));
        expectError(api, await api.call("GET", `/events/${event.id}`, { token: outsider.token }), 404, "not_found");
        expectError(api, await register(api, outsider, event.id), 404, "not_found");
        assert.ok((await listIds(api, otherTeacher)).includes(event.id), "staff see every event");
      },
    );

    bothEncodings("an everyone-event reaches every student, once each, and no staff", async (api) => {
      const event = await create(api, teacher.token, { audience: audience() });
      const students = await countRows("SELECT count(*) AS count FROM users WHERE role = 'student'");
      const notified = await countRows(
        `SELECT count(DISTINCT n.user_id) AS count FROM notifications n JOIN users u ON u.id = n.user_id
          WHERE n.type = 'event_created' AND n.payload->>'eventId' = :id AND u.role = 'student'`,
        { id: event.id },
      );
      const rows = await countRows(
        "SELECT count(*) AS count FROM notifications WHERE type = 'event_created' AND payload->>'eventId' = :id",
        { id: event.id },
      );
      assert.equal(notified, students);
      assert.equal(rows, students, "one each, staff none");
      const someone = await signedIn("student");
      assert.ok((await listIds(api, someone)).includes(event.id), "a student created later sees it too");
    });

    bothEncodings("a registered student keeps seeing the event after the audience moves away", async (api) => {
      const group = await buildGroup();
      const student = await signedIn("student", { groupId: group.id });
      const event = await create(api, teacher.token, { audience: audience([group.id]) });
      expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      expectMessage(
        api,
        await patch(api, teacher.token, event.id, { audience: audience([], ["elsewhere"]) }),
        EventMessage,
      );
      const read = expectMessage(
        api,
        await api.call("GET", `/events/${event.id}`, { token: student.token }),
        EventMessage,
      );
      assert.equal(read.registered, true);
      assert.ok((await listIds(api, student)).includes(event.id));
      assert.deepEqual(await listIds(api, student, "&mine=true"), [event.id]);
    });
  });

  describe("listing", () => {
    bothEncodings("a student's list follows the audience and the start an event is moved to", async (api) => {
      const [first, second] = [await buildGroup(), await buildGroup()];
      const [inFirst, inSecond] = [
        await signedIn("student", { groupId: first.id }),
        await signedIn("student", { groupId: second.id }),
      ];
      // A window of its own, far ahead, so events of other tests never fall inside it.
      const base = Date.UTC(2095, 0, 1) + Math.floor(Math.random() * 1000) * DAY;
      const window = (day: number) =>
        `&from=${new Date(base + day * DAY).toISOString()}&to=${new Date(base + (day + 1) * DAY).toISOString()}`;
      const event = await create(api, teacher.token, {
        startsAt: new Date(base),
        endsAt: new Date(base + HOUR),
        registrationDeadline: undefined,
        audience: audience([first.id]),
      });
      assert.deepEqual(await listIds(api, inFirst, window(0)), [event.id]);
      assert.deepEqual(await listIds(api, inSecond, window(0)), []);

      await patch(api, teacher.token, event.id, { audience: audience([second.id]) });
      assert.deepEqual(await listIds(api, inFirst, window(0)), []);
      assert.deepEqual(await listIds(api, inSecond, window(0)), [event.id]);

      const moved = { startsAt: new Date(base + 3 * DAY), endsAt: new Date(base + 3 * DAY + HOUR) };
      expectMessage(api, await patch(api, teacher.token, event.id, moved), EventMessage);
      assert.deepEqual(await listIds(api, inSecond, window(0)), []);
      assert.deepEqual(await listIds(api, inSecond, window(3)), [event.id]);

      expectNoContent(await api.call("DELETE", `/events/${event.id}`, { token: teacher.token }));
      assert.deepEqual(await listIds(api, inSecond, window(3)), []);
    });

    bothEncodings("a student's registered events follow the start their event is moved to", async (api) => {
      const [group, elsewhere] = [await buildGroup(), await buildGroup()];
      const student = await signedIn("student", { groupId: group.id });
      // A window of its own, far ahead, so events of other tests never fall inside it.
      const base = Date.UTC(2097, 0, 1) + Math.floor(Math.random() * 1000) * DAY;
      const at = (day: number) => new Date(base + day * DAY);
      const window = (from: number, to: number) => `&from=${at(from).toISOString()}&to=${at(to).toISOString()}`;
      const [first, second] = [
        await create(api, teacher.token, { startsAt: at(1), endsAt: at(1.5), audience: audience([group.id]) }),
        await create(api, teacher.token, { startsAt: at(2), endsAt: at(2.5), audience: audience([group.id]) }),
      ];
      for (const event of [first, second]) {
        await sql().query("UPDATE events SET registration_deadline = starts_at WHERE id = :id", {
          replacements: { id: event.id },
        });
        expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      }
      assert.deepEqual(await listIds(api, student, `${window(0, 10)}&mine=true`), [first.id, second.id]);

      // Moved past the second, and out of the student's audience: the registration alone keeps it listed.
      const moved = { startsAt: at(3), endsAt: at(3.5), audience: audience([elsewhere.id]) };
      expectMessage(api, await patch(api, teacher.token, first.id, moved), EventMessage);
      assert.deepEqual(await listIds(api, student, `${window(0, 10)}&mine=true`), [second.id, first.id]);
      assert.deepEqual(await listIds(api, student, window(0, 10)), [second.id, first.id]);
      assert.deepEqual(await listIds(api, student, `${window(0, 2.5)}&mine=true`), [second.id]);
      assert.deepEqual(await listIds(api, student, `${window(2.5, 10)}&mine=true`), [first.id]);

      const visited: string[] = [];
      let cursor = "";
      do {
        const response = await api.call(
          "GET",
          `/events?limit=1&mine=true${window(0, 10)}${cursor ? `&cursor=${cursor}` : ""}`,
          { token: student.token },
        );
        const body = expectMessage(api, response, ListEventsResponse);
        visited.push(...body.items.map((item) => item.id));
        cursor = body.nextCursor;
      } while (cursor && visited.length < 5);
      assert.deepEqual(visited, [second.id, first.id], "keyset pages over the moved start");
    });

    bothEncodings("filters by start window and mine, in start order, keyset-paged without repeats", async (api) => {
      // A window of its own, far ahead, so events of other tests never fall inside it.
      const base = Date.UTC(2090, 0, 1) + Math.floor(Math.random() * 1000) * DAY;
      const at = (hours: number) => new Date(base + hours * HOUR);
      const student = await signedIn("student");
      const made: EventMessage[] = [];
      for (const hours of [5, 1, 3, 3, 8]) {
        made.push(
          await create(api, teacher.token, {
            startsAt: at(hours),
            endsAt: at(hours + 1),
            registrationDeadline: undefined,
          }),
        );
      }
      const outside = await create(api, teacher.token, {
        startsAt: at(30),
        endsAt: at(31),
        registrationDeadline: undefined,
      });
      const expected = [...made]
        .sort((a, b) => a.startsAt!.getTime() - b.startsAt!.getTime() || a.id.localeCompare(b.id))
        .map((event) => event.id);
      const window = `&from=${at(0).toISOString()}&to=${at(24).toISOString()}`;
      assert.deepEqual(await listIds(api, student, window), expected);
      assert.ok(!(await listIds(api, student, window)).includes(outside.id));

      const visited: string[] = [];
      let cursor = "";
      for (let page = 0; page < 10; page += 1) {
        const response = await api.call(
          "GET",
          `/events?limit=2&from=${at(0).toISOString()}&to=${at(24).toISOString()}${cursor ? `&cursor=${cursor}` : ""}`,
          { token: student.token },
        );
        const body = expectMessage(api, response, ListEventsResponse);
        assert.ok(body.items.length <= 2);
        visited.push(...body.items.map((item) => item.id));
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(visited, expected);

      await sql().query("UPDATE events SET registration_deadline = starts_at WHERE id = :id", {
        replacements: { id: made[0]!.id },
      });
      expectMessage(api, await register(api, student, made[0]!.id), EventMessage, 201);
      assert.deepEqual(await listIds(api, student, `${window}&mine=true`), [made[0]!.id]);
      assert.deepEqual(await listIds(api, teacher, `${window}&mine=true`), [], "staff register for nothing");
      const registeredFlags = async (caller: Caller) =>
        expectMessage(
          api,
          await api.call("GET", `/events?limit=100${window}`, { token: caller.token }),
          ListEventsResponse,
        ).items.map((item) => [item.id, item.registered]);
      assert.deepEqual(
        await registeredFlags(student),
        expected.map((id) => [id, id === made[0]!.id]),
        "each listed event says whether the caller is registered",
      );
      assert.deepEqual(
        await registeredFlags(teacher),
        expected.map((id) => [id, false]),
        "the student's registration is not the teacher's",
      );

      expectError(
        api,
        await api.call("GET", "/events?cursor=nope", { token: student.token }),
        400,
        "invalid_argument",
        "cursor",
      );
      expectError(
        api,
        await api.call("GET", "/events?from=yesterday", { token: student.token }),
        400,
        "invalid_argument",
        "from",
      );
      expectError(
        api,
        await api.call(
          "GET",
          `/events${window.replace("&from", "?from").replace(/to=[^&]+/, `to=${at(0).toISOString()}`)}`,
          { token: student.token },
        ),
        400,
        "invalid_argument",
        "to",
      );
      expectError(
        api,
        await api.call("GET", "/events?limit=101", { token: student.token }),
        400,
        "invalid_argument",
        "limit",
      );
      expectError(
        api,
        await api.call("GET", "/events?mine=yes", { token: student.token }),
        400,
        "invalid_argument",
        "mine",
      );
    });

    it("a student's list and a staff list can be answered from indexes (no sequential scan of events)", async () => {
      const student = await signedIn("student");
      const explain = async (viewer: Caller, mine: boolean): Promise<string> => {
        const { sql: text, replacements } = eventsPageStatement(viewer.user.id, listScope(viewer.user, mine), {
          limit: 21,
          from: new Date().toISOString(),
        });
        // With sequential scans priced out, the planner falls back to one only when no index can answer.
        return sql().transaction(async (transaction) => {
          await sql().query("SET LOCAL enable_seqscan = off", { transaction });
          const rows = await sql().query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, {
            replacements,
            type: QueryTypes.SELECT,
            transaction,
          });
          return rows.map((row) => row["QUERY PLAN"]).join("\n");
        });
      };
      for (const [viewer, mine] of [
        [student, false],
        [student, true],
        [teacher, false],
      ] as const) {
        const plan = await explain(viewer, mine);
        assert.ok(!/Seq Scan on events/.test(plan), plan);
        assert.match(plan, /Index|Bitmap/);
        if (viewer === student) {
          // A student's registrations and audience are found and cut by their own indexes, with no
          // lookup of each event to order them.
          assert.match(plan, /event_registrations_user_start_idx/, plan);
          if (!mine) assert.match(plan, /event_audience_keys_pkey/, plan);
        }
      }
    });

    it("a student's first page reads a page of each source, however long the school's history", async () => {
      const group = await buildGroup();
      const student = await signedIn("student", { groupId: group.id, learningClass: `H${unique()}` });
      // 9,000 events long past, for everyone, for their group and for their class (a school's years):
      // the first page of the history must not read them all to keep 21. (On a small table the planner
      // rightly prefers to hash all of it.)
      const history = await sql().query<{ id: string }>(
        `INSERT INTO events (title, starts_at, ends_at, registration_deadline, audience_group_ids, audience_classes)
         SELECT 'History ' || g, day, day + interval '1 hour', day,
                CASE g % 3 WHEN 1 THEN ARRAY[CAST(:groupId AS uuid)] ELSE '{}' END,
                CASE g % 3 WHEN 2 THEN ARRAY[CAST(:learningClass AS text)] ELSE '{}' END
           FROM generate_series(1, 9000) AS g,
                LATERAL (SELECT timestamptz '1900-01-01' + g * interval '1 day' AS day) AS t
         ORDER BY g
         RETURNING id`,
        { replacements: { groupId: group.id, learningClass: student.user.learningClass }, type: QueryTypes.SELECT },
      );
      try {
        // As autovacuum would after such an insert: the plan is judged on the statistics a school has.
        await sql().query("ANALYZE events, event_audience_keys");
        const limit = 21;
        const { sql: text, replacements } = eventsPageStatement(student.user.id, "visible", { limit });
        const [explained] = await sql().query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
          { replacements, type: QueryTypes.SELECT },
        );
        const scans: PlanNode[] = [];
        const walk = (node: PlanNode) => {
          if (node["Relation Name"]) scans.push(node);
          node.Plans?.forEach(walk);
        };
        walk(explained!["QUERY PLAN"][0].Plan);
        const audienceScans = scans.filter((scan) => scan["Relation Name"] === "event_audience_keys");
        assert.equal(audienceScans.length, 3, "one scan per audience key of the student");
        // Each source cut at the page, and only the page's events read (not a hash of the whole table).
        for (const scan of scans.filter((node) => node["Relation Name"] !== "users")) {
          assert.ok(scan["Actual Rows"] * scan["Actual Loops"] <= limit, JSON.stringify(scan));
        }
        assert.deepEqual(
          await listIds(apiFor("json"), student),
          history.slice(0, 100).map((row) => row.id),
          "the oldest events, everyone's, the group's and the class's alike",
        );
      } finally {
        await sql().query("DELETE FROM events WHERE id IN (:ids)", {
          replacements: { ids: history.map((row) => row.id) },
        });
        // So the plans of the tests after this one are not made for a history that is gone.
        await sql().query("ANALYZE events, event_audience_keys");
      }
    });
  });

  describe("registration", () => {
    bothEncodings("register (201), twice (409), cancel (204), cancel again (404); counts follow", async (api) => {
      const student = await signedIn("student");
      const event = await create(api, teacher.token, { capacity: 2 });
      const registered = expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      assert.equal(registered.registered, true);
      assert.equal(registered.registeredCount, 1);
      expectError(api, await register(api, student, event.id), 409, "conflict");
      const cancel = () => api.call("DELETE", `/events/${event.id}/registration`, { token: student.token });
      expectNoContent(await cancel());
      expectError(api, await cancel(), 404, "not_found");
      const after = expectMessage(
        api,
        await api.call("GET", `/events/${event.id}`, { token: student.token }),
        EventMessage,
      );
      assert.equal(after.registered, false);
      assert.equal(after.registeredCount, 0);
      expectError(api, await register(api, teacher, event.id), 403, "permission_denied");
    });

    bothEncodings("full → 409, after the deadline → 422, cancelling after the start → 422", async (api) => {
      const [first, second] = [await signedIn("student"), await signedIn("student")];
      const single = await create(api, teacher.token, { capacity: 1 });
      expectMessage(api, await register(api, first, single.id), EventMessage, 201);
      expectError(api, await register(api, second, single.id), 409, "conflict");

      const closed = await create(api, teacher.token, { registrationDeadline: fromNow(-HOUR) });
      expectError(api, await register(api, second, closed.id), 422, "failed_precondition");

      await moveIntoPast(single.id);
      const cancel = await api.call("DELETE", `/events/${single.id}/registration`, { token: first.token });
      expectError(api, cancel, 422, "failed_precondition");
    });

    bothEncodings("staff list an event's registrations in order, paged, with attendance", async (api) => {
      const students = [await signedIn("student"), await signedIn("student"), await signedIn("student")];
      const event = await create(api, teacher.token);
      for (const student of students) expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      const seen: string[] = [];
      let cursor = "";
      for (let page = 0; page < 5; page += 1) {
        const response = await api.call(
          "GET",
          `/events/${event.id}/registrations?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          { token: otherTeacher.token },
        );
        const body = expectMessage(api, response, ListEventRegistrationsResponse);
        for (const item of body.items) {
          assert.ok(item.registeredAt instanceof Date);
          assert.equal(item.attendedAt, undefined);
          seen.push(item.user!.id);
          assert.equal(item.user!.nickName, students.find((s) => s.user.id === item.user!.id)?.user.nickName);
        }
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(
        seen,
        students.map((student) => student.user.id),
      );
      const path = `/events/${event.id}/registrations`;
      expectError(api, await api.call("GET", path, { token: students[0]!.token }), 403, "permission_denied");
      const missing = await api.call("GET", `/events/${randomUUID()}/registrations`, { token: teacher.token });
      expectError(api, missing, 404, "not_found");
    });

    it("moving an event while a registration of it is cancelled or its student's account deleted: both complete", async () => {
      const api = apiFor("json");
      const admin = await signedIn("admin");
      const [cancelling, leaving] = [await signedIn("student"), await signedIn("student")];
      const deletions: [Caller, (eventId: string) => Promise<RawResponse>][] = [
        [cancelling, (eventId) => api.call("DELETE", `/events/${eventId}/registration`, { token: cancelling.token })],
        [leaving, () => api.call("DELETE", `/users/${leaving.user.id}`, { token: admin.token })],
      ];
      for (const [student, deletion] of deletions) {
        const event = await create(api, teacher.token);
        expectMessage(api, await register(api, student, event.id), EventMessage, 201);
        // The move holds the event's row before the deletion starts, as PATCH does; then it updates the
        // registrations' copy of the start. Taken in the other order, the two would deadlock.
        const moving = await sql().transaction();
        const replacements = { id: event.id };
        let deleting: Promise<RawResponse> | undefined;
        try {
          await sql().query("SELECT 1 FROM events WHERE id = :id FOR UPDATE", { replacements, transaction: moving });
          deleting = deletion(event.id);
          await untilWaitingForLock();
          await sql().query(
            `UPDATE events SET starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour'
              WHERE id = :id`,
            { replacements, transaction: moving },
          );
          await moving.commit();
        } catch (error) {
          await moving.rollback().catch(() => undefined);
          throw error;
        }
        expectNoContent(await deleting);
        assert.equal(
          await countRows("SELECT registered_count AS count FROM events WHERE id = :id", replacements),
          0,
          "the registration is gone and counted out",
        );
      }
    });

    it("30 concurrent registrations of 30 students for a capacity of 5: exactly 5 succeed, 25 get 409", async () => {
      const api = apiFor("json");
      const event = await create(api, teacher.token, { capacity: 5 });
      const students = await Promise.all(Array.from({ length: 30 }, () => signedIn("student")));
      const responses = await Promise.all(students.map((student) => register(api, student, event.id)));
      const statuses = responses.map((response) => response.status);
      console.log(
        `      30 concurrent registrations, capacity 5: ${statuses.filter((s) => s === 201).length} × 201, ` +
          `${statuses.filter((s) => s === 409).length} × 409`,
      );
      assert.equal(statuses.filter((status) => status === 201).length, 5, statuses.join(","));
      assert.equal(statuses.filter((status) => status === 409).length, 25, statuses.join(","));
      for (const response of responses.filter((r) => r.status === 409)) expectError(api, response, 409, "conflict");
      assert.equal(
        await countRows("SELECT count(*) AS count FROM event_registrations WHERE event_id = :id", { id: event.id }),
        5,
      );
      assert.equal(await countRows("SELECT registered_count AS count FROM events WHERE id = :id", { id: event.id }), 5);
    });

    it("the database itself refuses a registration beyond the capacity and keeps the count equal to the rows", async () => {
      const api = apiFor("json");
      const event = await create(api, teacher.token, { capacity: 1 });
      const [first, second] = [await buildUser(), await buildUser()];
      const insert = (userId: string) =>
        sql().query("INSERT INTO event_registrations (event_id, user_id) VALUES (:eventId, :userId)", {
          replacements: { eventId: event.id, userId },
        });
      await insert(first.id);
      await assert.rejects(insert(second.id), /events_within_capacity/);
      await assert.rejects(
        sql().query("UPDATE event_registrations SET event_id = gen_random_uuid() WHERE event_id = :eventId", {
          replacements: { eventId: event.id },
        }),
        /cannot change event or user/,
      );
      await sql().query("DELETE FROM event_registrations WHERE event_id = :eventId", {
        replacements: { eventId: event.id },
      });
      assert.equal(await countRows("SELECT registered_count AS count FROM events WHERE id = :id", { id: event.id }), 0);
    });

    it("one student registering 10 times at once is registered once (1 × 201, 9 × 409)", async () => {
      const api = apiFor("protobuf");
      const student = await signedIn("student");
      const event = await create(api, teacher.token, { capacity: 3 });
      const responses = await Promise.all(Array.from({ length: 10 }, () => register(api, student, event.id)));
      assert.deepEqual(responses.map((response) => response.status).sort(), [201, ...Array<number>(9).fill(409)]);
      assert.equal(await countRows("SELECT registered_count AS count FROM events WHERE id = :id", { id: event.id }), 1);
    });
  });

  describe("announcement cost", () => {
    it("creating an event for 500 students issues as many SQL statements as for 5; the create time is measured", async () => {
      const api = apiFor("json");
      const small = await buildGroupOfStudents(5);
      const large = await buildGroupOfStudents(500);
      const createFor = (groupId: string) =>
        countStatements(() =>
          api.call("POST", "/events", {
            token: teacher.token,
            body: message(CreateEventRequest, eventRequest({ audience: audience([groupId]) })),
          }),
        );
      // Building 500 students takes seconds: the teacher's session check is cached again first, so both
      // counted requests find it there.
      await api.call("GET", "/auth/me", { token: teacher.token });
      const fewer = await createFor(small);
      const more = await createFor(large);
      const recipients = async (response: typeof more.result) => {
        const event = expectMessage(api, response, EventMessage, 201);
        return countRows(
          "SELECT count(*) AS count FROM notifications WHERE type = 'event_created' AND payload->>'eventId' = :id",
          { id: event.id },
        );
      };
      assert.equal(await recipients(fewer.result), 5);
      assert.equal(await recipients(more.result), 500);
      assert.equal(more.statements, fewer.statements);
      assert.ok(more.statements <= 8, `${more.statements} statements`);

      const times: number[] = [];
      for (let run = 0; run < 5; run += 1) {
        const started = performance.now();
        const { result } = await createFor(large);
        times.push(performance.now() - started);
        expectMessage(api, result, EventMessage, 201);
      }
      times.sort((a, b) => a - b);
      console.log(
        `      SQL statements per create: 5 recipients → ${fewer.statements}, 500 → ${more.statements}; ` +
          `create for 500 recipients: median ${times[2]!.toFixed(1)} ms (runs: ${times.map((t) => t.toFixed(1)).join(", ")})`,
      );
    });
  });

  describe("attendance and the five-events medal", () => {
    bothEncodings("attending 5 events awards FIVE_EVENTS once; marking twice counts once", async (api) => {
      const student = await signedIn("student");
      const events: EventMessage[] = [];
      for (let index = 0; index < 6; index += 1) {
        const event = await create(api, teacher.token);
        expectMessage(api, await register(api, student, event.id), EventMessage, 201);
        events.push(event);
      }
      const mark = (eventId: string, userIds: string[]) =>
        api.call("POST", `/events/${eventId}/attendance`, {
          token: otherTeacher.token,
          body: message(MarkAttendanceRequest, { userIds }),
        });
      expectError(api, await mark(events[0]!.id, [student.user.id]), 422, "failed_precondition");

      for (const [index, event] of events.entries()) {
        await moveIntoPast(event.id);
        assert.equal(expectMessage(api, await mark(event.id, [student.user.id]), MarkAttendanceResponse).marked, 1);
        assert.equal(
          expectMessage(api, await mark(event.id, [student.user.id]), MarkAttendanceResponse).marked,
          0,
          "already marked",
        );
        const medals = await notificationsOf(student.user.id, "medal_awarded");
        assert.equal(medals, index >= 4 ? 1 : 0, `after ${index + 1} events`);
      }
      assert.equal(
        await countRows("SELECT events_attended AS count FROM users WHERE id = :id", { id: student.user.id }),
        6,
      );
      assert.equal(
        expectMessage(api, await mark(events[0]!.id, []), MarkAttendanceResponse).marked,
        0,
        "an empty list marks nobody",
      );
      const profile = expectMessage(
        api,
        await api.call("GET", `/users/${student.user.id}`, { token: student.token }),
        PublicProfile,
      );
      assert.deepEqual(
        profile.medals.map((award) => award.medal),
        [Medal.FIVE_EVENTS],
      );

      const registrations = expectMessage(
        api,
        await api.call("GET", `/events/${events[0]!.id}/registrations`, { token: teacher.token }),
        ListEventRegistrationsResponse,
      );
      assert.ok(registrations.items[0]?.attendedAt instanceof Date);

      const stranger = await signedIn("student");
      const refused = await mark(events[0]!.id, [student.user.id, stranger.user.id]);
      expectError(api, refused, 422, "failed_precondition", "userIds.1");
      const forbidden = await api.call("POST", `/events/${events[0]!.id}/attendance`, {
        token: student.token,
        body: message(MarkAttendanceRequest, { userIds: [student.user.id] }),
      });
      expectError(api, forbidden, 403, "permission_denied");
    });
  });

  describe("deletion", () => {
    bothEncodings(
      "deleting an event tells registered students it was cancelled and removes the registrations",
      async (api) => {
        const registered = [await signedIn("student"), await signedIn("student")];
        const bystander = await signedIn("student");
        const event = await create(api, teacher.token, { title: `Chess ${unique()}` });
        for (const student of registered) expectMessage(api, await register(api, student, event.id), EventMessage, 201);
        expectNoContent(await api.call("DELETE", `/events/${event.id}`, { token: teacher.token }));
        for (const student of registered) {
          const [row] = await sql().query<{ text: string; severity: string }>(
            `SELECT payload->>'text' AS text, payload->>'severity' AS severity FROM notifications
            WHERE user_id = :id AND type = 'message'`,
            { replacements: { id: student.user.id }, type: QueryTypes.SELECT },
          );
          assert.ok(row?.text.includes(`“${event.title}”`) && row.text.includes("was cancelled"), row?.text);
          assert.equal(row?.severity, "warning");
        }
        assert.equal(await notificationsOf(bystander.user.id, "message"), 0);
        assert.equal(
          await countRows("SELECT count(*) AS count FROM event_registrations WHERE event_id = :id", { id: event.id }),
          0,
        );
      },
    );

    it("deleting a registered student's account lowers the event's registered count", async () => {
      const api = apiFor("json");
      const [stays, leaves] = [await signedIn("student"), await signedIn("student")];
      const event = await create(api, teacher.token, { capacity: 2 });
      for (const student of [stays, leaves])
        expectMessage(api, await register(api, student, event.id), EventMessage, 201);
      expectNoContent(await api.call("DELETE", `/users/${leaves.user.id}`, { token: admin.token }));
      const read = expectMessage(
        api,
        await api.call("GET", `/events/${event.id}`, { token: stays.token }),
        EventMessage,
      );
      assert.equal(read.registeredCount, 1);
      const newcomer = await signedIn("student");
      expectMessage(api, await register(api, newcomer, event.id), EventMessage, 201);
    });

    it("a group in an event's audience cannot be deleted (409) until the audience lets go of it", async () => {
      const api = apiFor("protobuf");
      const group = await buildGroup();
      const event = await create(api, teacher.token, { audience: audience([group.id], ["10A"]) });
      expectError(api, await api.call("DELETE", `/groups/${group.id}`, { token: teacher.token }), 409, "conflict");
      expectMessage(api, await patch(api, teacher.token, event.id, { audience: audience([], ["10A"]) }), EventMessage);
      expectNoContent(await api.call("DELETE", `/groups/${group.id}`, { token: teacher.token }));
    });
  });
});
