import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueryTypes } from "sequelize";
import { Me } from "../../../generated/shtp/v1/auth.js";
import {
  Banner as BannerMessage,
  BannerSeverity,
  CreateBannerRequest,
  ListBannersResponse,
  ListNotificationsResponse,
  MarkReadRequest,
  MarkReadResponse,
  MessageSeverity,
  NotificationType,
  SendMessageRequest,
  SendMessageResponse,
  UnreadCount,
  UpdateBannerRequest,
} from "../../../generated/shtp/v1/notifications.js";
import type { RoleName } from "../../auth/roles.js";
import {
  apiFor as sharedApiFor,
  bothEncodings as sharedBothEncodings,
  message,
  rawJson,
  describeResponse,
  expectMessage,
  expectError,
  countRows,
  countStatements,
  type Api,
  type Encoding,
  type Payload,
} from "../../testing/api.js";
import { inTransaction } from "../../db/db.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser, tokenFor } from "../../testing/factories.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import type { User } from "../users/user.model.js";
import { tryRetentionLock } from "./queries.js";
import { purgeReadNotifications } from "./retention.js";

let server: TestServer;

const apiFor = (encoding: Encoding): Api => sharedApiFor(() => server.url, encoding);

/** Declares one test per encoding, each with its own client. */
const bothEncodings = (title: string, test: (api: Api) => Promise<void>): void =>
  sharedBothEncodings(() => server.url, title, test);

const unique = () => randomUUID().slice(0, 8);

async function signedIn(role: RoleName, overrides: { groupId?: string; learningClass?: string } = {}) {
  const user = await buildUser({ role, ...overrides });
  return { user, token: await tokenFor(user, server.config) };
}

const sql = () => testDatabase().database.sequelize;

const notificationsOf = (userId: string) =>
  countRows("SELECT count(*) AS count FROM notifications WHERE user_id = :userId", { userId });

/** Writes `count` messages to a user in one statement (seq order = i order). */
async function seedMessages(userId: string, count: number, prefix = "seed"): Promise<void> {
  await sql().query(
    `INSERT INTO notifications (user_id, type, payload)
     SELECT :userId, 'message', jsonb_build_object('text', :prefix || ' ' || i, 'severity', 'info')
       FROM generate_series(1, :count) AS i ORDER BY i`,
    { replacements: { userId, count, prefix } },
  );
}

const send = (value: Omit<SendMessageRequest, "severity"> & { severity?: MessageSeverity }): Payload =>
  message(SendMessageRequest, { severity: MessageSeverity.INFO, ...value });

describe("notifications routes", function () {
  this.timeout(60_000);
  let teacher: { user: User; token: string };

  before(async () => {
    server = await startTestServer();
    teacher = await signedIn("teacher");
  });
  after(async () => server?.close());

  describe("POST /notifications", () => {
    bothEncodings("sends to a user, a group, a learning class and everyone with exact counts", async (api) => {
      const group = await buildGroup();
      const learningClass = `c${unique()}`;
      const members = [
        await buildUser({ groupId: group.id }),
        await buildUser({ groupId: group.id, learningClass }),
        await buildUser({ groupId: group.id }),
      ];
      await buildUser({ learningClass });

      const toUser = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "hi", audience: { $case: "userId", value: members[0]!.id } }),
      });
      assert.equal(expectMessage(api, toUser, SendMessageResponse, 201).recipientCount, 1);

      const toGroup = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "group", audience: { $case: "groupId", value: group.id } }),
      });
      assert.equal(expectMessage(api, toGroup, SendMessageResponse, 201).recipientCount, 3);

      const toClass = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "class", audience: { $case: "learningClass", value: learningClass } }),
      });
      assert.equal(expectMessage(api, toClass, SendMessageResponse, 201).recipientCount, 2);

      const users = await countRows("SELECT count(*) AS count FROM users");
      const toEveryone = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "all", severity: MessageSeverity.WARNING, audience: { $case: "everyone", value: true } }),
      });
      assert.equal(expectMessage(api, toEveryone, SendMessageResponse, 201).recipientCount, users);

      assert.equal(await notificationsOf(members[0]!.id), 3);
      assert.equal(await notificationsOf(members[1]!.id), 3);
      assert.equal(await notificationsOf(members[2]!.id), 2);
    });

    bothEncodings("refuses no audience, unknown targets, an empty class and students", async (api) => {
      const none = await api.call("POST", "/notifications", { token: teacher.token, body: send({ text: "x" }) });
      expectError(api, none, 400, "invalid_argument", "userId");

      const unknownUser = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "x", audience: { $case: "userId", value: randomUUID() } }),
      });
      expectError(api, unknownUser, 404, "not_found");
      const unknownGroup = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "x", audience: { $case: "groupId", value: randomUUID() } }),
      });
      expectError(api, unknownGroup, 422, "failed_precondition", "groupId");
      const emptyClass = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: send({ text: "x", audience: { $case: "learningClass", value: `e${unique()}` } }),
      });
      expectError(api, emptyClass, 422, "failed_precondition");

      const student = await signedIn("student");
      const forbidden = await api.call("POST", "/notifications", {
        token: student.token,
        body: send({ text: "x", audience: { $case: "everyone", value: true } }),
      });
      expectError(api, forbidden, 403, "permission_denied");
    });

    it("refuses two audiences (json; protobuf cannot carry two members of a oneof)", async () => {
      const api = apiFor("json");
      const user = await buildUser();
      const response = await api.call("POST", "/notifications", {
        token: teacher.token,
        body: rawJson({ text: "x", severity: "MESSAGE_SEVERITY_INFO", userId: user.id, groupId: user.groupId }),
      });
      expectError(api, response, 400, "invalid_argument", "groupId");
      assert.equal(await notificationsOf(user.id), 0);
    });
  });

  describe("listing and reading", () => {
    bothEncodings("lists newest first without marking read; unread filter; /auth/me count", async (api) => {
      const student = await signedIn("student");
      for (const [text, severity] of [
        ["first", MessageSeverity.INFO],
        ["second", MessageSeverity.WARNING],
        ["third", MessageSeverity.INFO],
      ] as const) {
        const sent = await api.call("POST", "/notifications", {
          token: teacher.token,
          body: send({ text, severity, audience: { $case: "userId", value: student.user.id } }),
        });
        expectMessage(api, sent, SendMessageResponse, 201);
      }
      const list = expectMessage(
        api,
        await api.call("GET", "/notifications", { token: student.token }),
        ListNotificationsResponse,
      );
      assert.deepEqual(
        list.items.map((item) => item.payload),
        [
          { $case: "message", value: { text: "third", severity: MessageSeverity.INFO } },
          { $case: "message", value: { text: "second", severity: MessageSeverity.WARNING } },
          { $case: "message", value: { text: "first", severity: MessageSeverity.INFO } },
        ],
      );
      assert.ok(list.items.every((item) => item.type === NotificationType.MESSAGE && item.readAt === undefined));
      assert.equal(list.nextCursor, "");

      const unread = () => api.call("GET", "/notifications/unread-count", { token: student.token });
      assert.equal(expectMessage(api, await unread(), UnreadCount).count, 3, "listing marked nothing read");
      const me = expectMessage(api, await api.call("GET", "/auth/me", { token: student.token }), Me);
      assert.equal(me.unreadNotifications, 3);

      const [third] = list.items;
      const marked = await api.call("POST", "/notifications/read", {
        token: student.token,
        body: message(MarkReadRequest, { ids: [third!.id], all: false }),
      });
      assert.equal(expectMessage(api, marked, MarkReadResponse).marked, 1);
      assert.equal(expectMessage(api, await unread(), UnreadCount).count, 2);

      const onlyUnread = expectMessage(
        api,
        await api.call("GET", "/notifications?unread=true", { token: student.token }),
        ListNotificationsResponse,
      );
      assert.deepEqual(
        onlyUnread.items.map((item) => item.id),
        list.items.slice(1).map((item) => item.id),
      );
      const all = expectMessage(
        api,
        await api.call("GET", "/notifications", { token: student.token }),
        ListNotificationsResponse,
      );
      assert.ok(all.items[0]!.readAt instanceof Date);

      const everything = await api.call("POST", "/notifications/read", {
        token: student.token,
        body: message(MarkReadRequest, { ids: [], all: true }),
      });
      assert.equal(expectMessage(api, everything, MarkReadResponse).marked, 2);
      assert.equal(expectMessage(api, await unread(), UnreadCount).count, 0);
      const meAfter = expectMessage(api, await api.call("GET", "/auth/me", { token: student.token }), Me);
      assert.equal(meAfter.unreadNotifications, 0);
    });

    bothEncodings("marks only the caller's own notifications; neither or both is 400", async (api) => {
      const alice = await signedIn("student");
      const bob = await signedIn("student");
      await seedMessages(alice.user.id, 1);
      await seedMessages(bob.user.id, 1);
      const [bobRow] = await sql().query<{ id: string }>("SELECT id FROM notifications WHERE user_id = :id", {
        replacements: { id: bob.user.id },
        type: QueryTypes.SELECT,
      });
      const stolen = await api.call("POST", "/notifications/read", {
        token: alice.token,
        body: message(MarkReadRequest, { ids: [bobRow!.id], all: false }),
      });
      assert.equal(expectMessage(api, stolen, MarkReadResponse).marked, 0);
      assert.equal(
        await countRows("SELECT count(*) AS count FROM notifications WHERE id = :id AND read_at IS NULL", {
          id: bobRow!.id,
        }),
        1,
        "the other user's row stays unread",
      );
      assert.equal(
        await countRows("SELECT count(*) AS count FROM notifications WHERE user_id = :id AND read_at IS NULL", {
          id: alice.user.id,
        }),
        1,
      );

      const neither = await api.call("POST", "/notifications/read", {
        token: alice.token,
        body: message(MarkReadRequest, { ids: [], all: false }),
      });
      expectError(api, neither, 400, "invalid_argument", "ids");
      const both = await api.call("POST", "/notifications/read", {
        token: alice.token,
        body: message(MarkReadRequest, { ids: [bobRow!.id], all: true }),
      });
      expectError(api, both, 400, "invalid_argument", "ids");
      const anonymous = await api.call("GET", "/notifications");
      expectError(api, anonymous, 401, "unauthenticated");
    });
  });

  describe("paging", () => {
    bothEncodings("walks limit=1 once over each row, newest first, despite inserts during the walk", async (api) => {
      const student = await signedIn("student");
      await seedMessages(student.user.id, 7);
      const expected = await sql().query<{ id: string }>(
        "SELECT id FROM notifications WHERE user_id = :id ORDER BY seq DESC",
        { replacements: { id: student.user.id }, type: QueryTypes.SELECT },
      );
      assert.equal(expected.length, 7);

      const visited: string[] = [];
      let cursor = "";
      for (let page = 0; page < 20; page += 1) {
        const path = `/notifications?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const body = expectMessage(
          api,
          await api.call("GET", path, { token: student.token }),
          ListNotificationsResponse,
        );
        assert.ok(body.items.length <= 1);
        visited.push(...body.items.map((item) => item.id));
        if (page === 2) await seedMessages(student.user.id, 2, "late");
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(
        visited,
        expected.map((row) => row.id),
      );

      const bad = await api.call("GET", "/notifications?limit=1&cursor=not-a-cursor", { token: student.token });
      expectError(api, bad, 400, "invalid_argument");
    });
  });

  describe("set-based insert", () => {
    /** A fresh group with `size` members, inserted in one statement. */
    async function groupOf(size: number): Promise<string> {
      const group = await buildGroup();
      const tag = unique();
      await sql().query(
        `INSERT INTO users (email, nick_name, first_name, last_name, role, group_id, password_hash)
         SELECT 'bulk-' || :tag || '-' || i || '@example.test', 'bulk_' || :tag || '_' || i, 'Bulk', 'User ' || i,
                'student', :groupId, 'unusable'
           FROM generate_series(1, :size) AS i`,
        { replacements: { tag, groupId: group.id, size } },
      );
      return group.id;
    }

    /** Sends to a group, counting the SQL statements issued while the request runs. */
    async function sendCounting(groupId: string): Promise<{ recipients: number; statements: number }> {
      const api = apiFor("json");
      const { result, statements } = await countStatements(async () => {
        const response = await api.call("POST", "/notifications", {
          token: teacher.token,
          body: send({ text: "bulk", audience: { $case: "groupId", value: groupId } }),
        });
        return expectMessage(api, response, SendMessageResponse, 201);
      });
      return { recipients: result.recipientCount, statements };
    }

    it("writes one notification per member of 500 with as many statements as for 5", async () => {
      const small = await groupOf(5);
      const large = await groupOf(500);
      const fewer = await sendCounting(small);
      const more = await sendCounting(large);
      console.log(`      SQL statements per send: 5 recipients → ${fewer.statements}, 500 → ${more.statements}`);
      assert.equal(fewer.recipients, 5);
      assert.equal(more.recipients, 500);
      assert.equal(more.statements, fewer.statements);
      assert.ok(more.statements <= 10, `${more.statements} statements`);
      const perMember = await sql().query<{ count: string }>(
        `SELECT count(n.id) AS count FROM users u LEFT JOIN notifications n ON n.user_id = u.id
          WHERE u.group_id = :groupId GROUP BY u.id`,
        { replacements: { groupId: large }, type: QueryTypes.SELECT },
      );
      assert.equal(perMember.length, 500);
      assert.ok(perMember.every((row) => Number(row.count) === 1));
    });
  });

  describe("payload typing in the database", () => {
    const insert = (userId: string, type: string, payload: unknown) =>
      sql().query(
        "INSERT INTO notifications (user_id, type, payload) VALUES (:userId, :type, CAST(:payload AS jsonb))",
        {
          replacements: { userId, type, payload: JSON.stringify(payload) },
        },
      );
    const refused = /notifications_payload_matches_type/;

    it("refuses payloads that do not match their type and accepts matching ones", async () => {
      const user = await buildUser();
      await assert.rejects(insert(user.id, "message", { text: 1, severity: "info" }), refused);
      await assert.rejects(insert(user.id, "message", { text: "hi" }), refused);
      await assert.rejects(insert(user.id, "message", { text: "hi", severity: "loud" }), refused);
      await assert.rejects(insert(user.id, "message", { text: "hi", severity: "info", extra: true }), refused);
      await assert.rejects(insert(user.id, "medal_awarded", { medal: "golden_banana" }), refused);
      await assert.rejects(
        insert(user.id, "achievement_accepted", { achievementId: "a", title: "t", points: "3" }),
        refused,
      );
      assert.equal(await notificationsOf(user.id), 0);
      await insert(user.id, "message", { text: "hi", severity: "warning" });
      await insert(user.id, "medal_awarded", { medal: "rating_100" });
      await insert(user.id, "achievement_accepted", { achievementId: randomUUID(), title: "t", points: 3 });
      assert.equal(await notificationsOf(user.id), 3);
    });
  });

  describe("banners", () => {
    const hour = 3_600_000;
    const banner = (value: Partial<CreateBannerRequest>): Payload =>
      message(CreateBannerRequest, { text: "Banner", severity: BannerSeverity.INFO, active: true, ...value });

    bothEncodings("create, list active in window, list all, patch, delete", async (api) => {
      const student = await signedIn("student");
      const create = async (value: Partial<CreateBannerRequest>) =>
        expectMessage(
          api,
          await api.call("POST", "/notifications/system", { token: teacher.token, body: banner(value) }),
          BannerMessage,
          201,
        );
      const now = Date.now();
      const shown = await create({ text: `shown ${unique()}`, severity: BannerSeverity.WARNING });
      const windowed = await create({ startsAt: new Date(now - hour), endsAt: new Date(now + hour) });
      const inactive = await create({ active: false });
      const future = await create({ startsAt: new Date(now + hour) });
      const past = await create({ startsAt: new Date(now - 2 * hour), endsAt: new Date(now - hour) });
      assert.equal(shown.severity, BannerSeverity.WARNING);
      assert.equal(windowed.endsAt?.getTime(), now + hour);

      const publicIds = expectMessage(
        api,
        await api.call("GET", "/notifications/system"),
        ListBannersResponse,
      ).items.map((item) => item.id);
      assert.ok(publicIds.includes(shown.id) && publicIds.includes(windowed.id));
      for (const hidden of [inactive, future, past]) assert.ok(!publicIds.includes(hidden.id));

      const allIds = expectMessage(
        api,
        await api.call("GET", "/notifications/system/all", { token: teacher.token }),
        ListBannersResponse,
      ).items.map((item) => item.id);
      for (const any of [shown, windowed, inactive, future, past]) assert.ok(allIds.includes(any.id));
      expectError(
        api,
        await api.call("GET", "/notifications/system/all", { token: student.token }),
        403,
        "permission_denied",
      );

      expectError(
        api,
        await api.call("POST", "/notifications/system", { token: student.token, body: banner({}) }),
        403,
        "permission_denied",
      );
      expectError(
        api,
        await api.call("POST", "/notifications/system", { token: teacher.token, body: banner({ text: "" }) }),
        400,
        "invalid_argument",
        "text",
      );
      expectError(
        api,
        await api.call("POST", "/notifications/system", {
          token: teacher.token,
          body: banner({ startsAt: new Date(now + hour), endsAt: new Date(now) }),
        }),
        400,
        "invalid_argument",
        "endsAt",
      );

      const patch = (id: string, value: Partial<UpdateBannerRequest>) =>
        api.call("PATCH", `/notifications/system/${id}`, {
          token: teacher.token,
          body: message(UpdateBannerRequest, { clearStartsAt: false, clearEndsAt: false, ...value }),
        });
      const deactivated = expectMessage(api, await patch(windowed.id, { active: false }), BannerMessage);
      assert.equal(deactivated.active, false);
      assert.equal(deactivated.text, windowed.text);
      assert.equal(deactivated.severity, windowed.severity);
      assert.equal(deactivated.startsAt?.getTime(), windowed.startsAt?.getTime());
      assert.equal(deactivated.endsAt?.getTime(), windowed.endsAt?.getTime());
      const unended = expectMessage(api, await patch(windowed.id, { clearEndsAt: true }), BannerMessage);
      assert.equal(unended.endsAt, undefined);
      assert.equal(unended.active, false);
      assert.equal(unended.startsAt?.getTime(), windowed.startsAt?.getTime());
      const retexted = expectMessage(api, await patch(windowed.id, { text: "new text" }), BannerMessage);
      assert.equal(retexted.text, "new text");
      assert.equal(retexted.endsAt, undefined);
      const raised = expectMessage(api, await patch(windowed.id, { severity: BannerSeverity.ERROR }), BannerMessage);
      assert.equal(raised.severity, BannerSeverity.ERROR);
      assert.equal(raised.text, "new text");
      expectError(api, await patch(randomUUID(), { active: true }), 404, "not_found");

      const removed = await api.call("DELETE", `/notifications/system/${windowed.id}`, { token: teacher.token });
      assert.equal(removed.status, 204, describeResponse(removed));
      expectError(
        api,
        await api.call("DELETE", `/notifications/system/${windowed.id}`, { token: teacher.token }),
        404,
        "not_found",
      );
    });
  });

  describe("retention", () => {
    it("purges read notifications older than the limit, keeping unread and recent ones", async () => {
      const user = await buildUser();
      await seedMessages(user.id, 5);
      const rows = await sql().query<{ id: string }>("SELECT id FROM notifications WHERE user_id = :id ORDER BY seq", {
        replacements: { id: user.id },
        type: QueryTypes.SELECT,
      });
      const [oldRead1, oldRead2, recentRead, oldUnread, freshUnread] = rows.map((row) => row.id);
      await sql().query(
        `UPDATE notifications SET read_at = now() - interval '40 days', created_at = now() - interval '50 days'
          WHERE id IN (:ids)`,
        { replacements: { ids: [oldRead1, oldRead2] } },
      );
      await sql().query("UPDATE notifications SET read_at = now() - interval '2 days' WHERE id = :id", {
        replacements: { id: recentRead },
      });
      await sql().query("UPDATE notifications SET created_at = now() - interval '90 days' WHERE id = :id", {
        replacements: { id: oldUnread },
      });

      const deleted = await purgeReadNotifications({ sequelize: sql() }, 30);
      assert.equal(deleted, 2);
      const left = await sql().query<{ id: string }>("SELECT id FROM notifications WHERE user_id = :id ORDER BY seq", {
        replacements: { id: user.id },
        type: QueryTypes.SELECT,
      });
      assert.deepEqual(
        left.map((row) => row.id),
        [recentRead, oldUnread, freshUnread],
      );
    });

    it("purges nothing while another process holds the purge's lock, and everything due once it is free", async () => {
      const user = await buildUser();
      await seedMessages(user.id, 2);
      await sql().query(
        `UPDATE notifications SET read_at = now() - interval '40 days', created_at = now() - interval '50 days'
          WHERE user_id = :id`,
        { replacements: { id: user.id } },
      );
      const db = { sequelize: sql() };
      const whileHeld = await inTransaction(db, async (holder) => {
        assert.equal(await tryRetentionLock(holder), true);
        return purgeReadNotifications(db, 30);
      });
      assert.equal(whileHeld, 0);
      assert.equal(await notificationsOf(user.id), 2, "the other process's round deleted nothing");
      assert.ok((await purgeReadNotifications(db, 30)) >= 2);
      assert.equal(await notificationsOf(user.id), 0);
    });
  });
});
