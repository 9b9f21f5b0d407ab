import assert from "node:assert/strict";
import { assertNoSlotProcesses, compiledOn, programOf, testSandbox, testSlot, testSlots } from "../testing/judge.js";
import type { LanguageId } from "./languages.js";
import type { SandboxResult } from "./sandbox.js";
import type { JudgeSlot } from "./slots.js";
import {
  judgeTests,
  reportedTimeMs,
  runLimits,
  testVerdict,
  wallTimeLimitMs,
  type JudgeOutcome,
  type JudgeTest,
  type TaskLimits,
  type TestOutcome,
} from "./verdict.js";

const clean: SandboxResult = {
  exitCode: 0,
  signal: null,
  cpuMs: 10,
  wallMs: 12,
  memoryKb: 4000,
  stdout: Buffer.from("3\n"),
  stderr: Buffer.alloc(0),
  memoryLimitExceeded: false,
  cpuTimeExceeded: false,
  wallTimeExceeded: false,
  outputLimitExceeded: false,
  processLimitReached: false,
};

/** Tests of a+b: "a b" → a + b, for a = 1..count. */
function sumTests(count: number): JudgeTest[] {
  return Array.from({ length: count }, (_, i) => ({
    ordinal: i + 1,
    input: `${i + 1} ${10 * (i + 1)}\n`,
    expected: `${11 * (i + 1)}\n`,
  }));
}

const PYTHON_SUM = "a, b = map(int, input().split())\nprint(a + b)\n";
const CPP_SUM = "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}\n";
const LIMITS: TaskLimits = { timeLimitMs: 1000, memoryLimitMb: 64 };

/** Compiles and judges one submission on `slot`, recording the per-test callbacks. */
async function judge(
  language: LanguageId,
  source: string,
  tests: JudgeTest[],
  options: { slot?: JudgeSlot; limits?: TaskLimits; outputLimitBytes?: number } = {},
): Promise<JudgeOutcome & { reported: [TestOutcome, number, number][]; tookMs: number }> {
  const slot = options.slot ?? testSlot;
  const { outcome, dispose } = await compiledOn(slot, language, source);
  try {
    const reported: [TestOutcome, number, number][] = [];
    const started = performance.now();
    const judged = await judgeTests({
      sandbox: await testSandbox(),
      program: programOf(outcome),
      limits: options.limits ?? LIMITS,
      tests,
      checker: "LINES",
      slot,
      outputLimitBytes: options.outputLimitBytes,
      onTest: (test, finished, total) => {
        reported.push([test, finished, total]);
      },
    });
    return { ...judged, reported, tookMs: performance.now() - started };
  } finally {
    await dispose();
  }
}

describe("verdicts (src/judge/verdict.ts)", function () {
  this.timeout(60_000);

  describe("one test", () => {
    it("follows the contract's order: memory, time, output, runtime error, wrong answer, accepted", () => {
      const all = {
        ...clean,
        memoryLimitExceeded: true,
        cpuTimeExceeded: true,
        wallTimeExceeded: true,
        outputLimitExceeded: true,
        exitCode: null,
        signal: "SIGKILL" as const,
      };
      const never = () => assert.fail("the checker is not asked");
      assert.equal(testVerdict(all, never), "MEMORY_LIMIT");
      assert.equal(testVerdict({ ...all, memoryLimitExceeded: false }, never), "TIME_LIMIT");
      assert.equal(testVerdict({ ...all, memoryLimitExceeded: false, cpuTimeExceeded: false }, never), "TIME_LIMIT");
      const noTime = { ...all, memoryLimitExceeded: false, cpuTimeExceeded: false, wallTimeExceeded: false };
      assert.equal(testVerdict(noTime, never), "OUTPUT_LIMIT");
      assert.equal(testVerdict({ ...noTime, outputLimitExceeded: false }, never), "RUNTIME_ERROR");
      assert.equal(testVerdict({ ...clean, exitCode: 1 }, never), "RUNTIME_ERROR");
      assert.equal(
        testVerdict({ ...clean, exitCode: null, signal: "SIGSEGV" }, () => true),
        "RUNTIME_ERROR",
      );
      assert.equal(
        testVerdict(clean, () => false),
        "WRONG_ANSWER",
      );
      assert.equal(
        testVerdict(clean, () => true),
        "ACCEPTED",
      );
    });

    it("gives CPU time, or the wall time that ended a waiting program", () => {
      assert.equal(reportedTimeMs(clean), 10);
      assert.equal(reportedTimeMs({ ...clean, cpuTimeExceeded: true, cpuMs: 1010, wallMs: 1100 }), 1010);
      assert.equal(reportedTimeMs({ ...clean, wallTimeExceeded: true, cpuMs: 3, wallMs: 2001 }), 2001);
    });

    it("derives the wall limit as max(2 × limit, limit + 1 s) and the run limits from the task", () => {
      assert.equal(wallTimeLimitMs(100), 1100);
      assert.equal(wallTimeLimitMs(1000), 2000);
      assert.equal(wallTimeLimitMs(2500), 5000);
      const limits = runLimits({ timeLimitMs: 1500, memoryLimitMb: 256 }, 1234);
      assert.equal(limits.cpuTimeMs, 1500);
      assert.equal(limits.wallTimeMs, 3000);
      assert.equal(limits.memoryBytes, 256 * 1024 * 1024);
      assert.equal(limits.outputBytes, 1234);
      assert.equal(runLimits(LIMITS).outputBytes, 16 * 1024 * 1024);
    });
  });

  describe("judging a submission in the real sandbox", () => {
    before(async () => {
      await testSandbox();
    });
    afterEach(() => {
      assertNoSlotProcesses();
    });

    it("accepts a correct Python a+b, reporting every test through the callback", async () => {
      const judged = await judge("PYTHON", PYTHON_SUM, sumTests(5));
      assert.equal(judged.verdict, "ACCEPTED");
      assert.equal(judged.failedTest, null);
      assert.equal(judged.passedTests, 5);
      assert.deepEqual(
        judged.tests.map((test) => [test.ordinal, test.verdict]),
        [1, 2, 3, 4, 5].map((ordinal) => [ordinal, "ACCEPTED"]),
      );
      assert.deepEqual(
        judged.reported.map(([test, finished, total]) => [test.ordinal, finished, total]),
        [1, 2, 3, 4, 5].map((ordinal) => [ordinal, ordinal, 5]),
      );
      assert.equal(judged.maxTimeMs, Math.max(...judged.tests.map((test) => test.timeMs)));
      assert.equal(judged.maxMemoryKb, Math.max(...judged.tests.map((test) => test.memoryKb)));
      assert.ok(judged.maxMemoryKb > 0 && judged.maxMemoryKb < 64 * 1024);
    });

    it("accepts a correct C++ a+b", async () => {
      const judged = await judge("CPP", CPP_SUM, sumTests(5));
      assert.deepEqual([judged.verdict, judged.failedTest, judged.passedTests], ["ACCEPTED", null, 5]);
    });

    it("stops at the first failed test: WRONG_ANSWER on test 4 reports tests 1–4 only", async () => {
      const wrongFromFour = "a, b = map(int, input().split())\nprint(a + b + (1 if a >= 4 else 0))\n";
      // Given out of order: the tests run by ordinal.
      const judged = await judge("PYTHON", wrongFromFour, sumTests(6).reverse());
      assert.deepEqual([judged.verdict, judged.failedTest, judged.passedTests], ["WRONG_ANSWER", 4, 3]);
      assert.deepEqual(
        judged.tests.map((test) => [test.ordinal, test.verdict]),
        [
          [1, "ACCEPTED"],
          [2, "ACCEPTED"],
          [3, "ACCEPTED"],
          [4, "WRONG_ANSWER"],
        ],
      );
      assert.equal(judged.reported.length, 4);
    });

    it("gives TIME_LIMIT on test 1 for an endless loop, within the limit + 1.5 s", async () => {
      const judged = await judge("PYTHON", "while True:\n    pass\n", sumTests(3));
      assert.deepEqual([judged.verdict, judged.failedTest, judged.tests.length], ["TIME_LIMIT", 1, 1]);
      assert.ok(judged.tookMs < LIMITS.timeLimitMs + 1500, `took ${judged.tookMs} ms`);
    });

    it("gives TIME_LIMIT by wall time for a program that sleeps", async () => {
      const judged = await judge("PYTHON", "import time\ntime.sleep(60)\n", sumTests(2));
      assert.deepEqual([judged.verdict, judged.failedTest], ["TIME_LIMIT", 1]);
      const [test] = judged.tests;
      assert.ok(test && test.timeMs >= wallTimeLimitMs(LIMITS.timeLimitMs), `time ${test?.timeMs} ms`);
    });

    it("gives MEMORY_LIMIT, not RUNTIME_ERROR, for a memory hog under 64 MB", async () => {
      const hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n";
      const judged = await judge("PYTHON", hog, sumTests(2));
      assert.deepEqual([judged.verdict, judged.failedTest], ["MEMORY_LIMIT", 1]);
      assert.ok(judged.maxMemoryKb >= 60 * 1024, `${judged.maxMemoryKb} KiB`);

      const cppHog =
        "#include <vector>\n#include <cstdio>\nint main(){std::vector<char*> v;" +
        "for(;;){char*p=new char[1<<20];for(int i=0;i<(1<<20);i+=4096)p[i]=1;v.push_back(p);}}\n";
      const cpp = await judge("CPP", cppHog, sumTests(1));
      assert.equal(cpp.verdict, "MEMORY_LIMIT");
    });

    it("gives OUTPUT_LIMIT for an output flood", async () => {
      const flood = "import sys\nwhile True:\n    sys.stdout.write('1' * 65536)\n";
      const judged = await judge("PYTHON", flood, sumTests(2), { outputLimitBytes: 1024 * 1024 });
      assert.deepEqual([judged.verdict, judged.failedTest], ["OUTPUT_LIMIT", 1]);
    });

    it("gives RUNTIME_ERROR for an exception and for a crash", async () => {
      const python = await judge("PYTHON", "raise ValueError('no')\n", sumTests(2));
      assert.deepEqual([python.verdict, python.failedTest], ["RUNTIME_ERROR", 1]);
      const cpp = await judge("CPP", "int main(){volatile int*p=nullptr;return *p;}\n", sumTests(2));
      assert.deepEqual([cpp.verdict, cpp.failedTest], ["RUNTIME_ERROR", 1]);
    });

    it("judges a correct submission normally on one slot while a fork bomb runs on another", async () => {
      const bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
      const bombed = judge("PYTHON", bomb, sumTests(2), { slot: testSlots[1] });
      const correct = await judge("CPP", CPP_SUM, sumTests(5), { slot: testSlots[2] });
      assert.equal(correct.verdict, "ACCEPTED");
      assert.ok(correct.maxTimeMs < 500, `the correct program's slowest test took ${correct.maxTimeMs} ms of CPU`);
      const bombVerdict = (await bombed).verdict;
      assert.ok(["TIME_LIMIT", "RUNTIME_ERROR"].includes(bombVerdict), bombVerdict);
    });

    it("takes tests given as bytes as they are, and checks tokens when the task says so", async () => {
      const { outcome, dispose } = await compiledOn(
        testSlot,
        "PYTHON",
        "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])\n",
      );
      try {
        const tests: JudgeTest[] = [
          // Not UTF-8: the bytes must reach the program and the checker unchanged.
          { ordinal: 1, input: Buffer.from([0x31, 0xff, 0x20, 0x32]), expected: Buffer.from([0x32, 0x20, 0xff, 0x31]) },
          { ordinal: 2, input: Buffer.from("a\n\nb"), expected: Buffer.from("  b   a  ") },
        ];
        const judged = await judgeTests({
          sandbox: await testSandbox(),
          program: programOf(outcome),
          limits: LIMITS,
          tests,
          checker: "TOKENS",
          slot: testSlot,
        });
        assert.deepEqual([judged.verdict, judged.failedTest, judged.passedTests], ["ACCEPTED", null, 2]);
      } finally {
        await dispose();
      }
    });

    it("refuses to judge without tests", async () => {
      await assert.rejects(judge("PYTHON", PYTHON_SUM, []), RangeError);
    });
  });
});
