import { writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { faultOf, JudgeFault } from "./faults.js";

/**
 * One cgroup per sandboxed run: it caps memory, tasks and CPU bandwidth for everything the run starts,
 * measures CPU time and peak memory, tells an out-of-memory kill apart from a crash, and is how every
 * process of the run is found and killed afterwards (a process cannot leave its cgroup without root).
 * Both layouts are supported: cgroup v1 (one hierarchy per controller, as on this project's judge
 * machines) and the unified v2 hierarchy.
 */

/** What a run cgroup enforces. */
export interface CgroupLimits {
  memoryBytes: number;
  /** Tasks (processes and threads) alive at once. */
  pids: number;
  /** CPU bandwidth in cores; one core per run keeps a busy run from slowing the other slots. */
  cpuCores: number;
}

/** The user allowed to move its own processes into a run cgroup. */
export interface CgroupOwner {
  uid: number;
  gid: number;
}

/** What a run used, read after it ended. */
export interface CgroupUsage {
  cpuMs: number;
  memoryPeakKb: number;
  /** The kernel killed a task of the run for reaching the memory limit. */
  oomKilled: boolean;
  /** A fork or clone was refused at the task limit. */
  pidsLimitReached: boolean;
}

/** A run's cgroup, from its creation to its removal. */
export interface RunCgroup {
  readonly name: string;
  /**
   * Files in which a process of the owner writes "0" to move itself in, or none where the worker
   * must `add` it. Joining oneself through cgroup v1's `tasks` skips the kernel's migration lock
   * (an RCU grace period: 10 ms and more on a busy machine, against 0.3 ms).
   */
  readonly selfJoinFiles: readonly string[];
  /** Moves a process in; everything it starts afterwards is inside too. */
  add(pid: number): Promise<void>;
  /** CPU time used so far by every task the run had. */
  cpuMs(): Promise<number>;
  usage(): Promise<CgroupUsage>;
  /**
   * Kills every process inside but `sparing` and waits until none of them is left. A process spared
   * can reap its children (so none is left as a zombie for init to collect) and exit by itself.
   */
  killAll(sparing?: number): Promise<void>;
  /** Removes the cgroup (it must be empty); a cgroup already gone is fine. */
  remove(): Promise<void>;
}

/** The cgroup hierarchy of this machine, with the judge's parent cgroup in it. */
export interface CgroupHierarchy {
  readonly version: 1 | 2;
  /** Where the run cgroups go, for messages. */
  readonly description: string;
  /** Creates a run cgroup; `owner` is the user whose process will join it by itself (cgroup v1). */
  create(name: string, limits: CgroupLimits, owner?: CgroupOwner): Promise<RunCgroup>;
  /** Attaches to an existing run cgroup by name, to clean one up that a dead process left. */
  attach(name: string): RunCgroup;
  /** The names of the run cgroups under the judge's parent. */
  list(): Promise<string[]>;
}

const CPU_PERIOD_US = 100_000;
const EMPTY_TIMEOUT_MS = 3_000;
const FREEZE_TIMEOUT_MS = 1_000;

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    throw faultOf(`reading ${file}`, error);
  }
}

async function writeText(file: string, text: string): Promise<void> {
  try {
    await fs.writeFile(file, text);
  } catch (error) {
    throw faultOf(`writing "${text}" to ${file}`, error);
  }
}

/**
 * Synchronous, for the writes on every run's path: a cgroup file write is one quick system call,
 * cheaper than three trips through the thread pool (open, write, close) on a busy machine.
 */
function writeTextNow(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (error) {
    throw faultOf(`writing "${text}" to ${file}`, error);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The value of `key` in a flat-keyed cgroup file (`key value` per line), 0 when absent. */
export function keyedValue(text: string, key: string): number {
  for (const line of text.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key && value !== undefined) return Number(value);
  }
  return 0;
}

/** @returns the processes in a cgroup's folder (its `cgroup.procs`, v1 and v2 alike); none once it is gone */
async function processesIn(dir: string, name: string): Promise<number[]> {
  try {
    return pidsOf(await fs.readFile(path.join(dir, "cgroup.procs"), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw faultOf(`listing the processes of cgroup ${name}`, error);
  }
}

function pidsOf(text: string): number[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone: exactly what we want.
  }
}

async function makeCgroupDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir);
  } catch (error) {
    throw faultOf(`creating cgroup ${dir}`, error);
  }
}

async function removeDirectory(dir: string): Promise<void> {
  // A cgroup whose last task has just died can stay busy for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 100) throw faultOf(`removing cgroup ${dir}`, error);
      await sleep(10);
    }
  }
}

/**
 * Kills what `listPids` returns until it returns nothing. Killing in rounds wins against a fork bomb:
 * the task limit caps each round, and a killed task cannot fork again.
 */
async function killUntilEmpty(listPids: () => Promise<number[]>, where: string): Promise<void> {
  const deadline = Date.now() + EMPTY_TIMEOUT_MS;
  for (;;) {
    const pids = await listPids();
    if (pids.length === 0) return;
    if (Date.now() > deadline) {
      throw new JudgeFault(`processes ${pids.join(", ")} in ${where} survived SIGKILL for ${EMPTY_TIMEOUT_MS} ms`);
    }
    pids.forEach(killQuietly);
    await sleep(2);
  }
}

async function pollUntil(read: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await read()) return true;
    await sleep(1);
  }
  return false;
}

/** A mounted cgroup file system from /proc/self/mounts. */
interface CgroupMount {
  dir: string;
  type: "cgroup" | "cgroup2";
  options: string[];
}

function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The cgroup mounts listed in a mounts table (the format of /proc/self/mounts). */
export function cgroupMounts(table: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of table.split("\n")) {
    const [, dir, type, options] = line.split(" ");
    if (dir === undefined || options === undefined) continue;
    if (type === "cgroup" || type === "cgroup2") {
      mounts.push({ dir: decodeMountField(dir), type, options: options.split(",") });
    }
  }
  return mounts;
}

/** The cgroup v1 controllers a run uses; cpu (bandwidth) and freezer (atomic kill) are optional. */
interface V1Dirs {
  memory: string;
  pids: string;
  cpuacct: string;
  cpu: string | undefined;
  freezer: string | undefined;
}

/** The same controllers, one level down. */
function within(dirs: V1Dirs, child: string): V1Dirs {
  const join = (dir: string) => path.join(dir, child);
  return {
    memory: join(dirs.memory),
    pids: join(dirs.pids),
    cpuacct: join(dirs.cpuacct),
    cpu: dirs.cpu === undefined ? undefined : join(dirs.cpu),
    freezer: dirs.freezer === undefined ? undefined : join(dirs.freezer),
  };
}

/** Each folder once: co-mounted controllers (`cpu,cpuacct`) share one. */
function distinctDirs(dirs: V1Dirs): string[] {
  const { memory, pids, cpuacct, cpu, freezer } = dirs;
  return [...new Set([memory, pids, cpuacct, cpu, freezer].filter((dir): dir is string => dir !== undefined))];
}

class V1RunCgroup implements RunCgroup {
  selfJoinFiles: readonly string[] = [];

  constructor(
    readonly name: string,
    private readonly dirs: V1Dirs,
  ) {}

  /** Creates the cgroup and sets its limits; on failure removes what it created, and only that. */
  async make(limits: CgroupLimits, owner: CgroupOwner | undefined): Promise<void> {
    const made: string[] = [];
    try {
      for (const dir of distinctDirs(this.dirs)) {
        await makeCgroupDir(dir);
        made.push(dir);
      }
      await this.limit(limits);
      if (owner !== undefined) {
        // Only `tasks` (a thread joining itself), never cgroup.procs or a limit, becomes the owner's.
        const files = made.map((dir) => path.join(dir, "tasks"));
        for (const file of files) {
          await fs.chown(file, owner.uid, owner.gid).catch((error: unknown) => {
            throw faultOf(`handing ${file} to uid ${owner.uid}`, error);
          });
        }
        this.selfJoinFiles = files;
      }
    } catch (error) {
      for (const dir of made) await removeDirectory(dir).catch(() => undefined);
      throw error;
    }
  }

  private async limit(limits: CgroupLimits): Promise<void> {
    await writeText(path.join(this.dirs.memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
    // Without a swap limit a run could page out past its memory limit on a machine with swap.
    const memsw = path.join(this.dirs.memory, "memory.memsw.limit_in_bytes");
    if (await exists(memsw)) await writeText(memsw, String(limits.memoryBytes));
    await writeText(path.join(this.dirs.pids, "pids.max"), String(limits.pids));
    if (this.dirs.cpu !== undefined) {
      await writeText(path.join(this.dirs.cpu, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
      await writeText(
        path.join(this.dirs.cpu, "cpu.cfs_quota_us"),
        String(Math.round(CPU_PERIOD_US * limits.cpuCores)),
      );
    }
  }

  async add(pid: number): Promise<void> {
    for (const dir of distinctDirs(this.dirs)) writeTextNow(path.join(dir, "cgroup.procs"), String(pid));
  }

  async cpuMs(): Promise<number> {
    return Number(await readText(path.join(this.dirs.cpuacct, "cpuacct.usage"))) / 1e6;
  }

  async usage(): Promise<CgroupUsage> {
    const [cpuMs, peak, oomControl, pidsEvents] = await Promise.all([
      this.cpuMs(),
      readText(path.join(this.dirs.memory, "memory.max_usage_in_bytes")),
      readText(path.join(this.dirs.memory, "memory.oom_control")),
      readText(path.join(this.dirs.pids, "pids.events")),
    ]);
    return {
      cpuMs,
      memoryPeakKb: Math.ceil(Number(peak) / 1024),
      oomKilled: keyedValue(oomControl, "oom_kill") > 0,
      pidsLimitReached: keyedValue(pidsEvents, "max") > 0,
    };
  }

  private procs(): Promise<number[]> {
    return processesIn(this.dirs.pids, this.name);
  }

  async killAll(sparing?: number): Promise<void> {
    const targets = async () => (await this.procs()).filter((pid) => pid !== sparing);
    // Most runs end by themselves: nothing to freeze then.
    if ((await targets()).length === 0) return;
    const freezer = this.dirs.freezer;
    if (freezer !== undefined && (await exists(freezer))) {
      // Frozen tasks cannot fork between the listing and the kill; they die as soon as they thaw.
      const state = path.join(freezer, "freezer.state");
      await writeText(state, "FROZEN");
      await pollUntil(async () => (await readText(state)).trim() === "FROZEN", FREEZE_TIMEOUT_MS);
      (await targets()).forEach(killQuietly);
      await writeText(state, "THAWED");
    }
    await killUntilEmpty(targets, `cgroup ${this.name}`);
  }

  async remove(): Promise<void> {
    for (const dir of distinctDirs(this.dirs)) await removeDirectory(dir);
  }
}

class V2RunCgroup implements RunCgroup {
  /** Joining oneself in v2 needs write access up to the common ancestor: the worker adds instead. */
  readonly selfJoinFiles: readonly string[] = [];
  /** Peak memory seen while polling, for kernels without memory.peak (before 5.19). */
  private sampledPeakBytes = 0;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly cpuController: boolean,
  ) {}

  /** Creates the cgroup and sets its limits; on failure removes it again. */
  async make(limits: CgroupLimits): Promise<void> {
    await makeCgroupDir(this.dir);
    try {
      await this.limit(limits);
    } catch (error) {
      await removeDirectory(this.dir).catch(() => undefined);
      throw error;
    }
  }

  private async limit(limits: CgroupLimits): Promise<void> {
    await writeText(path.join(this.dir, "memory.max"), String(limits.memoryBytes));
    const swapMax = path.join(this.dir, "memory.swap.max");
    if (await exists(swapMax)) await writeText(swapMax, "0");
    await writeText(path.join(this.dir, "pids.max"), String(limits.pids));
    if (this.cpuController) {
      await writeText(
        path.join(this.dir, "cpu.max"),
        `${Math.round(CPU_PERIOD_US * limits.cpuCores)} ${CPU_PERIOD_US}`,
      );
    }
  }

  async add(pid: number): Promise<void> {
    writeTextNow(path.join(this.dir, "cgroup.procs"), String(pid));
  }

  async cpuMs(): Promise<number> {
    const [stat, current] = await Promise.all([
      readText(path.join(this.dir, "cpu.stat")),
      fs.readFile(path.join(this.dir, "memory.current"), "utf8").catch(() => "0"),
    ]);
    this.sampledPeakBytes = Math.max(this.sampledPeakBytes, Number(current));
    return keyedValue(stat, "usage_usec") / 1000;
  }

  async usage(): Promise<CgroupUsage> {
    const cpuMs = await this.cpuMs();
    const peakFile = path.join(this.dir, "memory.peak");
    const peakBytes = (await exists(peakFile)) ? Number(await readText(peakFile)) : this.sampledPeakBytes;
    const [events, pidsEvents] = await Promise.all([
      readText(path.join(this.dir, "memory.events")),
      readText(path.join(this.dir, "pids.events")),
    ]);
    return {
      cpuMs,
      memoryPeakKb: Math.ceil(peakBytes / 1024),
      oomKilled: keyedValue(events, "oom_kill") > 0 || keyedValue(events, "oom_group_kill") > 0,
      pidsLimitReached: keyedValue(pidsEvents, "max") > 0,
    };
  }

  private procs(): Promise<number[]> {
    return processesIn(this.dir, this.name);
  }

  async killAll(sparing?: number): Promise<void> {
    const targets = async () => (await this.procs()).filter((pid) => pid !== sparing);
    // Most runs end by themselves: nothing to freeze then.
    if ((await targets()).length === 0) return;
    const kill = path.join(this.dir, "cgroup.kill");
    if (sparing === undefined && (await exists(kill))) {
      await writeText(kill, "1");
    } else if (await exists(this.dir)) {
      const freeze = path.join(this.dir, "cgroup.freeze");
      await writeText(freeze, "1");
      (await targets()).forEach(killQuietly);
      await writeText(freeze, "0");
    }
    await killUntilEmpty(targets, `cgroup ${this.name}`);
  }

  async remove(): Promise<void> {
    await removeDirectory(this.dir);
  }
}

async function listDirectories(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    throw faultOf(`listing ${dir}`, error);
  }
}

async function openV1(mounts: CgroupMount[], parent: string): Promise<CgroupHierarchy> {
  const mountOf = (controller: string) =>
    mounts.find((mount) => mount.type === "cgroup" && mount.options.includes(controller))?.dir;
  const memory = mountOf("memory");
  const pids = mountOf("pids");
  const cpuacct = mountOf("cpuacct");
  if (memory === undefined || pids === undefined || cpuacct === undefined) {
    const missing = Object.entries({ memory, pids, cpuacct }).filter(([, dir]) => dir === undefined);
    throw new JudgeFault(`the cgroup v1 controller(s) ${missing.map(([name]) => name).join(", ")} are not mounted`);
  }
  const mountDirs: V1Dirs = { memory, pids, cpuacct, cpu: mountOf("cpu"), freezer: mountOf("freezer") };
  const parents = within(mountDirs, parent);
  for (const dir of distinctDirs(parents)) {
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (error) {
      throw faultOf(`creating the judge's cgroup ${dir}`, error);
    }
  }
  const dirsOf = (name: string) => within(parents, name);
  return {
    version: 1,
    description: `cgroup v1 (${parents.memory}, ${parents.pids}, ${parents.cpuacct})`,
    async create(name, limits, owner) {
      const cgroup = new V1RunCgroup(name, dirsOf(name));
      await cgroup.make(limits, owner);
      return cgroup;
    },
    attach: (name) => new V1RunCgroup(name, dirsOf(name)),
    list: () => listDirectories(parents.pids),
  };
}

/** Enables `controllers` for the children of `dir`, leaving those already enabled alone. */
async function enableControllers(dir: string, controllers: string[]): Promise<void> {
  const file = path.join(dir, "cgroup.subtree_control");
  const enabled = (await readText(file)).trim().split(/\s+/);
  const wanted = controllers.filter((controller) => !enabled.includes(controller));
  if (wanted.length > 0) await writeText(file, wanted.map((controller) => `+${controller}`).join(" "));
}

async function openV2(mountDir: string, parent: string): Promise<CgroupHierarchy> {
  const available = (await readText(path.join(mountDir, "cgroup.controllers"))).trim().split(/\s+/);
  const cpuController = available.includes("cpu");
  const controllers = ["memory", "pids", ...(cpuController ? ["cpu"] : [])];
  // Every level from the mount down to the judge's parent must pass the controllers on to its children.
  let dir = mountDir;
  for (const part of parent.split("/").filter((segment) => segment !== "")) {
    await enableControllers(dir, controllers);
    dir = path.join(dir, part);
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (error) {
      throw faultOf(`creating the judge's cgroup ${dir}`, error);
    }
  }
  await enableControllers(dir, controllers);
  const parentDir = dir;
  return {
    version: 2,
    description: `cgroup v2 (${parentDir})`,
    async create(name, limits) {
      const cgroup = new V2RunCgroup(name, path.join(parentDir, name), cpuController);
      await cgroup.make(limits);
      return cgroup;
    },
    attach: (name) => new V2RunCgroup(name, path.join(parentDir, name), cpuController),
    list: () => listDirectories(parentDir),
  };
}

/**
 * Finds the cgroup hierarchy (v2 when its memory and pids controllers are usable, else v1) and makes
 * sure the judge's parent cgroup exists.
 * @param parent - the judge's cgroup, relative to the hierarchy's root, e.g. `shtp-judge`
 * @param mountsTable - where mounts are listed (a test points it at a fake hierarchy)
 * @throws JudgeFault saying what is missing
 */
export async function openCgroups(parent: string, mountsTable = "/proc/self/mounts"): Promise<CgroupHierarchy> {
  const mounts = cgroupMounts(await readText(mountsTable));
  for (const mount of mounts.filter((candidate) => candidate.type === "cgroup2")) {
    const controllers = await fs.readFile(path.join(mount.dir, "cgroup.controllers"), "utf8").catch(() => "");
    const names = controllers.trim().split(/\s+/);
    if (names.includes("memory") && names.includes("pids")) return openV2(mount.dir, parent);
  }
  if (!mounts.some((mount) => mount.type === "cgroup")) {
    throw new JudgeFault("no cgroup file system with the memory and pids controllers is mounted");
  }
  return openV1(mounts, parent);
}
