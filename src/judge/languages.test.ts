import assert from "node:assert/strict";
import fs from "node:fs/promises";
import {
  assertNoSlotProcesses,
  compiledOn,
  FAKE_SANDBOX_READY,
  programOf,
  testSandbox,
  testSlot,
  withFakeBubblewrap,
} from "../testing/judge.js";
import {
  COMPILE_LIMITS,
  COMPILE_LOG_LIMIT_BYTES,
  languageVersions,
  truncateLog,
  type CompileOutcome,
  type LanguageId,
} from "./languages.js";
import { Sandbox } from "./sandbox.js";

/** Whether an ELF64 file names a program interpreter (a PT_INTERP header): dynamically linked ones do. */
function hasProgramInterpreter(elf: Buffer): boolean {
  const headersAt = Number(elf.readBigUInt64LE(0x20));
  const headerSize = elf.readUInt16LE(0x36);
  const headers = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  return Array.from({ length: headers }, (_, i) => elf.readUInt32LE(headersAt + i * headerSize)).includes(PT_INTERP);
}

describe("languages (src/judge/languages.ts)", function () {
  this.timeout(60_000);

  before(async () => {
    await testSandbox();
  });
  afterEach(() => {
    assertNoSlotProcesses();
  });

  describe("PYTHON", () => {
    it("checks the syntax in the sandbox and runs python3 -I on the source", async () => {
      const { outcome, workspace, dispose } = await compiledOn(
        testSlot,
        "PYTHON",
        "print(sum(map(int, input().split())))\n",
      );
      try {
        const program = programOf(outcome);
        assert.deepEqual(program.argv, ["/usr/bin/python3", "-I", "/box/main.py"]);
        assert.equal(program.workspace, workspace);
        assert.equal(outcome.log, "");
        assert.deepEqual(await fs.readdir(workspace.dir), ["main.py"], "the check wrote nothing (no .pyc)");
      } finally {
        await dispose();
      }
    });

    it("gives a syntax error as a compile failure with the interpreter's message", async () => {
      const { outcome, dispose } = await compiledOn(testSlot, "PYTHON", "a = 1\nprint(a +)\n");
      await dispose();
      assert.equal(outcome.ok, false);
      assert.match(outcome.log, /File "main\.py", line 2/);
      assert.match(outcome.log, /SyntaxError: invalid syntax/);
    });

    it("refuses a source with a NUL byte as a compile failure, not a crash of the judge", async () => {
      const { outcome, dispose } = await compiledOn(testSlot, "PYTHON", "print(1)\0\n");
      await dispose();
      assert.equal(outcome.ok, false);
      assert.match(outcome.log, /null bytes/);
    });
  });

  describe("CPP", () => {
    it("compiles a static binary with g++ -std=c++17 -O2 into the work folder", async () => {
      const source = "#include <bits/stdc++.h>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n";
      const { outcome, workspace, dispose } = await compiledOn(testSlot, "CPP", source);
      try {
        const program = programOf(outcome);
        assert.deepEqual(program.argv, ["/box/main"]);
        const binary = await fs.readFile(workspace.hostPath("main"));
        assert.equal(binary.subarray(1, 4).toString(), "ELF");
        assert.equal(hasProgramInterpreter(binary), false, "linked statically: no dynamic loader named");
      } finally {
        await dispose();
      }
    });

    it("gives compile errors as a failure, the log cut to 8 KiB", async () => {
      const errors = Array.from({ length: 300 }, (_, i) => `int f${i}() { return undefined_name_${i}; }`).join("\n");
      const { outcome, dispose } = await compiledOn(testSlot, "CPP", `${errors}\nint main() {}\n`);
      await dispose();
      assert.equal(outcome.ok, false);
      assert.match(outcome.log, /error: ‘undefined_name_0’ was not declared in this scope/);
      assert.ok(Buffer.byteLength(outcome.log) <= COMPILE_LOG_LIMIT_BYTES, `${Buffer.byteLength(outcome.log)} bytes`);
      assert.match(outcome.log, /… \(truncated\)$/);
    });

    it("ends #include </dev/zero> within the compile limits, as a compile failure", async () => {
      const started = performance.now();
      const { outcome, dispose } = await compiledOn(testSlot, "CPP", "#include </dev/zero>\nint main() {}\n");
      await dispose();
      const tookMs = performance.now() - started;
      assert.equal(outcome.ok, false);
      assert.ok(tookMs < COMPILE_LIMITS.wallTimeMs + 5_000, `took ${tookMs} ms`);
      if (outcome.ok) return;
      // cc1plus reads /dev/zero into an ever larger buffer until the cgroup's memory limit stops it.
      assert.equal(outcome.result.memoryLimitExceeded || outcome.result.cpuTimeExceeded, true);
      assert.match(outcome.log, /Compilation exceeded the (memory|time) limit \((512 MB|10 s)\)\.$/);
    });

    it("stops a compiler that computes forever at compile time, as a compile failure over the time limit", async () => {
      // g++ gives up on one constant evaluation after 2^25 operations (seconds of CPU); with a different
      // argument each is evaluated anew, so together they outlast the compile's CPU limit.
      const source = [
        "constexpr long spin(long seed) {",
        "  long s = seed;",
        "  for (long i = 0; i < 200000; i++) for (long j = 0; j < 200000; j++) s += j;",
        "  return s;",
        "}",
        ...Array.from({ length: 6 }, (_, seed) => `static_assert(spin(${seed}) != 0);`),
        "int main() {}",
        "",
      ].join("\n");
      const { outcome, dispose } = await compiledOn(testSlot, "CPP", source);
      await dispose();
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.result.cpuTimeExceeded || outcome.result.wallTimeExceeded, true);
      assert.equal(outcome.result.memoryLimitExceeded, false);
      assert.match(outcome.log, /Compilation exceeded the time limit \(10 s\)\.$/);
    });

    it("cannot read the host's files at compile time either", async () => {
      const { outcome, dispose } = await compiledOn(testSlot, "CPP", '#include "/etc/shadow"\nint main() {}\n');
      await dispose();
      assert.equal(outcome.ok, false);
      assert.match(outcome.log, /\/etc\/shadow: No such file or directory/);
    });
  });

  describe("a compiler that misbehaves (a stand-in for the sandbox plays it)", () => {
    /** Compiles `language` on a sandbox whose bubblewrap, once ready, runs `compiler` instead. */
    async function compiledBy(language: LanguageId, compiler: string): Promise<CompileOutcome> {
      return withFakeBubblewrap(`${FAKE_SANDBOX_READY}\n${compiler}`, async (bwrapPath) => {
        const { outcome, dispose } = await compiledOn(
          testSlot,
          language,
          "int main() {}\n",
          await Sandbox.open({ bwrapPath }),
        );
        await dispose();
        return outcome;
      });
    }

    it("gives a compiler killed by a signal as a compile failure naming the signal after its words", async () => {
      const outcome = await compiledBy("CPP", "echo 'internal compiler error: Segmentation fault' >&2\nkill -SEGV $$");
      assert.equal(outcome.ok, false);
      assert.equal(outcome.log, "internal compiler error: Segmentation fault\nThe compiler was killed by SIGSEGV.");
    });

    it("says a compiler that floods its output printed too much, after as much of the output as fits", async () => {
      const outcome = await compiledBy("PYTHON", "yes 'warning: unused variable' | head -c 200000");
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.result.outputLimitExceeded, true);
      assert.ok(Buffer.byteLength(outcome.log) <= COMPILE_LOG_LIMIT_BYTES, `${Buffer.byteLength(outcome.log)} bytes`);
      assert.match(outcome.log, /^warning: unused variable\n/);
      assert.match(outcome.log, /\n… \(truncated\)\nCompilation printed too much\.$/);
    });

    it("is a fault, not a verdict, when the C++ compiler claims success without writing the program", async () => {
      await assert.rejects(compiledBy("CPP", "exit 0"), {
        name: "JudgeFault",
        message: "the CPP compiler succeeded without writing main",
      });
    });
  });

  it("cuts a log to the byte limit without splitting a UTF-8 character", () => {
    assert.equal(truncateLog("short"), "short");
    const cut = truncateLog("я".repeat(5000), 101);
    assert.ok(Buffer.byteLength(cut) <= 101);
    assert.match(cut, /^я+\n… \(truncated\)$/);
    assert.equal(cut.includes("\uFFFD"), false);
  });

  it("reports the installed runtime versions", async () => {
    const versions = await languageVersions();
    assert.match(versions.PYTHON, /^Python 3\.\d+\.\d+$/);
    assert.match(versions.CPP, /^g\+\+ \d+\.\d+/);
  });
});
