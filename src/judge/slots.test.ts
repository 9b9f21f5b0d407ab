import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { testSlots } from "../testing/judge.js";
import { waitFor } from "../testing/wait.js";
import { faultOf, JudgeFault } from "./faults.js";
import { DEFAULT_SLOT_UID_BASE, judgeSlot, judgeSlots, processesOfUser } from "./slots.js";
import { Workspace } from "./workspace.js";

describe("judge slots and workspaces (src/judge/slots.ts, workspace.ts, faults.ts)", () => {
  it("gives slot N the uid and gid base + N, 60000 + N by default", () => {
    assert.deepEqual(judgeSlot(0), { index: 0, uid: DEFAULT_SLOT_UID_BASE, gid: DEFAULT_SLOT_UID_BASE });
    assert.equal(DEFAULT_SLOT_UID_BASE, 60_000);
    assert.deepEqual(judgeSlot(3, 70_000), { index: 3, uid: 70_003, gid: 70_003 });
    assert.deepEqual(
      judgeSlots(3, 5000).map((slot) => slot.uid),
      [5000, 5001, 5002],
    );
    assert.ok(Object.isFrozen(judgeSlot(1)));
  });

  it("refuses a slot that would run as root, a system user or no valid uid", () => {
    assert.throws(() => judgeSlot(0, 0), RangeError);
    assert.throws(() => judgeSlot(5, 990), /slot uid 995 is outside 1000\.\.4294967294/);
    assert.throws(() => judgeSlot(0, 4_294_967_295), RangeError);
    assert.throws(() => judgeSlot(-1), /slot index -1 is not a natural number/);
    assert.throws(() => judgeSlot(1.5), RangeError);
    assert.throws(() => judgeSlot(0, 1000.5), /slot uid 1000\.5 is outside/);
    assert.throws(() => judgeSlot(0, Number.NaN), /slot uid NaN is outside/);
  });

  it("reads every uid of a process's status, and passes over what is not a live process of the uid", async () => {
    const proc = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-fake-proc-"));
    try {
      const status = (fields: string) => `Name:\tx\n${fields}\nGid:\t0\t0\t0\t0\n`;
      const entries: Record<string, string | undefined> = {
        // Only the saved uid is the slot's: it could still become that user, so it counts.
        "10": status("State:\tS (sleeping)\nUid:\t0\t0\t61000\t0"),
        "11": status("State:\tR (running)\nUid:\t61000\t61000\t61000\t61000"),
        "12": status("State:\tZ (zombie)\nUid:\t61000\t61000\t61000\t61000"),
        "13": status("State:\tX (dead)\nUid:\t61000\t61000\t61000\t61000"),
        "14": status("State:\tS (sleeping)\nUid:\t61001\t61001\t61001\t61001"),
        // A status without a Uid line (a kernel thread's is never like that, but a torn read could be).
        "15": status("State:\tS (sleeping)"),
        // Ended between the listing and the read: no status any more.
        "16": undefined,
        self: status("State:\tR (running)\nUid:\t61000\t61000\t61000\t61000"),
      };
      for (const [entry, text] of Object.entries(entries)) {
        await fs.mkdir(path.join(proc, entry));
        if (text !== undefined) await fs.writeFile(path.join(proc, entry, "status"), text);
      }
      assert.deepEqual(processesOfUser(61_000, proc).sort(), [10, 11]);
      assert.deepEqual(processesOfUser(61_001, proc), [14]);
      assert.deepEqual(processesOfUser(61_002, proc), []);
    } finally {
      await fs.rm(proc, { recursive: true, force: true });
    }
  });

  it("finds every process of a uid through /proc, and none once they are gone", async () => {
    const slot = testSlots[3];
    assert.ok(slot);
    assert.deepEqual(processesOfUser(slot.uid), []);
    const child = spawn("/bin/sleep", ["30"], { uid: slot.uid, gid: slot.gid, stdio: "ignore" });
    const exited = once(child, "exit");
    try {
      await sleep(50);
      assert.deepEqual(processesOfUser(slot.uid), [child.pid]);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    assert.deepEqual(processesOfUser(slot.uid), []);
  });

  it("leaves out ended processes that wait to be reaped (zombies hold only a pid)", async () => {
    const slot = testSlots[3];
    assert.ok(slot);
    // The child ends only once its parent has become `sleep`, which never reaps it: ending earlier, bash
    // would reap it itself.
    const child = 'until [ "$(cat /proc/$PPID/comm)" = sleep ]; do sleep 0.01; done';
    const parent = spawn("/bin/bash", ["-c", `/bin/bash -c '${child}' & exec /bin/sleep 30`], {
      uid: slot.uid,
      gid: slot.gid,
      stdio: "ignore",
    });
    const exited = once(parent, "exit");
    try {
      const zombieOf = async () => {
        const children = await fs.readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, "utf8").catch(() => "");
        const status = /^\d+$/.test(children.trim())
          ? await fs.readFile(`/proc/${children.trim()}/status`, "utf8").catch(() => "")
          : "";
        return /^State:\s+Z/m.test(status) ? children.trim() : undefined;
      };
      await waitFor(async () => (await zombieOf()) !== undefined, 5000);
      assert.match((await zombieOf()) ?? "", /^\d+$/, "the zombie child exists");
      assert.deepEqual(processesOfUser(slot.uid), [parent.pid]);
    } finally {
      parent.kill("SIGKILL");
      await exited;
    }
  });

  it("makes a work folder that only the slot's user may enter, and removes it with what runs left", async () => {
    const slot = testSlots[0];
    assert.ok(slot);
    const workspace = await Workspace.create(slot);
    const stat = await fs.stat(workspace.dir);
    assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [slot.uid, slot.gid, 0o700]);
    assert.equal(await workspace.write("main.py", "print(1)"), "/box/main.py");
    assert.equal(await fs.readFile(workspace.hostPath("main.py"), "utf8"), "print(1)");
    assert.equal((await fs.stat(workspace.hostPath("main.py"))).mode & 0o777, 0o644);
    await assert.rejects(workspace.write("../escape.py", "x"), RangeError);
    await fs.writeFile(workspace.hostPath("left-by-a-run"), "x");
    await workspace.dispose();
    await assert.rejects(fs.access(workspace.dir), { code: "ENOENT" });
  });

  it("is a JudgeFault when a file cannot be written into the work folder", async () => {
    const workspace = await Workspace.create(testSlots[0] ?? judgeSlot(0));
    await workspace.dispose();
    await assert.rejects(workspace.write("main.py", "print(1)"), (error) => {
      assert.ok(error instanceof JudgeFault);
      assert.match(error.message, /^writing main\.py into the work folder: ENOENT/);
      return true;
    });
  });

  it("is a JudgeFault when the work folder cannot be made", async () => {
    await assert.rejects(Workspace.create(testSlots[0] ?? judgeSlot(0), "/nonexistent/root"), (error) => {
      assert.ok(error instanceof JudgeFault);
      assert.match(error.message, /^creating a work folder in \/nonexistent\/root: ENOENT/);
      return true;
    });
  });

  it("wraps a foreign error into a fault naming the step, and keeps a fault as it is", () => {
    const wrapped = faultOf("reading x", new Error("EIO: boom"));
    assert.ok(wrapped instanceof JudgeFault);
    assert.equal(wrapped.message, "reading x: EIO: boom");
    assert.equal((wrapped.cause as Error).message, "EIO: boom");
    assert.equal(faultOf("reading x", "plain").message, "reading x: plain");
    const fault = new JudgeFault("already a fault");
    assert.equal(faultOf("another step", fault), fault);
  });
});
