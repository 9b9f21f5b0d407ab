import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AppError } from "../../errors/index.js";
import { buildGroup, buildUser } from "../../testing/factories.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { importUsers } from "./import.service.js";

describe("importUsers (src/modules/users/import.service.ts), called by a teacher", () => {
  it("names each bad line: a malformed field by its column, a teacher's row by its role", async () => {
    const group = await buildGroup();
    const teacher = await buildUser({ role: "teacher", groupId: group.id });
    const tag = randomUUID().slice(0, 8);
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-import-"));
    const file = path.join(folder, "users.csv");
    await fs.writeFile(
      file,
      [
        "firstName,lastName,email,role,password,learningClass,groupName",
        `Stu,Dent,not-an-email,student,good-password,8A,${group.name}`,
        `Tea,Cher,teacher-${tag}@example.test,teacher,good-password,,${group.name}`,
        "",
      ].join("\r\n"),
    );
    try {
      await rolledBack(async (db) => {
        const error = await importUsers(db, { id: teacher.id, role: "teacher", sessionId: "" }, file, false).catch(
          (caught: unknown) => caught,
        );
        assert.ok(error instanceof AppError);
        assert.equal(error.code, "failed_precondition");
        assert.deepEqual(
          error.fieldViolations.map((violation) => violation.field),
          ["lines.2.email", "lines.3.role"],
        );
      });
    } finally {
      await fs.rm(folder, { recursive: true, force: true });
    }
  });
});
