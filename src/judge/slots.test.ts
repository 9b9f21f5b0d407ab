import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { testSlots } from "../testing/judge.js";
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
    // `true` ends at once; its parent becomes `sleep`, which never reaps it.
    const parent = spawn("/bin/bash", ["-c", "/bin/true & exec /bin/sleep 30"], {
      uid: slot.uid,
      gid: slot.gid,
      stdio: "ignore",
    });
    const exited = once(parent, "exit");
    try {
      // On a busy machine bash may take a while to start its child: wait for it rather than a fixed time.
      const childrenOf = async () =>
        (await fs.readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, "utf8").catch(() => "")).trim();
      const deadline = Date.now() + 5000;
      while (!/^\d+$/.test(await childrenOf()) && Date.now() < deadline) await sleep(20);
      const zombies = await childrenOf();
      assert.match(zombies, /^\d+$/, "the zombie child exists");
      assert.match(await fs.readFile(`/proc/${zombies}/status`, "utf8"), /^State:\s+Z/m);
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
