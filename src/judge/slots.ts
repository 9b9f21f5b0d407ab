import fs from "node:fs";

/**
 * A slot is one place on a judge machine where one program runs at a time, with a user of its own:
 * slot N runs as uid (and gid) base + N. A real unprivileged uid, not just a different uid inside a
 * user namespace, is what makes the kernel count and cap that user's processes (RLIMIT_NPROC is not
 * enforced for root) and lets the judge find every process a run left behind by its uid.
 */

/** The first slot's uid when none is configured. The range base .. base + slots - 1 must be unused. */
export const DEFAULT_SLOT_UID_BASE = 60_000;

/** Lowest uid a slot may use: below it Debian has system and login users. */
export const MIN_SLOT_UID = 1_000;
const MAX_UID = 4_294_967_294;

/** One slot: its number and the user its programs run as. */
export interface JudgeSlot {
  readonly index: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The slot `index` with uid and gid `uidBase + index`.
 * @throws RangeError for a negative index or a uid outside MIN_SLOT_UID .. 2^32 - 2
 */
export function judgeSlot(index: number, uidBase = DEFAULT_SLOT_UID_BASE): JudgeSlot {
  const uid = uidBase + index;
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`slot index ${index} is not a natural number`);
  if (!Number.isSafeInteger(uid) || uid < MIN_SLOT_UID || uid > MAX_UID) {
    throw new RangeError(`slot uid ${uid} is outside ${MIN_SLOT_UID}..${MAX_UID}`);
  }
  return Object.freeze({ index, uid, gid: uid });
}

/** Slots 0 .. count - 1 from `uidBase`. */
export function judgeSlots(count: number, uidBase = DEFAULT_SLOT_UID_BASE): JudgeSlot[] {
  return Array.from({ length: count }, (_, index) => judgeSlot(index, uidBase));
}

/** The uids (real, effective, saved, file system) on the `Uid:` line of /proc/<pid>/status. */
function uidsOfStatus(status: string): number[] {
  const line = /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "";
  return line.trim().split(/\s+/).map(Number);
}

/** A zombie (Z) or dead (X) process has ended: it holds a pid until its parent or init reaps it. */
const isEnded = (status: string) => /^State:\s+[ZX]/m.test(status);

/**
 * Every live process on this machine that runs as `uid` in any of its four uids (an ended one waiting
 * to be reaped can do nothing). /proc/<pid>/status is read rather than the owner of /proc/<pid>, which
 * a process can turn into root by making itself non-dumpable. Synchronous on purpose: a few hundred
 * small reads take a few milliseconds this way and several times that through the thread pool.
 */
export function processesOfUser(uid: number, procDir = "/proc"): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync(procDir)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`${procDir}/${entry}/status`, "latin1");
      if (uidsOfStatus(status).includes(uid) && !isEnded(status)) found.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}
