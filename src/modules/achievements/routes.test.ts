import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { QueryTypes } from "sequelize";
import {
  Achievement,
  AchievementKind,
  AchievementStatus,
  AchievementSubmission,
  ListAchievementsResponse,
  ListPublicAchievementsResponse,
  ModerateAchievementRequest,
  ModerationDecision,
  ModerationQueueResponse,
} from "../../../generated/shtp/v1/achievements.js";
import { Me } from "../../../generated/shtp/v1/auth.js";
import { Medal } from "../../../generated/shtp/v1/medals.js";
import { ListNotificationsResponse, NotificationType } from "../../../generated/shtp/v1/notifications.js";
import { PublicProfile } from "../../../generated/shtp/v1/users.js";
import type { RoleName } from "../../auth/roles.js";
import {
  apiFor,
  countRows,
  countStatements,
  describeResponse,
  encodings,
  expectError,
  expectMessage,
  message,
  type Api,
  type Encoding,
} from "../../testing/api.js";
import { testDatabase } from "../../testing/database.js";
import { buildUser, tokenFor } from "../../testing/factories.js";
import { filesUnder, jpegFile, multipart, onePixelPng, type Part } from "../../testing/files.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { readZip } from "../../testing/zip.js";

/**
 * Achievements over real HTTP: submission as multipart with the message part in
 * either encoding, reading, the moderation queue, exactly-once moderation with rating, notifications
 * and medals, deletion, export, and the files behind all of it. The server has a storage root of
 * its own, so the tests can count exactly which files exist.
 */

const MiB = 1024 * 1024;
const PROTOBUF_TYPE = "application/protobuf";

let scratch: string;
let storageDir: string;
let server: TestServer;
const baseUrl = () => server.url;
const sql = () => testDatabase().database.sequelize;

before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-achievements-test-"));
  storageDir = path.join(scratch, "storage");
  server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
});
after(async () => {
  await server.close();
  await fs.rm(scratch, { recursive: true, force: true });
});

const proofsDir = () => path.join(storageDir, "proofs");
/** Every stored or temporary file: what a failed upload must leave unchanged. */
const storedFiles = async () => [
  ...(await filesUnder(proofsDir())).map((name) => `proofs/${name}`),
  ...(await filesUnder(path.join(storageDir, "tmp"))).map((name) => `tmp/${name}`),
];

async function signedIn(role: RoleName = "student") {
  const user = await buildUser({ role });
  return { user, token: await tokenFor(user, server.config) };
}

type Caller = Awaited<ReturnType<typeof signedIn>>;

const submission = (overrides: Partial<AchievementSubmission> = {}): AchievementSubmission => ({
  kind: AchievementKind.OLYMPIAD,
  title: "Regional maths olympiad, 2nd place",
  description: "Second place of 140 in the regional round.",
  ...overrides,
});

/** The `achievement` part in the given encoding, as a plain field with its own Content-Type. */
function achievementPart(value: AchievementSubmission, encoding: Encoding): Part {
  return encoding === "json"
    ? {
        name: "achievement",
        contentType: "application/json",
        data: JSON.stringify(AchievementSubmission.toJSON(value)),
      }
    : {
        name: "achievement",
        contentType: "application/x-protobuf",
        data: Buffer.from(AchievementSubmission.encode(value).finish()),
      };
}

const proofPart = (data: Buffer = onePixelPng(), filename = "proof.png", contentType = "image/png"): Part => ({
  name: "proof",
  filename,
  contentType,
  data,
});

/** POST /achievements with exactly these parts, answered in `api`'s encoding. */
function postParts(api: Api, token: string, parts: Part[]): Promise<RawResponse> {
  const form = multipart(parts);
  return api.call("POST", "/achievements", {
    token,
    headers: { "content-type": form.contentType },
    rawBody: form.body,
  });
}

/** Submits an achievement with its metadata part in the api's own encoding. */
async function submit(api: Api, caller: Caller, value = submission(), proof = onePixelPng()): Promise<Achievement> {
  const response = await postParts(api, caller.token, [achievementPart(value, api.encoding), proofPart(proof)]);
  return expectMessage(api, response, Achievement, 201);
}

const moderate = (api: Api, token: string, id: string, request: Partial<ModerateAchievementRequest>) =>
  api.call("POST", `/achievements/${id}/moderate`, {
    token,
    body: message(ModerateAchievementRequest, {
      decision: ModerationDecision.UNSPECIFIED,
      points: 0,
      comment: "",
      ...request,
    }),
  });

const accept = (api: Api, token: string, id: string, points: number) =>
  moderate(api, token, id, { decision: ModerationDecision.ACCEPT, points });

async function notificationsOf(api: Api, token: string) {
  return expectMessage(api, await api.call("GET", "/notifications?limit=100", { token }), ListNotificationsResponse)
    .items;
}

async function proofFilesWhere(condition: string, replacements: Record<string, unknown>): Promise<string[]> {
  const rows = await sql().query<{ proofFile: string }>(
    `SELECT proof_file AS "proofFile" FROM achievements WHERE ${condition}`,
    { replacements, type: QueryTypes.SELECT },
  );
  return rows.map((row) => row.proofFile);
}

const ratingOf = async (userId: string) =>
  countRows("SELECT rating AS count FROM users WHERE id = :userId", { userId });

function forEachEncoding(title: string, test: (api: Api) => Promise<void>): void {
  for (const encoding of encodings) it(`${title} (${encoding})`, () => test(apiFor(baseUrl, encoding)));
}

describe("achievements", () => {
  describe("POST /achievements", () => {
    forEachEncoding(
      "takes the message part in the same encoding and stores the proof under a random name",
      async (api) => {
        const student = await signedIn();
        const created = await submit(api, student);
        assert.equal(created.status, AchievementStatus.PENDING);
        assert.equal(created.userId, student.user.id);
        assert.equal(created.kind, AchievementKind.OLYMPIAD);
        assert.equal(created.title, "Regional maths olympiad, 2nd place");
        assert.equal(created.proofMediaType, "image/png");
        assert.equal(created.proofSize, onePixelPng().length);
        const [stored] = await proofFilesWhere("id = :id", { id: created.id });
        assert.ok(stored);
        assert.match(stored, /^[A-Za-z0-9_-]{24}\.png$/);
        assert.deepEqual(await fs.readFile(path.join(proofsDir(), stored)), onePixelPng());
      },
    );

    for (const encoding of encodings) {
      it(`answers in the Accept encoding whatever the message part's encoding (part ${encoding})`, async () => {
        const student = await signedIn();
        for (const answer of encodings) {
          const api = apiFor(baseUrl, answer);
          const response = await postParts(api, student.token, [
            achievementPart(submission({ title: `part ${encoding}, answer ${answer}` }), encoding),
            proofPart(jpegFile(), "scan.jpg", "image/jpeg"),
          ]);
          const created = expectMessage(api, response, Achievement, 201);
          assert.equal(created.title, `part ${encoding}, answer ${answer}`);
          assert.equal(created.proofMediaType, "image/jpeg");
        }
      });
    }

    it("reads a plain form field without a Content-Type as JSON, and keeps non-ASCII text exact", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const title = "Олимпиада по физике — 1 место";
      const response = await postParts(api, student.token, [
        { name: "achievement", data: JSON.stringify({ kind: "ACHIEVEMENT_KIND_EVENT", title }) },
        proofPart(),
      ]);
      const created = expectMessage(api, response, Achievement, 201);
      assert.equal(created.title, title);
      assert.equal(created.kind, AchievementKind.EVENT);
    });

    it("keeps a protobuf part's non-ASCII bytes exact, and takes a JSON part declared UTF-8", async () => {
      const api = apiFor(baseUrl, "protobuf");
      const student = await signedIn();
      const title = "Конкурс «Кенгуру» ✓";
      const binary = await postParts(api, student.token, [
        achievementPart(submission({ title }), "protobuf"),
        proofPart(),
      ]);
      assert.equal(expectMessage(api, binary, Achievement, 201).title, title);
      const declared = await postParts(api, student.token, [
        {
          name: "achievement",
          contentType: "application/json; charset=utf-8",
          data: JSON.stringify({ kind: "ACHIEVEMENT_KIND_OTHER", title }),
        },
        proofPart(),
      ]);
      assert.equal(expectMessage(api, declared, Achievement, 201).title, title);
    });

    it("takes the message part sent as a file (a browser Blob) too", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const response = await postParts(api, student.token, [
        {
          name: "achievement",
          filename: "blob",
          contentType: "application/json",
          data: JSON.stringify({ kind: "ACHIEVEMENT_KIND_OTHER", title: "As a blob" }),
        },
        proofPart(),
      ]);
      assert.equal(expectMessage(api, response, Achievement, 201).title, "As a blob");
    });

    describe("refusals leave neither a row nor a file", () => {
      let student: Caller;
      let filesBefore: string[];
      let rowsBefore: number;
      beforeEach(async () => {
        student = await signedIn();
        filesBefore = await storedFiles();
        rowsBefore = await countRows("SELECT count(*) FROM achievements");
      });
      afterEach(async () => {
        assert.deepEqual(await storedFiles(), filesBefore, "no file was added or left behind");
        assert.equal(await countRows("SELECT count(*) FROM achievements"), rowsBefore, "no row was written");
      });

      forEachEncoding("a renamed executable as proof.png → 415", async (api) => {
        const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), randomBytes(4096)]);
        const response = await postParts(api, student.token, [
          achievementPart(submission(), api.encoding),
          proofPart(elf, "proof.png", "image/png"),
        ]);
        expectError(api, response, 415, "unsupported_media_type", "proof");
      });

      forEachEncoding("a 12 MB proof → 413", async (api) => {
        const big = Buffer.concat([onePixelPng(), Buffer.alloc(12 * MiB)]);
        const response = await postParts(api, student.token, [
          achievementPart(submission(), api.encoding),
          proofPart(big),
        ]);
        expectError(api, response, 413, "payload_too_large");
      });

      forEachEncoding("a missing proof → 400", async (api) => {
        const response = await postParts(api, student.token, [achievementPart(submission(), api.encoding)]);
        expectError(api, response, 400, "invalid_argument", "proof");
      });

      forEachEncoding("a missing achievement part → 400", async (api) => {
        const response = await postParts(api, student.token, [proofPart()]);
        expectError(api, response, 400, "invalid_argument", "achievement");
      });

      forEachEncoding("a bad kind and an empty title → 400 with the same field paths", async (api) => {
        const response = await postParts(api, student.token, [
          achievementPart(submission({ kind: AchievementKind.UNSPECIFIED, title: "  " }), api.encoding),
          proofPart(),
        ]);
        const error = expectError(api, response, 400, "invalid_argument");
        assert.deepEqual(error.fieldViolations.map((violation) => violation.field).sort(), ["kind", "title"]);
      });

      forEachEncoding("malformed message parts → 400, an unknown part type → 415", async (api) => {
        const badJson = await postParts(api, student.token, [
          { name: "achievement", contentType: "application/json", data: "{not json" },
          proofPart(),
        ]);
        expectError(api, badJson, 400, "invalid_argument");
        const badProtobuf = await postParts(api, student.token, [
          { name: "achievement", contentType: PROTOBUF_TYPE, data: Buffer.from([0x0a, 0xff, 0xff]) },
          proofPart(),
        ]);
        expectError(api, badProtobuf, 400, "invalid_argument");
        const unknownKey = await postParts(api, student.token, [
          {
            name: "achievement",
            contentType: "application/json",
            data: '{"title":"x","kind":"ACHIEVEMENT_KIND_OTHER","points":5}',
          },
          proofPart(),
        ]);
        expectError(api, unknownKey, 400, "invalid_argument");
        const html = await postParts(api, student.token, [
          { name: "achievement", contentType: "text/html", data: "<b>hi</b>" },
          proofPart(),
        ]);
        expectError(api, html, 415, "unsupported_media_type");
      });

      forEachEncoding("a truncated multipart body and an oversized message part → 4xx, never 5xx", async (api) => {
        const form = multipart([achievementPart(submission(), api.encoding), proofPart()]);
        const truncated = await api.call("POST", "/achievements", {
          token: student.token,
          headers: { "content-type": form.contentType },
          rawBody: form.body.subarray(0, form.body.length - 40),
        });
        expectError(api, truncated, 400, "invalid_argument");
        const huge = { kind: "ACHIEVEMENT_KIND_OTHER", title: "x", description: "y".repeat(70 * 1024) };
        const asField = await postParts(api, student.token, [
          { name: "achievement", contentType: "application/json", data: JSON.stringify(huge) },
          proofPart(),
        ]);
        assert.ok([400, 413].includes(asField.status), describeResponse(asField));
        const asFile = await postParts(api, student.token, [
          { name: "achievement", filename: "blob", contentType: "application/json", data: JSON.stringify(huge) },
          proofPart(),
        ]);
        expectError(api, asFile, 413, "payload_too_large");
      });

      forEachEncoding("a body that is not multipart → 415", async (api) => {
        const response = await api.call("POST", "/achievements", {
          token: student.token,
          body: message(AchievementSubmission, submission()),
        });
        expectError(api, response, 415, "unsupported_media_type");
      });

      it("a database write that fails after the upload → 5xx, and the moved proof is removed", async () => {
        const api = apiFor(baseUrl, "json");
        await sql().query(
          `CREATE FUNCTION test_refuse_achievement() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
           CREATE TRIGGER test_refuse_achievement BEFORE INSERT ON achievements
             FOR EACH ROW WHEN (NEW.title = 'refuse me') EXECUTE FUNCTION test_refuse_achievement();`,
        );
        try {
          const response = await postParts(api, student.token, [
            achievementPart(submission({ title: "refuse me" }), "json"),
            proofPart(),
          ]);
          assert.ok(response.status >= 500, describeResponse(response));
          assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
        } finally {
          await sql().query(
            "DROP TRIGGER test_refuse_achievement ON achievements; DROP FUNCTION test_refuse_achievement();",
          );
        }
      });
    });
  });

  describe("reading", () => {
    forEachEncoding("lists one's own achievements newest first, by status, in keyset pages", async (api) => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const first = await submit(api, student, submission({ title: "first" }));
      const second = await submit(api, student, submission({ title: "second" }));
      const third = await submit(api, student, submission({ title: "third" }));
      expectMessage(api, await accept(api, teacher.token, second.id, 10), Achievement);
      await submit(api, await signedIn(), submission({ title: "someone else's" }));

      const page1 = expectMessage(
        api,
        await api.call("GET", "/achievements?limit=2", { token: student.token }),
        ListAchievementsResponse,
      );
      assert.deepEqual(
        page1.items.map((item) => item.title),
        ["third", "second"],
      );
      assert.notEqual(page1.nextCursor, "");
      const page2 = expectMessage(
        api,
        await api.call("GET", `/achievements?limit=2&cursor=${page1.nextCursor}`, { token: student.token }),
        ListAchievementsResponse,
      );
      assert.deepEqual(
        page2.items.map((item) => item.id),
        [first.id],
      );
      assert.equal(page2.nextCursor, "");

      const pending = expectMessage(
        api,
        await api.call("GET", "/achievements?status=ACHIEVEMENT_STATUS_PENDING", { token: student.token }),
        ListAchievementsResponse,
      );
      assert.deepEqual(
        pending.items.map((item) => item.id),
        [third.id, first.id],
      );
      expectError(
        api,
        await api.call("GET", "/achievements?status=DONE", { token: student.token }),
        400,
        "invalid_argument",
        "status",
      );
      expectError(
        api,
        await api.call("GET", "/achievements?limit=0", { token: student.token }),
        400,
        "invalid_argument",
      );
    });

    forEachEncoding(
      "shows one achievement and its proof to the owner and staff, 404 to other students",
      async (api) => {
        const owner = await signedIn();
        const other = await signedIn();
        const teacher = await signedIn("teacher");
        const proof = jpegFile();
        const response = await postParts(api, owner.token, [
          achievementPart(submission(), api.encoding),
          proofPart(proof, "../../etc/passwd.jpg", "image/jpeg"),
        ]);
        const created = expectMessage(api, response, Achievement, 201);

        for (const reader of [owner, teacher]) {
          const got = expectMessage(
            api,
            await api.call("GET", `/achievements/${created.id}`, { token: reader.token }),
            Achievement,
          );
          assert.equal(got.id, created.id);
          const download = await api.call("GET", `/achievements/${created.id}/proof`, { token: reader.token });
          assert.equal(download.status, 200, describeResponse(download));
          assert.equal(download.headers["content-type"], "image/jpeg");
          assert.equal(download.headers["x-content-type-options"], "nosniff");
          assert.equal(download.headers["content-disposition"], `attachment; filename="achievement-${created.id}.jpg"`);
          assert.deepEqual(download.body, proof);
        }
        expectError(
          api,
          await api.call("GET", `/achievements/${created.id}`, { token: other.token }),
          404,
          "not_found",
        );
        expectError(
          api,
          await api.call("GET", `/achievements/${created.id}/proof`, { token: other.token }),
          404,
          "not_found",
        );
        expectError(
          api,
          await api.call("GET", "/achievements/not-a-uuid", { token: owner.token }),
          400,
          "invalid_argument",
        );
      },
    );

    forEachEncoding("anyone sees a user's accepted achievements, without proof details", async (api) => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const accepted = await submit(api, student, submission({ title: "accepted one" }));
      await submit(api, student, submission({ title: "still pending" }));
      expectMessage(api, await accept(api, teacher.token, accepted.id, 25), Achievement);

      const response = await api.call("GET", `/users/${student.user.id}/achievements`);
      const list = expectMessage(api, response, ListPublicAchievementsResponse);
      assert.deepEqual(
        list.items.map((item) => [item.title, item.points]),
        [["accepted one", 25]],
      );
      assert.ok(list.items[0]?.acceptedAt instanceof Date);
      if (api.encoding === "json") {
        const keys = Object.keys((JSON.parse(response.body.toString("utf8")) as { items: object[] }).items[0] ?? {});
        assert.ok(!keys.some((key) => key.startsWith("proof")), `no proof fields: ${keys.join(", ")}`);
      }
      expectError(
        api,
        await api.call("GET", "/users/00000000-0000-4000-8000-000000000000/achievements"),
        404,
        "not_found",
      );
    });

    it("answers 404 for a proof whose file is gone from storage, before any byte of it", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const created = await submit(api, student);
      const [stored] = await proofFilesWhere("id = :id", { id: created.id });
      await fs.rm(path.join(proofsDir(), stored!));
      const response = await api.call("GET", `/achievements/${created.id}/proof`, { token: student.token });
      const error = expectError(api, response, 404, "not_found");
      assert.match(error.detail, /proof file/);
    });
  });

  describe("GET /achievements/queue", () => {
    forEachEncoding("lists pending achievements oldest first with their submitters, paged", async (api) => {
      const teacher = await signedIn("teacher");
      const student = await signedIn();
      // Drain what other tests left, so this test sees its own rows in order.
      await sql().query("UPDATE achievements SET status = 'rejected', moderated_at = now() WHERE status = 'pending'");
      const older = await submit(api, student, submission({ title: "older" }));
      const newer = await submit(api, student, submission({ title: "newer" }));

      const page1 = expectMessage(
        api,
        await api.call("GET", "/achievements/queue?limit=1", { token: teacher.token }),
        ModerationQueueResponse,
      );
      assert.equal(page1.items[0]?.achievement?.id, older.id);
      assert.equal(page1.items[0]?.submitter?.id, student.user.id);
      assert.equal(page1.items[0]?.submitter?.nickName, student.user.nickName);
      const page2 = expectMessage(
        api,
        await api.call("GET", `/achievements/queue?limit=1&cursor=${page1.nextCursor}`, { token: teacher.token }),
        ModerationQueueResponse,
      );
      assert.equal(page2.items[0]?.achievement?.id, newer.id);
      expectError(
        api,
        await api.call("GET", "/achievements/queue", { token: student.token }),
        403,
        "permission_denied",
      );
    });

    it("answers any page size in the same number of SQL statements", async () => {
      const api = apiFor(baseUrl, "json");
      const teacher = await signedIn("teacher");
      const students = await Promise.all(Array.from({ length: 10 }, () => signedIn()));
      await sql().query(
        `INSERT INTO achievements (user_id, kind, title, proof_file, proof_media_type, proof_size)
         SELECT s.id, 'other', 'bulk ' || i, 'bulk-' || s.id || '-' || i || '.png', 'image/png', 1
           FROM unnest(ARRAY[:ids]::uuid[]) AS s (id), generate_series(1, 12) AS i`,
        { replacements: { ids: students.map((student) => student.user.id) } },
      );
      const count = async (limit: number) =>
        countStatements(async () => {
          const page = expectMessage(
            api,
            await api.call("GET", `/achievements/queue?limit=${limit}`, { token: teacher.token }),
            ModerationQueueResponse,
          );
          assert.equal(page.items.length, limit);
          assert.ok(page.items.every((item) => item.submitter?.id));
        });
      // The session check is cached after a first request, so both counted pages find it there.
      await count(1);
      const small = await count(5);
      const large = await count(100);
      console.log(
        `      SQL statements per queue page: limit 5 → ${small.statements}, limit 100 → ${large.statements}`,
      );
      assert.equal(large.statements, small.statements);
      assert.ok(
        small.statements <= 2,
        `${small.statements} statements (authentication, when not cached, and the page)`,
      );
      await sql().query("DELETE FROM achievements WHERE proof_file LIKE 'bulk-%'");
    });
  });

  describe("moderation", () => {
    forEachEncoding("accepting adds points, records who and when, notifies and awards the first medal", async (api) => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const created = await submit(api, student);
      const accepted = expectMessage(api, await accept(api, teacher.token, created.id, 40), Achievement);
      assert.equal(accepted.status, AchievementStatus.ACCEPTED);
      assert.equal(accepted.points, 40);
      assert.equal(accepted.moderatedBy, teacher.user.id);
      assert.ok(accepted.moderatedAt instanceof Date);
      assert.equal(await ratingOf(student.user.id), 40);

      const notifications = await notificationsOf(api, student.token);
      const acceptedNote = notifications.find((item) => item.type === NotificationType.ACHIEVEMENT_ACCEPTED);
      assert.deepEqual(acceptedNote?.payload, {
        $case: "achievementAccepted",
        value: { achievementId: created.id, title: created.title, points: 40 },
      });
      const medalNotes = notifications.filter((item) => item.type === NotificationType.MEDAL_AWARDED);
      assert.deepEqual(
        medalNotes.map((item) => item.payload),
        [{ $case: "medalAwarded", value: { medal: Medal.FIRST_ACHIEVEMENT } }],
      );

      const me = expectMessage(api, await api.call("GET", "/auth/me", { token: student.token }), Me);
      assert.deepEqual(
        me.medals.map((award) => award.medal),
        [Medal.FIRST_ACHIEVEMENT],
      );
      assert.equal(me.user?.rating, 40);
      const profile = expectMessage(api, await api.call("GET", `/users/${student.user.id}`), PublicProfile);
      assert.deepEqual(
        profile.medals.map((award) => award.medal),
        [Medal.FIRST_ACHIEVEMENT],
      );

      const again = await accept(api, teacher.token, created.id, 40);
      expectError(api, again, 409, "conflict");
      const rejectAfter = await moderate(api, teacher.token, created.id, {
        decision: ModerationDecision.REJECT,
        comment: "changed my mind",
      });
      expectError(api, rejectAfter, 409, "conflict");
      assert.equal(await ratingOf(student.user.id), 40, "the rating was raised once");
    });

    forEachEncoding("rejecting keeps the row with its comment and notifies", async (api) => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const created = await submit(api, student);
      const rejected = expectMessage(
        api,
        await moderate(api, teacher.token, created.id, {
          decision: ModerationDecision.REJECT,
          comment: "The scan is unreadable.",
        }),
        Achievement,
      );
      assert.equal(rejected.status, AchievementStatus.REJECTED);
      assert.equal(rejected.comment, "The scan is unreadable.");
      assert.equal(rejected.points, 0);
      assert.equal(await ratingOf(student.user.id), 0);
      const kept = expectMessage(
        api,
        await api.call("GET", `/achievements/${created.id}`, { token: student.token }),
        Achievement,
      );
      assert.equal(kept.status, AchievementStatus.REJECTED);
      const notifications = await notificationsOf(api, student.token);
      assert.deepEqual(
        notifications.map((item) => item.payload),
        [
          {
            $case: "achievementRejected",
            value: { achievementId: created.id, title: created.title, comment: "The scan is unreadable." },
          },
        ],
      );
    });

    forEachEncoding("refuses bad verdicts with field paths, and one's own submission", async (api) => {
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const created = await submit(api, student);
      const cases: [Partial<ModerateAchievementRequest>, string][] = [
        [{ decision: ModerationDecision.ACCEPT, points: 0 }, "points"],
        [{ decision: ModerationDecision.ACCEPT, points: 1001 }, "points"],
        [{ decision: ModerationDecision.REJECT, comment: "" }, "comment"],
        [{ decision: ModerationDecision.REJECT, points: 5, comment: "no" }, "points"],
        [{ decision: ModerationDecision.UNSPECIFIED, points: 5 }, "decision"],
      ];
      for (const [request, field] of cases) {
        expectError(api, await moderate(api, teacher.token, created.id, request), 400, "invalid_argument", field);
      }
      const own = await submit(api, teacher);
      expectError(api, await accept(api, teacher.token, own.id, 10), 403, "permission_denied");
      expectError(api, await accept(api, student.token, created.id, 10), 403, "permission_denied");
      expectError(api, await accept(api, teacher.token, "00000000-0000-4000-8000-000000000000", 10), 404, "not_found");
      const still = expectMessage(
        api,
        await api.call("GET", `/achievements/${created.id}`, { token: student.token }),
        Achievement,
      );
      assert.equal(still.status, AchievementStatus.PENDING);
    });

    it("20 concurrent accepts: exactly one 200, nineteen 409, the rating raised once, one notification", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const teachers = await Promise.all(Array.from({ length: 4 }, () => signedIn("teacher")));
      const created = await submit(api, student);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, index) => accept(api, teachers[index % teachers.length]!.token, created.id, 30)),
      );
      const statuses = responses.map((response) => response.status).sort();
      assert.deepEqual(statuses, [200, ...Array<number>(19).fill(409)], statuses.join(","));
      assert.equal(await ratingOf(student.user.id), 30);
      assert.equal(
        await countRows(
          "SELECT count(*) FROM notifications WHERE user_id = :userId AND type = 'achievement_accepted'",
          { userId: student.user.id },
        ),
        1,
      );
      assert.equal(
        await countRows("SELECT accepted_achievements AS count FROM users WHERE id = :userId", {
          userId: student.user.id,
        }),
        1,
      );
    });

    it("awards each medal once, when its rule is first met", async () => {
      const api = apiFor(baseUrl, "protobuf");
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const points = [60, 50, 900, 1, 1, 1, 1, 1, 1, 1, 1];
      const awardedAfter: Medal[][] = [];
      for (const [index, value] of points.entries()) {
        const created = await submit(api, student, submission({ title: `medal run ${index}` }));
        expectMessage(api, await accept(api, teacher.token, created.id, value), Achievement);
        const me = expectMessage(api, await api.call("GET", "/auth/me", { token: student.token }), Me);
        awardedAfter.push(me.medals.map((award) => award.medal));
      }
      assert.deepEqual(awardedAfter[0], [Medal.FIRST_ACHIEVEMENT]);
      assert.deepEqual(awardedAfter[1], [Medal.FIRST_ACHIEVEMENT, Medal.RATING_100]);
      assert.deepEqual(awardedAfter[2], [Medal.FIRST_ACHIEVEMENT, Medal.RATING_100, Medal.RATING_1000]);
      assert.deepEqual(awardedAfter[8], awardedAfter[2], "nine accepted: no count medal yet");
      assert.deepEqual(
        [...(awardedAfter[9] ?? [])].sort(),
        [Medal.FIRST_ACHIEVEMENT, Medal.RATING_100, Medal.RATING_1000, Medal.TEN_ACHIEVEMENTS].sort(),
      );
      assert.deepEqual(awardedAfter[10], awardedAfter[9], "the eleventh awards nothing new");
      assert.equal(
        await countRows("SELECT count(*) FROM notifications WHERE user_id = :userId AND type = 'medal_awarded'", {
          userId: student.user.id,
        }),
        4,
      );
    });
  });

  describe("DELETE /achievements/:id", () => {
    forEachEncoding("the owner deletes a pending one with its file; a decided one is refused", async (api) => {
      const owner = await signedIn();
      const teacher = await signedIn("teacher");
      const other = await signedIn();
      const pending = await submit(api, owner);
      const filesBefore = await filesUnder(proofsDir());
      expectError(
        api,
        await api.call("DELETE", `/achievements/${pending.id}`, { token: other.token }),
        404,
        "not_found",
      );
      expectError(
        api,
        await api.call("DELETE", `/achievements/${pending.id}`, { token: teacher.token }),
        403,
        "permission_denied",
      );
      const deleted = await api.call("DELETE", `/achievements/${pending.id}`, { token: owner.token });
      assert.equal(deleted.status, 204, describeResponse(deleted));
      assert.equal((await filesUnder(proofsDir())).length, filesBefore.length - 1, "its proof file is gone");
      expectError(api, await api.call("GET", `/achievements/${pending.id}`, { token: owner.token }), 404, "not_found");

      const decided = await submit(api, owner);
      expectMessage(api, await accept(api, teacher.token, decided.id, 10), Achievement);
      expectError(
        api,
        await api.call("DELETE", `/achievements/${decided.id}`, { token: owner.token }),
        403,
        "permission_denied",
      );
    });

    forEachEncoding("an admin deletes an accepted one: its points leave the rating, the file goes", async (api) => {
      const owner = await signedIn();
      const teacher = await signedIn("teacher");
      const admin = await signedIn("admin");
      const kept = await submit(api, owner);
      const removed = await submit(api, owner);
      expectMessage(api, await accept(api, teacher.token, kept.id, 30), Achievement);
      expectMessage(api, await accept(api, teacher.token, removed.id, 45), Achievement);
      assert.equal(await ratingOf(owner.user.id), 75);
      const filesBefore = await filesUnder(proofsDir());
      const response = await api.call("DELETE", `/achievements/${removed.id}`, { token: admin.token });
      assert.equal(response.status, 204, describeResponse(response));
      assert.equal(await ratingOf(owner.user.id), 30);
      assert.equal((await filesUnder(proofsDir())).length, filesBefore.length - 1);
    });

    it("deleting a user removes their proof files", async () => {
      const api = apiFor(baseUrl, "json");
      const owner = await signedIn();
      const admin = await signedIn("admin");
      await submit(api, owner);
      await submit(api, owner, submission(), jpegFile());
      const names = await proofFilesWhere("user_id = :userId", { userId: owner.user.id });
      assert.equal(names.length, 2);
      const response = await api.call("DELETE", `/users/${owner.user.id}`, { token: admin.token });
      assert.equal(response.status, 204, describeResponse(response));
      const left = await filesUnder(proofsDir());
      for (const name of names) assert.ok(!left.includes(name), `${name} was removed`);
    });
  });

  describe("GET /achievements/export", () => {
    it("streams a valid ZIP of the accepted achievements: their proofs and a summary", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const proofs = [onePixelPng([0, 255, 0, 255]), jpegFile(), onePixelPng([0, 0, 255, 255])];
      const titles = ["Chess: city champion", "Physics / olympiad", "Hackathon"];
      const created: Achievement[] = [];
      for (const [index, proof] of proofs.entries()) {
        created.push(await submit(api, student, submission({ title: titles[index] }), proof));
      }
      await submit(api, student, submission({ title: "Pending, not exported" }));
      for (const [index, achievement] of created.entries()) {
        expectMessage(api, await accept(api, teacher.token, achievement.id, 10 * (index + 1)), Achievement);
      }

      const response = await rawRequest(`${server.url}/api/v1/achievements/export`, {
        headers: { authorization: `Bearer ${student.token}`, "accept-encoding": "gzip" },
      });
      assert.equal(response.status, 200, describeResponse(response));
      assert.equal(response.headers["content-type"], "application/zip");
      assert.equal(response.headers["content-disposition"], 'attachment; filename="achievements.zip"');
      assert.equal(response.headers["content-encoding"], undefined, "a ZIP is not compressed again");
      assert.equal(response.headers["transfer-encoding"], "chunked", "streamed, not buffered to a length");

      const entries = await readZip(response.body);
      const names = [...entries.keys()].sort();
      assert.equal(names.length, 4, names.join(", "));
      assert.ok(names.includes("summary.txt"));
      const proofEntries = names.filter((name) => name.startsWith("proofs/"));
      assert.ok(
        proofEntries.every((name) => /^proofs\/\d{3}-[\p{L}\p{N}-]+\.(png|jpg)$/u.test(name)),
        proofEntries.join(),
      );
      const stored = [...entries.entries()].filter(([name]) => name.startsWith("proofs/")).map(([, bytes]) => bytes);
      for (const proof of proofs)
        assert.ok(
          stored.some((bytes) => bytes.equals(proof)),
          "every proof is in the archive",
        );
      const summary = entries.get("summary.txt")?.toString("utf8") ?? "";
      assert.match(summary, /Accepted achievements: 3, points in all: 60/);
      for (const title of titles) assert.ok(summary.includes(title), `the summary names "${title}"`);
      assert.ok(!summary.includes("Pending, not exported"));
    });

    it("ends the download, not the server, when a proof cannot be read while the archive is written", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const created = await submit(api, student);
      expectMessage(api, await accept(api, teacher.token, created.id, 10), Achievement);
      const [stored] = await proofFilesWhere("id = :id", { id: created.id });
      // A folder where the file was: it passes the presence check, and the zip writer then fails on it.
      await fs.rm(path.join(proofsDir(), stored!));
      await fs.mkdir(path.join(proofsDir(), stored!));
      try {
        // The status is sent before the archive is written, so the failure shows as a broken transfer: the
        // connection is cut, or what arrived is not a complete ZIP.
        const broken = await rawRequest(`${server.url}/api/v1/achievements/export`, {
          headers: { authorization: `Bearer ${student.token}` },
        }).then(
          (response) =>
            readZip(response.body).then(
              () => false,
              () => true,
            ),
          () => true,
        );
        assert.ok(broken, "the client must not receive a complete archive that lacks a proof");
        const alive = await rawRequest(`${server.url}/api/v1/version`);
        assert.equal(alive.status, 200, "the server still answers");
      } finally {
        await fs.rm(path.join(proofsDir(), stored!), { recursive: true, force: true });
      }
    });

    it("names a proof of a title without letters or digits `achievement`, and leaves an empty description out", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const created = await submit(api, student, submission({ title: "?!… — ***", description: "" }));
      expectMessage(api, await accept(api, teacher.token, created.id, 3), Achievement);

      const response = await rawRequest(`${server.url}/api/v1/achievements/export`, {
        headers: { authorization: `Bearer ${student.token}` },
      });
      assert.equal(response.status, 200, describeResponse(response));
      const entries = await readZip(response.body);
      assert.deepEqual([...entries.keys()].sort(), ["proofs/001-achievement.png", "summary.txt"]);
      const summary = entries.get("summary.txt")?.toString("utf8") ?? "";
      const lines = summary.slice(summary.indexOf("?!… — ***")).split("\n");
      assert.match(lines[1] ?? "", /^ {2}kind: olympiad, points: 3, accepted: /);
      assert.match(lines[2] ?? "", /^ {2}submitted: /);
      assert.equal(lines[3], "  proof: proofs/001-achievement.png", "no description line comes before the proof");
    });

    it("leaves a proof lost from storage out of the archive, and the summary says it is missing", async () => {
      const api = apiFor(baseUrl, "json");
      const student = await signedIn();
      const teacher = await signedIn("teacher");
      const keptProof = jpegFile();
      const kept = await submit(api, student, submission({ title: "Kept proof" }), keptProof);
      const lost = await submit(api, student, submission({ title: "Lost proof" }));
      expectMessage(api, await accept(api, teacher.token, kept.id, 5), Achievement);
      expectMessage(api, await accept(api, teacher.token, lost.id, 7), Achievement);
      const [stored] = await proofFilesWhere("id = :id", { id: lost.id });
      await fs.rm(path.join(proofsDir(), stored!));

      const response = await rawRequest(`${server.url}/api/v1/achievements/export`, {
        headers: { authorization: `Bearer ${student.token}` },
      });
      assert.equal(response.status, 200, describeResponse(response));
      const entries = await readZip(response.body);
      const proofEntries = [...entries.keys()].filter((name) => name.startsWith("proofs/"));
      assert.equal(proofEntries.length, 1, proofEntries.join(", "));
      assert.ok(entries.get(proofEntries[0]!)?.equals(keptProof), "the proof still stored is in the archive");
      const summary = entries.get("summary.txt")?.toString("utf8") ?? "";
      assert.match(summary, /Accepted achievements: 2, points in all: 12/);
      assert.match(summary, /Lost proof\n(?: {2}.*\n)*? {2}proof: \(file missing from storage\)/);
      assert.match(summary, new RegExp(`Kept proof\\n(?: {2}.*\\n)*? {2}proof: ${proofEntries[0]}`));
    });

    it("gives an empty archive with a summary to someone with nothing accepted", async () => {
      const student = await signedIn();
      const response = await rawRequest(`${server.url}/api/v1/achievements/export`, {
        headers: { authorization: `Bearer ${student.token}` },
      });
      assert.equal(response.status, 200);
      const entries = await readZip(response.body);
      assert.deepEqual([...entries.keys()], ["summary.txt"]);
      assert.match(entries.get("summary.txt")?.toString("utf8") ?? "", /Accepted achievements: 0/);
    });
  });
});
