import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import { Event as EventMessage } from "../../generated/shtp/v1/events.js";
import { MessageSeverity, SendMessageResponse } from "../../generated/shtp/v1/notifications.js";
import { Role, User as UserMessage } from "../../generated/shtp/v1/users.js";
import { apiFor, expectError, expectMessage, message, rawJson, type Api } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { buildGroup, buildUser, tokenFor } from "../testing/factories.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { CreateEventRequest } from "../../generated/shtp/v1/events.js";
import { CreateUserRequest } from "../../generated/shtp/v1/users.js";
import { SendMessageRequest } from "../../generated/shtp/v1/notifications.js";

/**
 * What the proto3 JSON mapping obliges a parser to accept, sent to real routes as a standard library
 * writes it (original field names, enums as numbers, offsets, nine fractional digits, nulls), and
 * the same request in protobuf: both must be accepted and store the same thing.
 */

let server: TestServer;
let teacherToken: string;
const json = () => apiFor(() => server.url, "json");
const protobuf = () => apiFor(() => server.url, "protobuf");
const tag = () => randomUUID().slice(0, 8);
const sql = () => testDatabase().database.sequelize;

async function row(query: string, replacements: Record<string, unknown>): Promise<Record<string, unknown>> {
  const [found] = await sql().query<Record<string, unknown>>(query, { replacements, type: QueryTypes.SELECT });
  assert.ok(found, query);
  return found;
}

describe("ProtoJSON as standard libraries write it, over real HTTP", () => {
  before(async () => {
    server = await startTestServer();
    teacherToken = await tokenFor(await buildUser({ role: "teacher" }), server.config);
  });
  after(() => server.close());

  it("takes original proto field names and enum numbers, and stores what protobuf stores", async () => {
    const group = await buildGroup();
    const t = tag();
    const viaJson = expectMessage(
      json(),
      await json().call("POST", "/users", {
        token: teacherToken,
        body: rawJson({
          email: ` Json-${t}@Example.test `,
          nick_name: `json_${t}`,
          first_name: "Ada",
          last_name: "Lovelace",
          role: 1,
          group_id: group.id,
          learning_class: "10A",
          password: "a-long-password",
        }),
      }),
      UserMessage,
      201,
    );
    const viaProtobuf = expectMessage(
      protobuf(),
      await protobuf().call("POST", "/users", {
        token: teacherToken,
        body: message(CreateUserRequest, {
          email: `proto-${t}@example.test`,
          nickName: `proto_${t}`,
          firstName: "Ada",
          lastName: "Lovelace",
          role: Role.STUDENT,
          groupId: group.id,
          learningClass: "10A",
          password: "a-long-password",
        }),
      }),
      UserMessage,
      201,
    );
    const stored = (id: string) =>
      row("SELECT email, first_name, last_name, role, group_id, learning_class FROM users WHERE id = :id", { id });
    const [fromJson, fromProtobuf] = [await stored(viaJson.id), await stored(viaProtobuf.id)];
    assert.equal(fromJson.email, `json-${t}@example.test`, "trimmed and lowercased by the rule");
    assert.deepEqual({ ...fromJson, email: "" }, { ...fromProtobuf, email: "" });
    assert.equal(fromJson.role, "student");
  });

  it("takes any timestamp offset, nine fractional digits, 32-bit integers as strings and null as the default", async () => {
    const sent = {
      title: "Mapping",
      description: null,
      location: null,
      starts_at: "2030-01-10T13:00:00.123456789+03:00",
      endsAt: "2030-01-10T06:00:00.5-05:00",
      capacity: "25",
      registration_deadline: null,
      audience: null,
    };
    const viaJson = expectMessage(
      json(),
      await json().call("POST", "/events", { token: teacherToken, body: rawJson(sent) }),
      EventMessage,
      201,
    );
    assert.equal(viaJson.startsAt?.toISOString(), "2030-01-10T10:00:00.123Z");
    const viaProtobuf = expectMessage(
      protobuf(),
      await protobuf().call("POST", "/events", {
        token: teacherToken,
        body: message(CreateEventRequest, {
          title: "Mapping",
          description: "",
          location: "",
          startsAt: new Date("2030-01-10T10:00:00.123Z"),
          endsAt: new Date("2030-01-10T11:00:00.500Z"),
          capacity: 25,
          registrationDeadline: undefined,
          audience: undefined,
        }),
      }),
      EventMessage,
      201,
    );
    const stored = (id: string) =>
      row(
        `SELECT title, description, location, starts_at, ends_at, capacity, registration_deadline,
                audience_group_ids, audience_classes FROM events WHERE id = :id`,
        { id },
      );
    assert.deepEqual(await stored(viaJson.id), await stored(viaProtobuf.id));
  });

  it("takes a oneof member by its original name and an enum by number", async () => {
    const student = await buildUser();
    const send = async (api: Api, body: Parameters<Api["call"]>[2]) =>
      expectMessage(api, await api.call("POST", "/notifications", body), SendMessageResponse, 201);
    const viaJson = await send(json(), {
      token: teacherToken,
      body: rawJson({ text: "Hello", severity: 2, user_id: student.id }),
    });
    const viaProtobuf = await send(protobuf(), {
      token: teacherToken,
      body: message(SendMessageRequest, {
        text: "Hello",
        severity: MessageSeverity.WARNING,
        audience: { $case: "userId", value: student.id },
      }),
    });
    assert.equal(viaJson.recipientCount, 1);
    assert.equal(viaProtobuf.recipientCount, 1);
    const [first, second] = await sql().query<{ payload: unknown }>(
      "SELECT payload FROM notifications WHERE user_id = :id ORDER BY seq",
      { replacements: { id: student.id }, type: QueryTypes.SELECT },
    );
    assert.ok(first && second);
    assert.deepEqual(first.payload, second.payload);
  });

  it("still refuses unknown keys, a field given twice and two oneof members, with lowerCamelCase paths", async () => {
    const api = json();
    const refused = async (body: Record<string, unknown>, field: string) =>
      expectError(
        api,
        await api.call("POST", "/notifications", { token: teacherToken, body: rawJson(body) }),
        400,
        "invalid_argument",
        field,
      );
    await refused({ text: "x", severity: 1, everyone: true, colour: "red" }, "colour");
    await refused({ text: "x", severity: 1, user_id: randomUUID(), userId: randomUUID() }, "userId");
    await refused({ text: "x", severity: 1, user_id: randomUUID(), group_id: randomUUID() }, "groupId");
    await refused({ text: "x", severity: "MESSAGE_SEVERITY_LOUD", everyone: true }, "severity");
  });
});
