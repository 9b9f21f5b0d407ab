import { inTransaction, type Db } from "../../db/db.js";
import type { Logger } from "../../logging/logger.js";
import { schoolToday, setChallenge } from "../challenges/service.js";
import { createContest } from "../contests/service.js";
import { DEMO_GROUP_NAME, demoAccounts } from "../users/bootstrap.js";
import { demoCast } from "./queries.js";
import { createTask } from "./service.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** What the demo made, for the boot log and tests. */
export interface DemoAssignments {
  taskId: string;
  day: string;
  contestId: string;
}

/** The demo task: A + B, with two demo tests and four hidden ones (large numbers, negatives, zero). */
const demoTask = {
  title: "A + B",
  statement: [
    "Read two integers *a* and *b* (|a|, |b| ≤ 10⁹) from one line and print their sum.",
    "",
    "**Input:** `a b`  ",
    "**Output:** `a + b`",
  ].join("\n"),
  timeLimitMs: 1000,
  memoryLimitMb: 256,
  languages: ["python", "cpp"] as ("python" | "cpp")[],
  checker: "tokens" as const,
  tests: [
    { input: "1 2\n", output: "3\n", demo: true },
    { input: "-5 7\n", output: "2\n", demo: true },
    { input: "1000000000 1000000000\n", output: "2000000000\n", demo: false },
    { input: "-1000000000 -1000000000\n", output: "-2000000000\n", demo: false },
    { input: "0 0\n", output: "0\n", demo: false },
    { input: "123456789 -987654321\n", output: "-864197532\n", demo: false },
  ],
};

/**
 * Sets up something to try at once on a fresh demo database: the A + B task (by the demo teacher),
 * today's day challenge with it, and a contest open for two weeks for the demo group, through the
 * services (so every rule applies) in one transaction.
 * @param zone - the school's time zone (today's date)
 * @param cast - the demo teacher's email and the demo group's name (the demo accounts' by default)
 * @returns what was made, or null when the demo teacher or group is missing
 */
export async function seedAssignmentsDemo(
  db: Db,
  zone: string,
  logger: Logger,
  cast: { teacherEmail: string; groupName: string } = {
    teacherEmail: demoAccounts.find((account) => account.role === "teacher")?.email ?? "",
    groupName: DEMO_GROUP_NAME,
  },
): Promise<DemoAssignments | null> {
  const made = await inTransaction(db, async (tx) => {
    const found = await demoCast(tx, cast.teacherEmail, cast.groupName);
    if (!found) return null;
    const teacher = { id: found.teacherId, role: "teacher" as const, sessionId: "" };
    const task = await createTask(tx, teacher, demoTask);
    const day = await schoolToday(tx, zone);
    await setChallenge(tx, teacher, day, task.id, zone);
    const now = Date.now();
    const contest = await createContest(tx, teacher, {
      title: "Demo homework",
      description: "Solve A + B in Python or C++ before the deadline.",
      startsAt: new Date(now - 60_000),
      deadline: new Date(now + 14 * DAY_MS),
      audience: { groupIds: [found.groupId], learningClasses: [] },
      taskIds: [task.id],
      marks: { mark5: 1, mark4: 1, mark3: 1 },
    });
    return { taskId: task.id, day, contestId: contest.id };
  });
  if (made) logger.warn(made, "created the demo task, today's day challenge and an open demo contest (see README)");
  return made;
}
