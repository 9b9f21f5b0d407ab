import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import {
  assertNoSlotProcesses,
  FAKE_SANDBOX_READY,
  runPython,
  SMALL_LIMITS,
  testSandbox,
  testSlot,
  testSlots,
  textOf,
  withFakeBubblewrap,
} from "../testing/judge.js";
import { openCgroups, type CgroupHierarchy } from "./cgroups.js";
import { JudgeFault } from "./faults.js";
import { DEFAULT_CGROUP_PARENT, probeSandbox, Sandbox } from "./sandbox.js";
import { processesOfUser } from "./slots.js";
import { Workspace } from "./workspace.js";

/** Runs `script` and returns its standard output parsed as JSON (the scripts print one JSON value). */
async function pythonJson(script: string, options: Parameters<typeof runPython>[1] = {}): Promise<unknown> {
  const result = await runPython(`import json, os, sys\n${script}`, options);
  assert.equal(result.exitCode, 0, result.stderr.toString());
  return JSON.parse(textOf(result)) as unknown;
}

/** A Python snippet that tries `action(path)` and records the errno name or "ok". */
const TRY_HELPER = `
import errno
def attempt(action):
    try:
        action()
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
`;

describe("the judge's sandbox (src/judge/sandbox.ts)", function () {
  this.timeout(60_000);

  before(async () => {
    await testSandbox();
  });
  afterEach(() => {
    assertNoSlotProcesses();
  });

  it("probes as available on this machine and names bubblewrap and the cgroup layout", async () => {
    const probe = await probeSandbox({}, testSlot);
    assert.equal(probe.available, true, probe.available ? "" : probe.reason);
    assert.match(probe.available ? probe.description : "", /^bubblewrap \d.*, cgroup v[12] \(/);
  });

  it("runs as the slot's unprivileged user, without groups or capabilities, in /box, with a minimal environment", async () => {
    const seen = (await pythonJson(`
status = open("/proc/self/status").read()
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
print(json.dumps({
  "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
  "groups": os.getgroups(),
  "caps": [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")],
  "noNewPrivs": [line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs")],
  "env": dict(os.environ),
  "cwd": os.getcwd(),
  "fds": fds,
  "pid": os.getpid(),
  "hostname": os.uname().nodename,
  "oomScoreAdj": open("/proc/self/oom_score_adj").read().strip(),
}))`)) as Record<string, unknown>;
    const { uid, gid } = testSlot;
    assert.deepEqual(seen.ids, [uid, uid, gid, gid]);
    assert.deepEqual(seen.groups, []);
    assert.deepEqual(seen.caps, ["0000000000000000"]);
    assert.deepEqual(seen.noNewPrivs, ["1"]);
    assert.deepEqual(seen.env, { PATH: "/usr/bin:/bin", HOME: "/tmp", TMPDIR: "/tmp", LANG: "C.UTF-8", PWD: "/box" });
    assert.equal(seen.cwd, "/box");
    // 0-2 and the descriptor listdir itself held: nothing of the worker's leaks in.
    assert.deepEqual(seen.fds, [0, 1, 2, 3]);
    assert.equal(seen.pid, 2, "the program's PID is 2 of its own PID namespace, under the sandbox's shell");
    assert.equal(seen.hostname, "judge");
    assert.equal(seen.oomScoreAdj, "1000", "the program, not bubblewrap's monitor, is the out-of-memory victim");
  });

  it("feeds a large input through a pipe and captures the whole output", async () => {
    const input = Buffer.from(Array.from({ length: 400_000 }, (_, i) => `${i * 7919}`).join(" "));
    const result = await runPython(
      "import sys, hashlib\ndata = sys.stdin.buffer.read()\nprint(len(data), hashlib.sha256(data).hexdigest())\nsys.stdout.write('y' * 500000)",
      { stdin: input },
    );
    assert.equal(result.exitCode, 0, result.stderr.toString());
    const [summary, rest] = [textOf(result).slice(0, textOf(result).indexOf("\n")), textOf(result).split("\n")[1]];
    assert.equal(summary, `${input.length} ${createHash("sha256").update(input).digest("hex")}`);
    assert.equal(rest, "y".repeat(500_000));
  });

  it("keeps only the first stderrBytes of standard error and lets the program finish", async () => {
    const result = await runPython("import sys\nsys.stderr.write('e' * 300000)\nprint('done')", {
      limits: { stderrBytes: 1000 },
    });
    assert.equal(result.exitCode, 0);
    assert.equal(textOf(result), "done\n");
    assert.equal(result.stderr.toString(), "e".repeat(1000));
  });

  it("has no network: a TCP connection (even to a port open on the host's loopback) and a name lookup fail", async () => {
    const server = net.createServer((socket) => socket.end("hello from the host\n"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    try {
      const seen = (await pythonJson(`
import socket
${TRY_HELPER}
def lookup():
    try:
        socket.getaddrinfo("deb.debian.org", 443)
    except socket.gaierror as error:
        raise OSError(errno.EHOSTUNREACH, str(error))
print(json.dumps({
  "internet": attempt(lambda: socket.create_connection(("1.1.1.1", 80), timeout=3)),
  "hostLoopback": attempt(lambda: socket.create_connection(("127.0.0.1", ${port}), timeout=3)),
  "dns": attempt(lookup),
  "interfaces": sorted(name for _, name in socket.if_nameindex()),
}))`)) as Record<string, unknown>;
      assert.equal(seen.internet, "ENETUNREACH");
      assert.equal(seen.hostLoopback, "ECONNREFUSED");
      assert.equal(seen.dns, "EHOSTUNREACH", "the name lookup failed");
      assert.deepEqual(seen.interfaces, ["lo"]);
    } finally {
      server.close();
    }
  });

  it("shows a read-only system: writes to /usr, /, /etc, /dev and the work folder fail; /tmp is private and writable", async () => {
    const sandbox = await testSandbox();
    const workspace = await Workspace.create(testSlot);
    const hostTmp = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-host-tmp-"));
    await fs.writeFile(path.join(hostTmp, "marker"), "host");
    try {
      await workspace.write(
        "main.py",
        `import json, os\n${TRY_HELPER}
def write(path):
    return lambda: open(path, "w").write("x")
print(json.dumps({
  "usr": attempt(write("/usr/bin/evil")),
  "root": attempt(write("/evil")),
  "etc": attempt(write("/etc/evil")),
  "dev": attempt(write("/dev/evil")),
  "box": attempt(write("/box/evil")),
  "boxSource": attempt(write("/box/main.py")),
  "boxChmod": attempt(lambda: os.chmod("/box/main.py", 0o777)),
  "boxMkdir": attempt(lambda: os.mkdir("/box/d")),
  "tmp": attempt(write("/tmp/fine")),
  "devNull": attempt(write("/dev/null")),
  "hostTmp": attempt(lambda: open(${JSON.stringify(path.join(hostTmp, "marker"))}).read()),
  "roots": sorted(os.listdir("/")),
  "tmpListing": sorted(os.listdir("/tmp")),
}))`,
      );
      const result = await sandbox.run({
        slot: testSlot,
        argv: ["/usr/bin/python3", "-I", "/box/main.py"],
        workDir: workspace.dir,
        limits: SMALL_LIMITS,
      });
      assert.equal(result.exitCode, 0, result.stderr.toString());
      const seen = JSON.parse(textOf(result)) as Record<string, unknown>;
      for (const where of ["usr", "root", "etc", "dev", "box", "boxSource", "boxChmod", "boxMkdir"]) {
        assert.equal(seen[where], "EROFS", `writing ${where}`);
      }
      assert.equal(seen.tmp, "ok");
      assert.equal(seen.devNull, "ok");
      assert.equal(seen.hostTmp, "ENOENT", "the host's /tmp is not the sandbox's");
      assert.deepEqual(seen.roots, ["bin", "box", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr"]);
      assert.deepEqual(seen.tmpListing, ["fine"]);
      assert.equal(
        await fs.readFile(path.join(workspace.dir, "main.py"), "utf8").then((text) => text.length > 0),
        true,
      );
      await assert.rejects(fs.access(path.join(workspace.dir, "evil")), "nothing was written into the work folder");
    } finally {
      await workspace.dispose();
      await fs.rm(hostTmp, { recursive: true, force: true });
    }
  });

  it("keeps the worker's test cache and the host's folders out of reach, also through /proc", async () => {
    const cache = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-test-cache-"));
    await fs.chmod(cache, 0o755);
    const expected = path.join(cache, "expected-1.txt");
    await fs.writeFile(expected, "the hidden answer", { mode: 0o644 });
    try {
      const seen = (await pythonJson(`
${TRY_HELPER}
read = lambda path: lambda: open(path).read()
print(json.dumps({
  "cache": attempt(read(${JSON.stringify(expected)})),
  "viaProcRoot": attempt(read("/proc/1/root" + ${JSON.stringify(expected)})),
  "hostPasswd": attempt(read("/etc/passwd")),
  "root": attempt(lambda: os.listdir("/root")),
  "work": attempt(lambda: os.listdir("/work")),
  "home": attempt(lambda: os.listdir("/home")),
  "var": attempt(lambda: os.listdir("/var")),
  "sys": attempt(lambda: os.listdir("/sys")),
  "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
}))`)) as Record<string, unknown>;
      for (const where of ["cache", "viaProcRoot", "hostPasswd", "root", "work", "home", "var", "sys"]) {
        assert.equal(seen[where], "ENOENT", where);
      }
      assert.deepEqual(seen.processes, [1, 2], "only the sandbox's shell and the program are visible");
    } finally {
      await fs.rm(cache, { recursive: true, force: true });
    }
  });

  it("caps /tmp, the size of a file and the number of open files", async () => {
    const seen = (await pythonJson(
      `
${TRY_HELPER}
def fill(path, size):
    with open(path, "wb") as f:
        f.write(b"x" * size)
def open_many():
    kept = [open("/dev/null") for _ in range(1000)]
print(json.dumps({
  "bigFile": attempt(lambda: fill("/tmp/big", 3 * 1024 * 1024)),
  "tmpFull": attempt(lambda: [fill("/tmp/part%d" % i, 1024 * 1024) for i in range(8)]),
  "files": attempt(open_many),
}))`,
      { limits: { tmpBytes: 4 * 1024 * 1024, fileSizeBytes: 2 * 1024 * 1024, openFiles: 32 } },
    )) as Record<string, unknown>;
    assert.deepEqual(seen, { bigFile: "EFBIG", tmpFull: "ENOSPC", files: "EMFILE" });
  });

  it("reports a memory hog as memoryLimitExceeded with its peak, not as a crash", async () => {
    const result = await runPython("chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))", {
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    assert.equal(result.memoryLimitExceeded, true);
    assert.equal(result.signal, "SIGKILL");
    assert.ok(result.memoryKb >= 60 * 1024 && result.memoryKb <= 64 * 1024, `peak ${result.memoryKb} KiB`);
    assert.equal(result.cpuTimeExceeded || result.wallTimeExceeded || result.outputLimitExceeded, false);
  });

  it("stops an endless loop soon after its CPU time limit", async () => {
    // A wall limit far away, so only the CPU limit can end it even on a busy machine.
    const result = await runPython("while True: pass", { limits: { cpuTimeMs: 1000, wallTimeMs: 30_000 } });
    assert.equal(result.cpuTimeExceeded, true);
    assert.equal(result.wallTimeExceeded, false);
    assert.ok(result.cpuMs >= 1000 && result.cpuMs < 1500, `cpu ${result.cpuMs} ms`);
  });

  it("stops a sleeping program at its wall-time limit", async () => {
    const result = await runPython("import time\ntime.sleep(60)", { limits: { cpuTimeMs: 1000, wallTimeMs: 1500 } });
    assert.equal(result.wallTimeExceeded, true);
    assert.equal(result.cpuTimeExceeded, false);
    assert.ok(result.wallMs >= 1500 && result.wallMs < 4000, `wall ${result.wallMs} ms`);
  });

  it("stops an output flood at the output limit and keeps exactly that much", async () => {
    const result = await runPython("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", {
      limits: { outputBytes: 1024 * 1024 },
    });
    assert.equal(result.outputLimitExceeded, true);
    assert.equal(result.stdout.length, 1024 * 1024);
    assert.equal(result.cpuTimeExceeded || result.wallTimeExceeded || result.memoryLimitExceeded, false);
  });

  it("reports an exit status and a death by signal", async () => {
    const exited = await runPython("import sys\nsys.exit(3)");
    assert.deepEqual([exited.exitCode, exited.signal], [3, null]);
    const killed = await runPython("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)");
    assert.deepEqual([killed.exitCode, killed.signal], [null, "SIGSEGV"]);
    // Above 128 but no signal's number plus 128: an exit status as it is.
    const high = await runPython("import sys\nsys.exit(200)");
    assert.deepEqual([high.exitCode, high.signal], [200, null]);
    const fine = await runPython("print('ok')");
    assert.deepEqual([fine.exitCode, fine.signal, textOf(fine)], [0, null, "ok\n"]);
  });

  it("ends the run with the program: children it left behind, even in their own session, are killed", async () => {
    const result = await runPython(
      "import subprocess\nsubprocess.Popen(['/bin/sleep', '30'], start_new_session=True)\nprint('left a child')",
    );
    assert.equal(textOf(result), "left a child\n");
    assert.ok(result.wallMs < 5000, `wall ${result.wallMs} ms`);
  });

  it("holds a fork bomb at the process limit while a program on another slot runs at normal speed", async () => {
    const bombSlot = testSlots[1];
    const otherSlot = testSlots[2];
    assert.ok(bombSlot && otherSlot);
    const processes = 6;
    const bomb = runPython("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", {
      slot: bombSlot,
      limits: { processes, cpuTimeMs: 1500, wallTimeMs: 3000 },
    });
    let mostSeen = 0;
    const watching = (async () => {
      for (let i = 0; i < 20; i++) {
        mostSeen = Math.max(mostSeen, processesOfUser(bombSlot.uid).length);
        await sleep(50);
      }
    })();
    await sleep(300);
    const sum = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))";
    const started = performance.now();
    const other = await runPython(sum, { slot: otherSlot, stdin: "2 3" });
    const otherMs = performance.now() - started;
    const [bombed] = await Promise.all([bomb, watching]);
    assert.equal(textOf(other), "5\n");
    assert.equal(other.exitCode, 0);
    assert.ok(otherMs < 2000, `the other slot's run took ${otherMs} ms`);
    assert.equal(bombed.processLimitReached, true);
    const { exitCode, signal, cpuMs, wallMs, memoryLimitExceeded } = bombed;
    assert.ok(
      bombed.cpuTimeExceeded || bombed.wallTimeExceeded,
      `the bomb ran until a time limit: ${JSON.stringify({ exitCode, signal, cpuMs, wallMs, memoryLimitExceeded, stderr: bombed.stderr.toString("utf8").slice(0, 300) })}`,
    );
    // The program's tasks plus the sandbox's two (bubblewrap's monitor and the shell).
    assert.ok(mostSeen > 2 && mostSeen <= processes + 2, `${mostSeen} processes of the bomb's uid at once`);
  });

  it("kills a stopped run whose monitor does not exit after 2 s, counting only the limit that stopped it", async () => {
    // The stand-in plays a monitor that outlives the stop: it is the process the stop spares.
    await withFakeBubblewrap(`${FAKE_SANDBOX_READY}\nyes flood | head -c 3000000\nexec sleep 30`, async (wrapper) => {
      const sandbox = await Sandbox.open({ bwrapPath: wrapper });
      const limits = { ...SMALL_LIMITS, outputBytes: 1 << 20, wallTimeMs: 1000 };
      const result = await sandbox.run({ slot: testSlot, argv: ["/bin/true"], workDir: "/", limits });
      assert.equal(result.outputLimitExceeded, true);
      assert.equal(result.stdout.length, 1 << 20);
      // The wall limit passed while the run was being stopped: it is not what ended the run.
      assert.equal(result.wallTimeExceeded, false);
      assert.deepEqual([result.exitCode, result.signal], [null, "SIGKILL"]);
      assert.ok(result.wallMs >= 2000, `ended after ${result.wallMs} ms`);
    });
  });

  /**
   * Wraps the machine's cgroups so that each run's CPU readings go through `read`, which is told the
   * reading's number (1 is the set-up's) and when the run's cgroup begins to be removed.
   */
  const readingThrough =
    (read: (real: () => Promise<number>, count: number, removal: Promise<void>) => Promise<number>) =>
    (cgroups: CgroupHierarchy): CgroupHierarchy => ({
      version: cgroups.version,
      description: cgroups.description,
      list: () => cgroups.list(),
      attach: (name) => cgroups.attach(name),
      create: async (name, limits, owner) => {
        const cgroup = await cgroups.create(name, limits, owner);
        let removing = (): void => undefined;
        const removal = new Promise<void>((resolve) => (removing = resolve));
        let reads = 0;
        return {
          name: cgroup.name,
          selfJoinFiles: cgroup.selfJoinFiles,
          add: (pid) => cgroup.add(pid),
          usage: () => cgroup.usage(),
          killAll: (sparing) => cgroup.killAll(sparing),
          remove: () => {
            removing();
            return cgroup.remove();
          },
          cpuMs: () => read(() => cgroup.cpuMs(), ++reads, removal),
        };
      },
    });

  it("lets a CPU reading still open when the program exits finish before its cgroup is removed", async () => {
    // Every reading after the set-up's stays open until the cgroup's removal begins, then fails as the
    // kernel fails a read of a removed cgroup's file, or gives up waiting after 1 s and reads.
    const slowReads = readingThrough(async (real, count, removal) => {
      if (count > 1 && (await Promise.race([removal.then(() => true), sleep(1000).then(() => false)]))) {
        throw Object.assign(new Error("ENODEV: no such device, read"), { code: "ENODEV" });
      }
      return real();
    });
    const sandbox = await Sandbox.open({ wrapCgroups: slowReads });
    const workspace = await Workspace.create(testSlot);
    try {
      await workspace.write("main.py", "import time\ntime.sleep(0.2)\nprint('done')\n");
      const result = await sandbox.run({
        slot: testSlot,
        argv: ["/usr/bin/python3", "-I", "/box/main.py"],
        workDir: workspace.dir,
        limits: SMALL_LIMITS,
      });
      assert.deepEqual([result.exitCode, textOf(result)], [0, "done\n"]);
      assert.equal(result.cpuTimeExceeded, false);
    } finally {
      await workspace.dispose();
    }
  });

  it("killed while its set-up's CPU reading is open, starts no program and leaves no timer reading on", async () => {
    let setupReading = (): void => undefined;
    const readingStarted = new Promise<void>((resolve) => (setupReading = resolve));
    let readsAfterSetup = 0;
    const heldSetup = readingThrough(async (real, count) => {
      if (count > 1) {
        readsAfterSetup++;
        return 0;
      }
      setupReading();
      await sleep(300);
      return real();
    });
    const sandbox = await Sandbox.open({ wrapCgroups: heldSetup });
    const workspace = await Workspace.create(testSlot);
    try {
      await workspace.write("main.py", "print('ran')\n");
      const run = sandbox.run({
        slot: testSlot,
        argv: ["/usr/bin/python3", "-I", "/box/main.py"],
        workDir: workspace.dir,
        limits: SMALL_LIMITS,
      });
      await readingStarted;
      await sandbox.killRuns();
      const result = await run;
      assert.equal(textOf(result), "", "the program never ran");
      assert.equal(result.signal, "SIGKILL");
      await sleep(200);
      assert.equal(readsAfterSetup, 0, "nothing polls the run's removed cgroup");
    } finally {
      await workspace.dispose();
    }
  });

  describe("judge faults (retried, never a verdict)", () => {
    it("says why when bubblewrap is missing, from open and from the probe", async () => {
      const options = { bwrapPath: "/nonexistent/bwrap" };
      await assert.rejects(Sandbox.open(options), (error) => {
        assert.ok(error instanceof JudgeFault);
        assert.match(error.message, /\/nonexistent\/bwrap is missing \(apt-get install bubblewrap\)/);
        return true;
      });
      const probe = await probeSandbox(options, testSlot);
      assert.deepEqual(probe, {
        available: false,
        reason: "/nonexistent/bwrap is missing (apt-get install bubblewrap)",
      });
    });

    it("probes as unavailable, with the status, when the trivial command does not succeed", async () => {
      // The real bubblewrap builds the sandbox and runs the command; the status seen is not zero.
      await withFakeBubblewrap('/usr/bin/bwrap "$@" || exit\nexit 7', async (wrapper) => {
        assert.deepEqual(await probeSandbox({ bwrapPath: wrapper }, testSlot), {
          available: false,
          reason: "a trivial command ended with status 7",
        });
      });
    });

    it("probes as unavailable, naming the signal, when the sandbox is killed outright with no exit status", async () => {
      await withFakeBubblewrap(`${FAKE_SANDBOX_READY}\nkill -KILL $$`, async (wrapper) => {
        const sandbox = await Sandbox.open({ bwrapPath: wrapper });
        const workspace = await Workspace.create(testSlot);
        try {
          const result = await sandbox.run({
            slot: testSlot,
            argv: ["/bin/true"],
            workDir: workspace.dir,
            limits: SMALL_LIMITS,
          });
          assert.deepEqual([result.exitCode, result.signal], [null, "SIGKILL"]);
        } finally {
          await workspace.dispose();
        }
        assert.deepEqual(await probeSandbox({ bwrapPath: wrapper }, testSlot), {
          available: false,
          reason: "a trivial command ended with SIGKILL",
        });
      });
    });

    it("is a fault when the sandbox ends before it is ready without a word", async () => {
      await withFakeBubblewrap("exit 3", async (wrapper) => {
        const sandbox = await Sandbox.open({ bwrapPath: wrapper });
        await assert.rejects(sandbox.run({ slot: testSlot, argv: ["/bin/true"], workDir: "/", limits: SMALL_LIMITS }), {
          name: "JudgeFault",
          message: "the sandbox did not start",
        });
      });
    });

    it("is a fault, with the command's words, when bubblewrap does not run", async () => {
      await assert.rejects(Sandbox.open({ bwrapPath: "/bin/false" }), (error) => {
        assert.ok(error instanceof JudgeFault);
        assert.match(error.message, /^running \/bin\/false --version: Command failed: \/bin\/false --version/);
        return true;
      });
    });

    it("says why when the cgroups cannot be used", async () => {
      const fake = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-fake-cgroups-"));
      try {
        await fs.writeFile(path.join(fake, "mounts"), "proc /proc proc rw 0 0\n");
        await assert.rejects(Sandbox.open({ mountsTable: path.join(fake, "mounts") }), {
          name: "JudgeFault",
          message: "no cgroup file system with the memory and pids controllers is mounted",
        });
        // A hierarchy where the judge's cgroup cannot be created.
        await fs.writeFile(path.join(fake, "memory"), "not a folder");
        await fs.writeFile(
          path.join(fake, "mounts"),
          ["memory", "pids", "cpuacct"].map((name) => `cgroup ${fake}/${name} cgroup rw,${name} 0 0`).join("\n"),
        );
        await assert.rejects(Sandbox.open({ mountsTable: path.join(fake, "mounts") }), (error) => {
          assert.ok(error instanceof JudgeFault);
          assert.match(error.message, /^creating the judge's cgroup .*memory\/shtp-judge: ENOTDIR/);
          return true;
        });
      } finally {
        await fs.rm(fake, { recursive: true, force: true });
      }
    });

    it("is a fault, with bubblewrap's words, when the sandbox cannot be built", async () => {
      const sandbox = await testSandbox();
      await assert.rejects(
        sandbox.run({ slot: testSlot, argv: ["/bin/true"], workDir: "/nonexistent/work", limits: SMALL_LIMITS }),
        (error) => {
          assert.ok(error instanceof JudgeFault);
          assert.match(error.message, /^the sandbox did not start: bwrap: .*\/nonexistent\/work/);
          return true;
        },
      );
    });

    it("refuses a second run on a busy slot, and a slot whose uid already has processes", async () => {
      const sandbox = await testSandbox();
      const first = runPython("import time\ntime.sleep(0.5)");
      await sleep(50);
      await assert.rejects(runPython("print(1)"), (error) => {
        assert.ok(error instanceof JudgeFault);
        assert.match(error.message, /^slot 0 \(uid \d+\) is already running$/);
        return true;
      });
      assert.equal((await first).exitCode, 0);

      const squatted = testSlots[3];
      assert.ok(squatted);
      const squatter = spawn("/bin/sleep", ["30"], { uid: squatted.uid, gid: squatted.gid, stdio: "ignore" });
      const workspace = await Workspace.create(squatted);
      try {
        await sleep(50);
        await assert.rejects(
          sandbox.run({ slot: squatted, argv: ["/bin/true"], workDir: workspace.dir, limits: SMALL_LIMITS }),
          (error) => {
            assert.ok(error instanceof JudgeFault);
            assert.match(error.message, new RegExp(`^uid ${squatted.uid} of slot 3 has processes ${squatter.pid}`));
            return true;
          },
        );
      } finally {
        squatter.kill("SIGKILL");
        await once(squatter, "exit");
        await workspace.dispose();
      }
    });

    it("refuses limits that are not positive integers", async () => {
      const sandbox = await testSandbox();
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(
          sandbox.run({
            slot: testSlot,
            argv: ["/bin/true"],
            workDir: "/",
            limits: { ...SMALL_LIMITS, cpuTimeMs: bad },
          }),
          RangeError,
        );
      }
    });
  });

  describe("cgroups", () => {
    it("removes each run's cgroup, and the cgroups a dead worker left at the next open", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const ours = (await cgroups.list()).filter((name) => name.startsWith(`run-${process.pid}-`));
      assert.deepEqual(ours, [], "no run cgroup of this process is left");

      const dead = spawn("/bin/true");
      await once(dead, "exit");
      const stale = `run-${dead.pid}-${testSlot.uid}-1`;
      const left = await cgroups.create(stale, { memoryBytes: 1 << 24, pids: 4, cpuCores: 1 });
      const sleeper = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
      const sleeperExit = once(sleeper, "exit") as Promise<[number | null, string | null]>;
      await left.add(sleeper.pid as number);
      await Sandbox.open();
      assert.equal((await cgroups.list()).includes(stale), false);
      const [, signal] = await sleeperExit;
      assert.equal(signal, "SIGKILL", "the stale cgroup's process was killed");
    });

    it("leaves alone at open the cgroups that are not runs, and the runs of this process or of a live one", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const live = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
      const liveExit = once(live, "exit");
      // Index 0 is never a real run's (they count from 1), so these names collide with nothing.
      const kept = ["not-a-run", `run-${process.pid}-${testSlot.uid}-0`, `run-${live.pid}-${testSlot.uid}-0`];
      const limits = { memoryBytes: 1 << 24, pids: 4, cpuCores: 1 };
      const made = [];
      try {
        for (const name of kept) made.push(await cgroups.create(name, limits));
        await Sandbox.open();
        const listed = await cgroups.list();
        assert.deepEqual(
          kept.filter((name) => listed.includes(name)),
          kept,
        );
      } finally {
        for (const cgroup of made) await cgroup.remove();
        live.kill("SIGKILL");
        await liveExit;
      }
    });
  });
});
