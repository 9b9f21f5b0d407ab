import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { QueryTypes } from "sequelize";
import { AppError } from "../../errors/index.js";
import {
  buildChallenge,
  buildContest,
  buildSubmission,
  buildTask,
  freshDay,
  SCHOOL_ZONE,
  todaysChallenge,
} from "../../testing/assignments.js";
import { testDatabase } from "../../testing/database.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import {
  assertSourceAcceptable,
  getSubmission,
  listSubmissions,
  receivedSource,
  rejudgeTask,
  submitSolution,
  truncateUtf8,
  type SubmitContext,
} from "./service.js";
import { presentSubmission } from "./presenter.js";
import { SubmissionThrottle } from "./throttle.js";

/**
 * submitSolution checks the contest window and the day before counting the rate limits, and the
 * insert checks them again at its own instant: what changes in between must still refuse the row.
 */

const sequelize = () => testDatabase().database.sequelize;

/** A throttle that lets everything through but runs `meanwhile` first: what happens between check and insert. */
class ThrottleWithMeanwhile extends SubmissionThrottle {
  constructor(private readonly meanwhile: () => Promise<void>) {
    super(sequelize(), { perWindow: 1000, windowSeconds: 60, perDay: 1000 });
  }

  override async consume(): Promise<void> {
    await this.meanwhile();
  }
}

const submissionsOf = async (userId: string): Promise<number> => {
  const [row] = await sequelize().query<{ count: string }>(
    "SELECT count(*) AS count FROM submissions WHERE user_id = :userId",
    { replacements: { userId }, type: QueryTypes.SELECT },
  );
  return Number(row?.count);
};

/** Asserts `submission` fails with a 422 naming `field` and that the student has no submission row. */
async function assertRefused(submission: Promise<unknown>, field: string, userId: string): Promise<void> {
  await assertRejects(submission, "failed_precondition", field);
  assert.equal(await submissionsOf(userId), 0);
}

describe("submitSolution (src/modules/submissions/service.ts): the window closing mid-request", () => {
  it("refuses a contest solution when the deadline passes between the check and the insert", async () => {
    const groupId = (await buildGroup()).id;
    const student = await buildUser({ groupId });
    const task = await buildTask({ languages: ["python"] });
    const contestId = await buildContest({ taskIds: [task.id], groupIds: [groupId] });
    const throttle = new ThrottleWithMeanwhile(async () => {
      await sequelize().query("UPDATE contests SET deadline = now() - interval '1 second' WHERE id = :contestId", {
        replacements: { contestId },
      });
    });
    await assertRefused(
      submitSolution(
        { sequelize: sequelize() },
        { id: student.id, role: "student", sessionId: randomUUID() },
        { taskId: task.id, contestId, language: "python", source: "print(1)\n" },
        { zone: SCHOOL_ZONE, throttle },
      ),
      "contestId",
      student.id,
    );
  });

  it("refuses a day-challenge solution when the day ends between the check and the insert", async () => {
    const student = await buildUser();
    const { day, task } = await todaysChallenge();
    // Midnight passing is played by moving the school to a zone whose date differs from the school's now.
    const [dates] = await sequelize().query<{ ahead: string; behind: string }>(
      `SELECT to_char(school_today('Pacific/Kiritimati'), 'YYYY-MM-DD') AS ahead,
              to_char(school_today('Pacific/Pago_Pago'), 'YYYY-MM-DD') AS behind`,
      { type: QueryTypes.SELECT },
    );
    const otherDayZone = dates?.ahead !== day ? "Pacific/Kiritimati" : "Pacific/Pago_Pago";
    assert.notEqual(otherDayZone === "Pacific/Kiritimati" ? dates?.ahead : dates?.behind, day);
    const context: SubmitContext = {
      zone: SCHOOL_ZONE,
      throttle: new ThrottleWithMeanwhile(async () => {
        context.zone = otherDayZone;
      }),
    };
    await assertRefused(
      submitSolution(
        { sequelize: sequelize() },
        { id: student.id, role: "student", sessionId: randomUUID() },
        { taskId: task.id, challengeDay: day, language: "python", source: "print(1)\n" },
        context,
      ),
      "challengeDay",
      student.id,
    );
  });
});

/** Asserts `work` rejects with an AppError with `code`, naming `field`. */
async function assertRejects(work: Promise<unknown>, code: string, field?: string): Promise<void> {
  const error = await work.then(
    () => assert.fail("no error"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof AppError);
  assert.equal(error.code, code);
  assert.deepEqual(
    error.fieldViolations.map((violation) => violation.field),
    field === undefined ? [] : [field],
  );
}

/** Asserts `work` throws an AppError with `code`, naming `field` when given. */
function assertAppError(work: () => unknown, code: string, field?: string): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, code);
    if (field !== undefined)
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        [field],
      );
    return true;
  });
}

describe("the source of a solution (src/modules/submissions/service.ts)", () => {
  it("refuses a source over 64 KiB (413), a blank one and one holding NUL (400), and takes exactly 64 KiB", () => {
    assertAppError(() => assertSourceAcceptable("x".repeat(64 * 1024 + 1)), "payload_too_large");
    assertAppError(() => assertSourceAcceptable(" \n\t"), "invalid_argument", "source");
    assertAppError(() => assertSourceAcceptable("print(1)\u0000"), "invalid_argument", "source");
    assert.doesNotThrow(() => assertSourceAcceptable("x".repeat(64 * 1024)));
  });

  it("reads a file part as UTF-8 text, refusing one that is not UTF-8 and a source sent twice", async () => {
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-source-"));
    try {
      const text = path.join(folder, "main.py");
      await fs.writeFile(text, "print('é')\n");
      const binary = path.join(folder, "main.bin");
      await fs.writeFile(binary, Buffer.from([0x70, 0xff, 0xfe, 0x00]));
      assert.equal(await receivedSource("", text), "print('é')\n");
      assert.equal(await receivedSource("print(2)\n", undefined), "print(2)\n");
      await assertRejects(receivedSource("print(2)\n", text), "invalid_argument", "source");
      await assertRejects(receivedSource("", binary), "unsupported_media_type", "source");
    } finally {
      await fs.rm(folder, { recursive: true, force: true });
    }
  });
});

describe("truncateUtf8 (src/modules/submissions/service.ts)", () => {
  it("keeps a text that fits and cuts a longer one at a character boundary, never mid-character", () => {
    assert.equal(truncateUtf8("abc", 3), "abc");
    assert.equal(truncateUtf8("abcdef", 4), "abcd");
    // "é" is two bytes: a cut after its first byte steps back before it.
    assert.equal(truncateUtf8("aé", 2), "a");
    // "😀" is four bytes: any cut inside it drops it whole.
    assert.equal(truncateUtf8("😀", 3), "");
  });
});

describe("submitSolution (src/modules/submissions/service.ts): what the task, contest and day must allow", () => {
  const send = (actor: { id: string; role: "admin" }, solution: Parameters<typeof submitSolution>[2]) =>
    submitSolution({ sequelize: sequelize() }, { ...actor, sessionId: randomUUID() }, solution, {
      zone: SCHOOL_ZONE,
      // Every check comes before the rate limits: none of these solutions may be counted.
      throttle: new ThrottleWithMeanwhile(() => Promise.reject(new Error("counted before every check passed"))),
    });

  it("refuses another contest's task, a closed contest, a past day, another language and an untested task (422)", async () => {
    const admin = { id: (await buildUser({ role: "admin" })).id, role: "admin" as const };
    const task = await buildTask({ languages: ["python"] });
    const source = "print(1)\n";
    const otherContest = await buildContest({ taskIds: [(await buildTask()).id] });
    await assertRefused(
      send(admin, { taskId: task.id, contestId: otherContest, language: "python", source }),
      "taskId",
      admin.id,
    );
    const closed = await buildContest({
      taskIds: [task.id],
      startsAt: new Date(Date.now() - 7_200_000),
      deadline: new Date(Date.now() - 3_600_000),
    });
    await assertRefused(
      send(admin, { taskId: task.id, contestId: closed, language: "python", source }),
      "contestId",
      admin.id,
    );
    const past = await freshDay("past");
    await buildChallenge(past, task.id);
    await assertRefused(
      send(admin, { taskId: task.id, challengeDay: past, language: "python", source }),
      "challengeDay",
      admin.id,
    );
    const today = await todaysChallenge();
    await assertRefused(
      send(admin, { taskId: task.id, challengeDay: today.day, language: "python", source }),
      "taskId",
      admin.id,
    );
    await assertRefused(send(admin, { taskId: task.id, language: "cpp", source }), "language", admin.id);
    const untested = await buildTask({ tests: [] });
    const error = await send(admin, { taskId: untested.id, language: "python", source }).catch(
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof AppError);
    assert.equal(error.code, "failed_precondition");
    assert.match(error.message, /no tests/);
    assert.equal(await submissionsOf(admin.id), 0);
  });
});

describe("submitSolution (src/modules/submissions/service.ts): a solution that passes every check", () => {
  it("is stored QUEUED with its contest and counted once", async () => {
    const student = await buildUser();
    const task = await buildTask({ languages: ["python"] });
    const contestId = await buildContest({ taskIds: [task.id], groupIds: [student.groupId] });
    let counted = 0;
    const row = await submitSolution(
      { sequelize: sequelize() },
      { id: student.id, role: "student", sessionId: randomUUID() },
      { taskId: task.id, contestId, language: "python", source: "print(1)\n" },
      { zone: SCHOOL_ZONE, throttle: new ThrottleWithMeanwhile(async () => void (counted += 1)) },
    );
    assert.equal(row.status, "queued");
    assert.equal(row.contestId, contestId);
    assert.equal(row.userId, student.id);
    assert.equal(counted, 1);
    assert.equal(await submissionsOf(student.id), 1);
    const read = await getSubmission(
      { sequelize: sequelize() },
      { id: student.id, role: "student", sessionId: "" },
      row.id,
    );
    assert.equal(read.id, row.id);
    await assertRejects(
      getSubmission({ sequelize: sequelize() }, { id: student.id, role: "student", sessionId: "" }, randomUUID()),
      "not_found",
    );
    await rolledBack(async (db) => {
      assert.equal(await rejudgeTask(db, task.id), 1);
      assert.equal(await rejudgeTask(db, randomUUID()), 0);
    });
  });
});

describe("listSubmissions and the presented submission (src/modules/submissions)", () => {
  it("lists everyone's submissions, newest first, to staff who name no user, task or contest", async () => {
    const admin = { id: (await buildUser({ role: "admin" })).id, role: "admin" as const, sessionId: "" };
    const task = await buildTask();
    const first = await buildSubmission({ userId: (await buildUser()).id, taskId: task.id });
    const second = await buildSubmission({ userId: (await buildUser()).id, taskId: (await buildTask()).id });
    const page = await listSubmissions({ sequelize: sequelize() }, admin, { limit: 2 });
    assert.deepEqual(
      page.items.map((row) => row.id),
      [second, first],
    );
    assert.notEqual(page.nextCursor, "");
  });

  it("shows a rejection without a rejector once the staff account that made it is gone", async () => {
    const student = await buildUser();
    const teacher = await buildUser({ role: "teacher" });
    const id = await buildSubmission({
      userId: student.id,
      taskId: (await buildTask()).id,
      verdict: "accepted",
      rejectedReason: "Copied.",
    });
    await sequelize().query("UPDATE submissions SET rejected_by = :teacherId WHERE id = :id", {
      replacements: { teacherId: teacher.id, id },
    });
    await sequelize().query("DELETE FROM users WHERE id = :teacherId", { replacements: { teacherId: teacher.id } });
    const row = await getSubmission({ sequelize: sequelize() }, { id: student.id, role: "student", sessionId: "" }, id);
    const rejection = presentSubmission(row).rejection;
    assert.equal(rejection?.reason, "Copied.");
    assert.equal(rejection?.byId, "");
  });
});
