import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, watch, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { testSlots } from "../testing/judge.js";
import { waitFor } from "../testing/wait.js";
import { cgroupMounts, keyedValue, openCgroups } from "./cgroups.js";
import { JudgeFault } from "./faults.js";
import { DEFAULT_CGROUP_PARENT } from "./sandbox.js";

function sleeper(): { child: ChildProcess; exited: Promise<unknown[]> } {
  const child = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
  return { child, exited: once(child, "exit") };
}

describe("cgroups (src/judge/cgroups.ts)", () => {
  it("finds cgroup v1 and v2 mounts in a mounts table, decoding escaped spaces", () => {
    const table = [
      "proc /proc proc rw,nosuid 0 0",
      "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0",
      "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0",
      "cgroup2 /sys/fs/cgroup/my\\040hierarchy cgroup2 rw,nsdelegate 0 0",
      "",
    ].join("\n");
    assert.deepEqual(cgroupMounts(table), [
      { dir: "/sys/fs/cgroup/memory", type: "cgroup", options: ["rw", "relatime", "memory"] },
      { dir: "/sys/fs/cgroup/cpu,cpuacct", type: "cgroup", options: ["rw", "relatime", "cpu", "cpuacct"] },
      { dir: "/sys/fs/cgroup/my hierarchy", type: "cgroup2", options: ["rw", "nsdelegate"] },
    ]);
  });

  it("reads flat-keyed cgroup files", () => {
    const events = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n";
    assert.equal(keyedValue(events, "oom_kill"), 1);
    assert.equal(keyedValue(events, "max"), 12);
    assert.equal(keyedValue(events, "oom_group_kill"), 0);
    assert.equal(keyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3);
  });

  it("speaks the cgroup v2 file protocol (on a fake hierarchy: this machine runs v1)", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-fake-cgroup2-"));
    try {
      const mounts = path.join(root, "mounts");
      const hierarchy = path.join(root, "unified");
      await fs.mkdir(path.join(hierarchy, "judge", "slots"), { recursive: true });
      await fs.writeFile(mounts, `cgroup2 ${hierarchy} cgroup2 rw 0 0\n`);
      await fs.writeFile(path.join(hierarchy, "cgroup.controllers"), "cpuset cpu io memory pids\n");
      await fs.writeFile(path.join(hierarchy, "cgroup.subtree_control"), "memory\n");
      await fs.writeFile(path.join(hierarchy, "judge", "cgroup.subtree_control"), "");
      await fs.writeFile(path.join(hierarchy, "judge", "slots", "cgroup.subtree_control"), "");

      const cgroups = await openCgroups("judge/slots", mounts);
      assert.equal(cgroups.version, 2);
      assert.equal(cgroups.description, `cgroup v2 (${hierarchy}/judge/slots)`);
      // Only what was not enabled yet is asked for, at every level down to the judge's parent.
      assert.equal(await fs.readFile(path.join(hierarchy, "cgroup.subtree_control"), "utf8"), "+pids +cpu");
      assert.equal(
        await fs.readFile(path.join(hierarchy, "judge", "slots", "cgroup.subtree_control"), "utf8"),
        "+memory +pids +cpu",
      );

      const run = await cgroups.create("run-1-60000-1", { memoryBytes: 64 << 20, pids: 10, cpuCores: 1 });
      const dir = path.join(hierarchy, "judge", "slots", "run-1-60000-1");
      const read = (file: string) => fs.readFile(path.join(dir, file), "utf8");
      assert.equal(await read("memory.max"), String(64 << 20));
      // Not oom.group: killing bubblewrap's monitor with the program would orphan the sandbox's PID 1.
      await assert.rejects(read("memory.oom.group"), { code: "ENOENT" });
      assert.equal(await read("pids.max"), "10");
      assert.equal(await read("cpu.max"), "100000 100000");
      assert.deepEqual(await cgroups.list(), ["run-1-60000-1"]);

      await fs.writeFile(path.join(dir, "cpu.stat"), "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n");
      await fs.writeFile(path.join(dir, "memory.current"), "4096");
      await fs.writeFile(path.join(dir, "memory.peak"), String(5 << 20));
      await fs.writeFile(path.join(dir, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
      await fs.writeFile(path.join(dir, "pids.events"), "max 2\n");
      assert.deepEqual(await run.usage(), {
        cpuMs: 123.456,
        memoryPeakKb: 5 * 1024,
        oomKilled: true,
        pidsLimitReached: true,
      });
      // Without memory.peak (kernels before 5.19) the highest memory.current seen while polling counts.
      await fs.rm(path.join(dir, "memory.peak"));
      await fs.writeFile(path.join(dir, "memory.current"), String(7 << 20));
      await run.cpuMs();
      await fs.writeFile(path.join(dir, "memory.current"), "0");
      assert.equal((await run.usage()).memoryPeakKb, 7 * 1024);

      const inside = sleeper();
      await run.add(inside.child.pid as number);
      assert.equal(await read("cgroup.procs"), String(inside.child.pid));
      await fs.writeFile(path.join(dir, "cgroup.kill"), "");
      // The kernel empties cgroup.procs once the processes are gone; the fake does it once told to kill
      // (after a fixed delay instead, a slow first read would find it empty and skip the kill).
      const emptied = waitFor(async () => (await read("cgroup.kill")) === "1").then(() =>
        fs.writeFile(path.join(dir, "cgroup.procs"), ""),
      );
      await run.killAll();
      await emptied;
      assert.equal(await read("cgroup.kill"), "1");
      inside.child.kill("SIGKILL");
      await inside.exited;

      for (const file of await fs.readdir(dir)) await fs.rm(path.join(dir, file));
      await run.remove();
      await run.remove();
      assert.deepEqual(await cgroups.list(), []);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  describe("refusing a hierarchy it cannot use, or a cgroup that misbehaves", () => {
    let root: string;
    beforeEach(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-fake-cgroups-"));
    });
    afterEach(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    /** A fake unified hierarchy with `controllers` available, its mounts table in `root`/mounts. */
    async function fakeV2(controllers: string, rootSubtree = ""): Promise<{ mounts: string; hierarchy: string }> {
      const hierarchy = path.join(root, "unified");
      await fs.mkdir(path.join(hierarchy, "judge"), { recursive: true });
      await fs.writeFile(path.join(hierarchy, "cgroup.controllers"), `${controllers}\n`);
      await fs.writeFile(path.join(hierarchy, "cgroup.subtree_control"), rootSubtree);
      await fs.writeFile(path.join(hierarchy, "judge", "cgroup.subtree_control"), "");
      const mounts = path.join(root, "mounts");
      await fs.writeFile(mounts, `cgroup2 ${hierarchy} cgroup2 rw 0 0\n`);
      return { mounts, hierarchy };
    }

    const limits = { memoryBytes: 64 << 20, pids: 10, cpuCores: 1 };
    const faultMatching = (pattern: RegExp) => (error: unknown) => {
      assert.ok(error instanceof JudgeFault, String(error));
      assert.match(error.message, pattern);
      return true;
    };

    it("says which mounts table it could not read, and which v1 controllers are missing", async () => {
      await assert.rejects(
        openCgroups("judge", path.join(root, "no-mounts")),
        faultMatching(/^reading .*\/no-mounts: ENOENT/),
      );
      const mounts = path.join(root, "mounts");
      await fs.writeFile(mounts, `cgroup ${root}/memory cgroup rw,relatime,memory 0 0\n`);
      await assert.rejects(openCgroups("judge", mounts), {
        name: "JudgeFault",
        message: "the cgroup v1 controller(s) pids, cpuacct are not mounted",
      });
    });

    it("passes over a v2 hierarchy without the memory and pids controllers, or without a controllers file", async () => {
      const { mounts, hierarchy } = await fakeV2("cpu io memory");
      const bare = path.join(root, "bare");
      await fs.mkdir(bare);
      await fs.appendFile(mounts, `cgroup2 ${bare} cgroup2 rw 0 0\n`);
      await assert.rejects(openCgroups("judge", mounts), {
        name: "JudgeFault",
        message: "no cgroup file system with the memory and pids controllers is mounted",
      });
      // Nothing was enabled or created in a hierarchy it passed over.
      assert.equal(await fs.readFile(path.join(hierarchy, "cgroup.subtree_control"), "utf8"), "");
      assert.deepEqual(await fs.readdir(bare), []);
    });

    it("without the cpu controller sets no CPU bandwidth, and asks only for controllers not yet enabled", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids", "memory pids\n");
      const cgroups = await openCgroups("judge", mounts);
      assert.equal(await fs.readFile(path.join(hierarchy, "cgroup.subtree_control"), "utf8"), "memory pids\n");
      assert.equal(await fs.readFile(path.join(hierarchy, "judge", "cgroup.subtree_control"), "utf8"), "+memory +pids");
      await cgroups.create("run-1", limits);
      assert.deepEqual((await fs.readdir(path.join(hierarchy, "judge", "run-1"))).sort(), ["memory.max", "pids.max"]);
    });

    it("is a fault when the judge's v2 cgroup cannot be created", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      await fs.writeFile(path.join(hierarchy, "judge", "slots"), "a file where the cgroup should go");
      await assert.rejects(
        openCgroups("judge/slots/runs", mounts),
        faultMatching(/^creating the judge's cgroup .*\/judge\/slots: EEXIST/),
      );
    });

    it("is a fault, naming the step, when a v2 cgroup cannot be listed, read or removed", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      const cgroups = await openCgroups("judge", mounts);
      const run = await cgroups.create("run-1", limits);
      const dir = path.join(hierarchy, "judge", "run-1");

      await fs.mkdir(path.join(dir, "cgroup.procs"));
      await assert.rejects(run.killAll(), faultMatching(/^listing the processes of cgroup run-1: EISDIR/));
      await assert.rejects(run.cpuMs(), faultMatching(/^reading .*\/run-1\/cpu\.stat: ENOENT/));
      await assert.rejects(run.remove(), faultMatching(/^removing cgroup .*\/run-1: ENOTEMPTY/));

      await fs.rm(path.join(hierarchy, "judge"), { recursive: true });
      await assert.rejects(cgroups.list(), faultMatching(/^listing .*\/judge: ENOENT/));
      // A cgroup already gone is removed without complaint, and has no processes.
      await run.remove();
      await run.killAll();
    });

    it("freezes a v2 cgroup to kill all but the spared process, then thaws it", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      const run = await (await openCgroups("judge", mounts)).create("run-1", limits);
      const procs = path.join(hierarchy, "judge", "run-1", "cgroup.procs");
      const spared = sleeper();
      const killed = sleeper();
      try {
        await fs.writeFile(procs, `${spared.child.pid}\n${killed.child.pid}\n`);
        // As the kernel would, the fake lists only the live process once the other has died.
        void killed.exited.then(() => fs.writeFile(procs, `${spared.child.pid}\n`));
        await run.killAll(spared.child.pid);
        assert.deepEqual((await killed.exited)[1], "SIGKILL");
        assert.equal(spared.child.exitCode, null, "the spared process still runs");
        assert.equal(await fs.readFile(path.join(hierarchy, "judge", "run-1", "cgroup.freeze"), "utf8"), "0");
      } finally {
        spared.child.kill("SIGKILL");
        killed.child.kill("SIGKILL");
        await Promise.all([spared.exited, killed.exited]);
      }
    });

    it("gives up on processes that outlive SIGKILL after three seconds, as a fault", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      const run = await (await openCgroups("judge", mounts)).create("run-1", limits);
      // No such process (pid_max is far below): killing it fails, and the fake keeps listing it.
      await fs.writeFile(path.join(hierarchy, "judge", "run-1", "cgroup.procs"), "99999999\n");
      const started = Date.now();
      await assert.rejects(
        run.killAll(),
        faultMatching(/^processes 99999999 in cgroup run-1 survived SIGKILL for 3000 ms$/),
      );
      assert.ok(Date.now() - started >= 3000);
    });

    it("counts a group OOM kill as an OOM, and is a fault to add a process to a v2 cgroup that is gone", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      const run = await (await openCgroups("judge", mounts)).create("run-1", limits);
      const dir = path.join(hierarchy, "judge", "run-1");
      await fs.writeFile(path.join(dir, "cpu.stat"), "usage_usec 1000\n");
      await fs.writeFile(path.join(dir, "memory.events"), "oom 1\noom_kill 0\noom_group_kill 1\n");
      await fs.writeFile(path.join(dir, "pids.events"), "max 0\n");
      assert.deepEqual(await run.usage(), { cpuMs: 1, memoryPeakKb: 0, oomKilled: true, pidsLimitReached: false });

      await fs.rm(dir, { recursive: true });
      await assert.rejects(run.add(4242), faultMatching(/^writing "4242" to .*\/run-1\/cgroup\.procs: ENOENT/));
    });

    it("turns off swap where the kernel offers memory.swap.max, and is a fault when a v2 limit is refused", async () => {
      const { mounts, hierarchy } = await fakeV2("memory pids");
      const cgroups = await openCgroups("judge", mounts);
      // The kernel fills a new cgroup's folder with its files at once: the fake does so when it appears.
      const watcher = watch(path.join(hierarchy, "judge"), (_event, name) => {
        const dir = path.join(hierarchy, "judge", String(name));
        if (name === "run-1") writeFileSync(path.join(dir, "memory.swap.max"), "max");
        if (name === "run-2") mkdirSync(path.join(dir, "pids.max"));
      });
      try {
        await cgroups.create("run-1", limits);
        assert.equal(await fs.readFile(path.join(hierarchy, "judge", "run-1", "memory.swap.max"), "utf8"), "0");
        await assert.rejects(
          cgroups.create("run-2", limits),
          faultMatching(/^writing "10" to .*\/run-2\/pids\.max: EISDIR/),
        );
      } finally {
        watcher.close();
      }
    });

    it("is a fault when the judge's v1 cgroup cannot be created", async () => {
      const mounts = path.join(root, "mounts");
      const table = ["memory", "pids", "cpuacct"].map((name) => `cgroup ${root}/${name} cgroup rw,${name} 0 0`);
      await fs.writeFile(mounts, `${table.join("\n")}\n`);
      await fs.mkdir(path.join(root, "pids"));
      await fs.writeFile(path.join(root, "pids", "judge"), "a file where the cgroup should go");
      await assert.rejects(
        openCgroups("judge", mounts),
        faultMatching(/^creating the judge's cgroup .*\/pids\/judge: EEXIST/),
      );
    });

    it("kills a v1 cgroup's processes even when the freezer never reports FROZEN, after a second", async () => {
      const mounts = path.join(root, "mounts");
      const table = ["memory", "pids", "cpuacct", "freezer"].map(
        (name) => `cgroup ${root}/${name} cgroup rw,${name} 0 0`,
      );
      await fs.writeFile(mounts, `${table.join("\n")}\n`);
      const run = await (await openCgroups("judge", mounts)).create("run-1", limits);
      // Writes vanish and reads are empty: a freezer stuck in FREEZING as far as the judge can tell.
      await fs.symlink("/dev/null", path.join(root, "freezer", "judge", "run-1", "freezer.state"));
      const inside = sleeper();
      try {
        const procs = path.join(root, "pids", "judge", "run-1", "cgroup.procs");
        await fs.writeFile(procs, `${inside.child.pid}\n`);
        void inside.exited.then(() => fs.writeFile(procs, ""));
        const started = Date.now();
        await run.killAll();
        assert.deepEqual((await inside.exited)[1], "SIGKILL");
        assert.ok(Date.now() - started >= 1000, "it waited for the freeze first");
      } finally {
        inside.child.kill("SIGKILL");
        await inside.exited;
      }
    });

    it("runs cgroup v1 without the optional cpu and freezer controllers", async () => {
      const mounts = path.join(root, "mounts");
      const table = ["memory", "pids", "cpuacct"].map((name) => `cgroup ${root}/${name} cgroup rw,${name} 0 0`);
      await fs.writeFile(mounts, `${table.join("\n")}\n`);
      const cgroups = await openCgroups("judge", mounts);
      assert.equal(cgroups.version, 1);
      assert.equal(cgroups.description, `cgroup v1 (${root}/memory/judge, ${root}/pids/judge, ${root}/cpuacct/judge)`);
      assert.deepEqual((await fs.readdir(root)).sort(), ["cpuacct", "memory", "mounts", "pids"]);

      const run = await cgroups.create("run-1", limits);
      const dirOf = (controller: string) => path.join(root, controller, "judge", "run-1");
      assert.equal(await fs.readFile(path.join(dirOf("memory"), "memory.limit_in_bytes"), "utf8"), String(64 << 20));
      assert.deepEqual(await fs.readdir(dirOf("memory")), ["memory.limit_in_bytes"], "no swap limit where none exists");
      assert.equal(await fs.readFile(path.join(dirOf("pids"), "pids.max"), "utf8"), "10");
      assert.deepEqual(await cgroups.list(), ["run-1"]);

      await fs.writeFile(path.join(dirOf("cpuacct"), "cpuacct.usage"), "2500000\n");
      await fs.writeFile(path.join(dirOf("memory"), "memory.max_usage_in_bytes"), String(5 << 20));
      await fs.writeFile(
        path.join(dirOf("memory"), "memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
      );
      await fs.writeFile(path.join(dirOf("pids"), "pids.events"), "max 0\n");
      assert.deepEqual(await run.usage(), {
        cpuMs: 2.5,
        memoryPeakKb: 5 * 1024,
        oomKilled: true,
        pidsLimitReached: false,
      });

      const inside = sleeper();
      const procs = path.join(dirOf("pids"), "cgroup.procs");
      await fs.writeFile(procs, `${inside.child.pid}\n`);
      void inside.exited.then(() => fs.writeFile(procs, ""));
      // Attached by name, as a worker cleaning up after a dead one does; killed without a freezer.
      await cgroups.attach("run-1").killAll();
      assert.deepEqual((await inside.exited)[1], "SIGKILL");

      // The fake has no `tasks` files to hand to the owner: the fault says so, and the cleanup removes
      // what it made where it can (the fake keeps folders with files in them) without hiding the fault.
      await assert.rejects(
        cgroups.create("run-2", limits, { uid: 61_000, gid: 61_000 }),
        faultMatching(/^handing .*\/memory\/judge\/run-2\/tasks to uid 61000: ENOENT/),
      );
      await assert.rejects(fs.access(path.join(root, "cpuacct", "judge", "run-2")), { code: "ENOENT" });
      assert.deepEqual(await fs.readdir(path.join(root, "pids", "judge", "run-2")), ["pids.max"]);
    });
  });

  describe("on this machine's hierarchy", () => {
    it("moves a process in, kills all but a spared one, then all, and removes the cgroup", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const name = `run-${process.pid}-0-${Date.now()}`;
      const run = await cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: 1 });
      const spared = sleeper();
      const killed = sleeper();
      try {
        for (const { child } of [spared, killed]) await run.add(child.pid as number);
        const membership = await fs.readFile(`/proc/${spared.child.pid}/cgroup`, "utf8");
        assert.ok(membership.includes(`/${DEFAULT_CGROUP_PARENT}/${name}`), membership);
        assert.ok((await cgroups.list()).includes(name));

        await run.killAll(spared.child.pid);
        assert.deepEqual((await killed.exited)[1], "SIGKILL");
        assert.equal(spared.child.exitCode, null, "the spared process still runs");

        const usage = await run.usage();
        assert.equal(usage.oomKilled, false);
        assert.equal(usage.pidsLimitReached, false);
        assert.ok(usage.cpuMs >= 0 && usage.memoryPeakKb >= 0);

        await run.killAll();
        assert.deepEqual((await spared.exited)[1], "SIGKILL");
        await run.remove();
        assert.equal((await cgroups.list()).includes(name), false);
      } finally {
        spared.child.kill("SIGKILL");
        killed.child.kill("SIGKILL");
        await run.killAll().then(() => run.remove());
      }
    });

    it("lets the owner's process join by itself where the layout allows it (v1), else leaves it to add", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const owner = testSlots[3];
      assert.ok(owner);
      const name = `run-${process.pid}-${owner.uid}-${Date.now()}`;
      const run = await cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: 1 }, owner);
      try {
        if (cgroups.version === 2) {
          assert.deepEqual(run.selfJoinFiles, []);
          return;
        }
        assert.ok(run.selfJoinFiles.length >= 3);
        for (const file of run.selfJoinFiles) {
          assert.equal(path.basename(file), "tasks");
          assert.equal((await fs.stat(file)).uid, owner.uid);
        }
        const script = `for f in "$@"; do echo 0 > "$f" || exit 1; done; cat /proc/self/cgroup`;
        const joined = spawnSync("/bin/bash", ["-c", script, "join", ...run.selfJoinFiles], {
          uid: owner.uid,
          gid: owner.gid,
          encoding: "utf8",
        });
        assert.equal(joined.status, 0, joined.stderr);
        for (const controller of ["memory", "pids", "cpuacct"]) {
          assert.match(
            joined.stdout,
            new RegExp(`^\\d+:[^:]*\\b${controller}\\b[^:]*:/${DEFAULT_CGROUP_PARENT}/${name}$`, "m"),
          );
        }
        // Another user may not join it.
        const stranger = spawnSync("/bin/bash", ["-c", script, "join", ...run.selfJoinFiles], {
          uid: owner.uid + 1,
          gid: owner.gid + 1,
          encoding: "utf8",
        });
        assert.notEqual(stranger.status, 0);
        assert.match(stranger.stderr, /Permission denied/);
      } finally {
        await run.killAll();
        await run.remove();
      }
    });

    it("is a fault when the kernel refuses a limit, and leaves no part of the cgroup behind", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const name = `run-${process.pid}-0-${Date.now()}`;
      const refused = cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: Number.NaN });
      await assert.rejects(refused, (error) => {
        assert.ok(error instanceof JudgeFault);
        assert.match(error.message, /^writing "NaN" to .*: EINVAL/);
        return true;
      });
      assert.equal((await cgroups.list()).includes(name), false);
      // The memory, pids and cpuacct folders were made before the CPU quota was refused.
      const controllers = ["memory", "pids", "cpuacct", "cpu", "freezer"];
      const mounts = cgroupMounts(await fs.readFile("/proc/self/mounts", "utf8")).filter(
        (mount) => mount.type === "cgroup" && mount.options.some((option) => controllers.includes(option)),
      );
      assert.ok(mounts.length >= 3, JSON.stringify(mounts));
      for (const { dir } of mounts) {
        await assert.rejects(fs.access(path.join(dir, DEFAULT_CGROUP_PARENT, name)), { code: "ENOENT" }, dir);
      }
    });

    it("retries removing a busy cgroup for a second, then gives up with a fault", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const name = `run-${process.pid}-0-${Date.now()}`;
      const run = await cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: 1 });
      const inside = sleeper();
      try {
        await run.add(inside.child.pid as number);
        const started = Date.now();
        await assert.rejects(run.remove(), (error) => {
          assert.ok(error instanceof JudgeFault);
          assert.match(error.message, /^removing cgroup .*: EBUSY/);
          return true;
        });
        assert.ok(Date.now() - started >= 1000, `gave up after ${Date.now() - started} ms`);
        assert.ok((await cgroups.list()).includes(name));
      } finally {
        await run.killAll();
        await run.remove();
      }
      assert.deepEqual((await inside.exited)[1], "SIGKILL");
    });

    it("is a fault to create a run cgroup that already exists", async () => {
      const cgroups = await openCgroups(DEFAULT_CGROUP_PARENT);
      const name = `run-${process.pid}-0-${Date.now()}`;
      const run = await cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: 1 });
      try {
        await assert.rejects(cgroups.create(name, { memoryBytes: 32 << 20, pids: 8, cpuCores: 1 }), (error) => {
          assert.ok(error instanceof JudgeFault);
          assert.match(error.message, /^creating cgroup .*: EEXIST/);
          return true;
        });
        assert.ok((await cgroups.list()).includes(name), "the existing cgroup was left alone");
      } finally {
        await run.remove();
      }
    });
  });
});
