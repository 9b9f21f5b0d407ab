import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../logging/logger.js";
import { countStatements } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { inPeriodicJob, startPeriodicJob } from "./periodic.js";
import { within } from "./within.js";

describe("background jobs (src/lifecycle/periodic.ts)", () => {
  it("runs after the first delay, then after each pause, never two rounds at once", async () => {
    let running = 0;
    let mostAtOnce = 0;
    const startedAt: number[] = [];
    const origin = performance.now();
    const job = startPeriodicJob(
      "test",
      async () => {
        startedAt.push(performance.now() - origin);
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await sleep(60);
        running--;
      },
      { firstAfterMs: 50, everyMs: 10 },
      createLogger("silent"),
    );
    await sleep(400);
    await job.stop();
    assert.equal(mostAtOnce, 1);
    assert.ok(startedAt.length >= 3, `${startedAt.length} rounds`);
    assert.ok(startedAt[0]! >= 45, `the first round started after ${startedAt[0]} ms`);
    for (let round = 1; round < startedAt.length; round++) {
      assert.ok(startedAt[round]! - startedAt[round - 1]! >= 65, "a round starts after the previous one ended");
    }
  });

  it("stops by waiting for the round in progress, and starts no other", async () => {
    let rounds = 0;
    let finished = 0;
    const job = startPeriodicJob(
      "test",
      async () => {
        rounds++;
        await sleep(200);
        finished++;
      },
      { firstAfterMs: 0, everyMs: 0 },
      createLogger("silent"),
    );
    await sleep(50);
    assert.equal(rounds, 1);
    await job.stop();
    assert.equal(finished, 1, "stop resolved after the round in progress finished");
    await sleep(100);
    assert.equal(rounds, 1, "no round started after stop");
  });

  it("tells a periodic job's statements from a request's: the count of a request's SQL leaves them out", async () => {
    const seen: boolean[] = [];
    let beats = 0;
    const heartbeat = startPeriodicJob(
      "test",
      async () => {
        seen.push(inPeriodicJob());
        await testDatabase().database.sequelize.query("SELECT 1");
        seen.push(inPeriodicJob());
        beats++;
      },
      { firstAfterMs: 0, everyMs: 5 },
      createLogger("silent"),
    );
    try {
      const { statements } = await countStatements(async () => {
        const deadline = Date.now() + 5_000;
        while (beats < 3 && Date.now() < deadline) await sleep(5);
        await testDatabase().database.sequelize.query("SELECT 2");
      });
      assert.ok(beats >= 3, `${beats} rounds ran while counting`);
      assert.equal(statements, 1, "only the work's own statement");
    } finally {
      await heartbeat.stop();
    }
    assert.ok(seen.length > 0 && seen.every(Boolean), "inside a round, before and after its awaits");
    assert.equal(inPeriodicJob(), false);
  });

  it("logs a failed round as a warning and keeps the schedule", async () => {
    const lines: string[] = [];
    let rounds = 0;
    const job = startPeriodicJob(
      "flaky",
      async () => {
        rounds++;
        throw new Error("database away");
      },
      { firstAfterMs: 0, everyMs: 20 },
      createLogger("warn", { write: (line: string) => void lines.push(line) }),
    );
    await sleep(150);
    await job.stop();
    assert.ok(rounds >= 2, `${rounds} rounds`);
    const first = JSON.parse(lines[0] ?? "{}") as { level?: number; job?: string; err?: { message?: string } };
    assert.equal(first.level, 40);
    assert.equal(first.job, "flaky");
    assert.equal(first.err?.message, "database away");
  });
});

describe("within (src/lifecycle/within.ts)", () => {
  it("gives the work's value when it settles in time, the fallback otherwise", async () => {
    assert.equal(await within(sleep(10, "done"), 500, "late"), "done");
    const started = performance.now();
    assert.equal(await within(new Promise<never>(() => undefined), 50, "late"), "late");
    assert.ok(performance.now() - started < 1000);
    assert.equal(await within(sleep(20, "done"), Number.POSITIVE_INFINITY, "late"), "done");
    await assert.rejects(within(Promise.reject(new Error("failed")), 500, "late"), /failed/);
  });
});
