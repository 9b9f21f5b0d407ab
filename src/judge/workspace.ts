import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { faultOf } from "./faults.js";
import type { JudgeSlot } from "./slots.js";

/** Where the sandbox shows a run's work folder. */
export const BOX_DIR = "/box";

/**
 * The host folder of one submission on one slot: the source goes in, the compiler writes the program
 * next to it, the runs read it (read-only), and it is removed afterwards. It belongs to the slot's user
 * (mode 0700) so that user's sandbox can bind it and no other slot's user can look inside.
 */
export class Workspace {
  private constructor(
    /** The folder on the host. */
    readonly dir: string,
  ) {}

  /**
   * A new empty folder for `slot`.
   * @param root - the host folder to create it in; only reachable from outside the sandbox
   * @throws JudgeFault when the folder cannot be made or handed to the slot's user
   */
  static async create(slot: JudgeSlot, root = os.tmpdir()): Promise<Workspace> {
    let dir: string;
    try {
      dir = await fs.mkdtemp(path.join(root, `shtp-judge-slot${slot.index}-`));
    } catch (error) {
      throw faultOf(`creating a work folder in ${root}`, error);
    }
    try {
      await fs.chown(dir, slot.uid, slot.gid);
    } catch (error) {
      await fs.rm(dir, { recursive: true, force: true });
      throw faultOf(`handing the work folder ${dir} to uid ${slot.uid}`, error);
    }
    return new Workspace(dir);
  }

  /**
   * Writes a file that the sandbox will read, readable by everyone inside, writable by nobody there.
   * @returns its path inside the sandbox
   */
  async write(name: string, content: string | Buffer): Promise<string> {
    if (path.basename(name) !== name) throw new RangeError(`${name} is not a plain file name`);
    try {
      await fs.writeFile(path.join(this.dir, name), content, { mode: 0o644 });
    } catch (error) {
      throw faultOf(`writing ${name} into the work folder`, error);
    }
    return `${BOX_DIR}/${name}`;
  }

  /** The host path of a file the sandbox sees as `/box/<name>`. */
  hostPath(name: string): string {
    return path.join(this.dir, name);
  }

  /** Removes the folder and everything the runs left in it. */
  async dispose(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
