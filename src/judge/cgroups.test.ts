import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { testSlots } from "../testing/judge.js";
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
      // The kernel would empty cgroup.procs once the processes are gone; the fake does it a little later.
      const emptied = sleep(30).then(() => fs.writeFile(path.join(dir, "cgroup.procs"), ""));
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
