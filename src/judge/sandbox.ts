import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { promisify } from "node:util";
import type { Readable, Writable } from "node:stream";
import { openCgroups, type CgroupHierarchy, type CgroupUsage, type RunCgroup } from "./cgroups.js";
import { faultOf, JudgeFault } from "./faults.js";
import { judgeSlot, processesOfUser, type JudgeSlot } from "./slots.js";
import { BOX_DIR, Workspace } from "./workspace.js";

/**
 * Runs one command under limits and reports what happened; it gives no verdict. The chain is
 *
 *   node ─spawn as the slot's uid─▶ bash (gate) ─exec─▶ bwrap ─▶ prlimit ─exec─▶ sh (PID 1) ─▶ program
 *
 * The gate shell gets itself into the run's cgroup (or waits until the worker has put it there)
 * before anything else, so nothing of the run can start outside it. bubblewrap then builds the
 * sandbox as that unprivileged user: new user, pid, network, IPC, UTS and cgroup namespaces (no
 * network at all), a read-only root with /usr and a few /etc files, a read-only /dev, a size-capped
 * private /tmp, the work folder at /box (read-only except for compiling), an empty environment, its
 * own session, no further user namespaces, and death with the worker. prlimit sets the per-process
 * limits, and the shell that is PID 1 inside says "ready" on another pipe, then waits for the
 * worker's go-ahead before it starts the program: a failure before "ready" is the judge's (a
 * JudgeFault), after it the program's, and CPU and wall time count from the go-ahead.
 */

/** The limits of one run. */
export interface SandboxLimits {
  /** CPU time of everything the program starts (the sandbox's own setup not included). */
  cpuTimeMs: number;
  /** Wall-clock time from the program's start. */
  wallTimeMs: number;
  memoryBytes: number;
  /** Tasks (processes and threads) of the program at once, the program itself included. */
  processes: number;
  /** Standard output kept; one byte more ends the run with `outputLimitExceeded`. */
  outputBytes: number;
  /** Standard error kept; the rest is read and dropped. */
  stderrBytes: number;
  /** Largest file the program may write (RLIMIT_FSIZE). */
  fileSizeBytes: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles: number;
  /** Size of the private /tmp. */
  tmpBytes: number;
}

/** One run. */
export interface SandboxRequest {
  slot: JudgeSlot;
  /** The command as seen inside the sandbox: an absolute path, then its arguments. */
  argv: readonly string[];
  /** The host folder shown at /box. */
  workDir: string;
  /** Only for compiling: /box is then writable. */
  workDirWritable?: boolean;
  /** Standard input, through a pipe. */
  stdin?: Buffer;
  limits: SandboxLimits;
}

/** What happened in one run. Flags report every limit hit; the verdict's order picks among them. */
export interface SandboxResult {
  /** The exit status of a program that exited; null when a signal ended it. */
  exitCode: number | null;
  /**
   * The signal that ended the program. bubblewrap reports a death by signal N as status 128 + N (the
   * shell's convention), so a program that itself exits with such a status reads as that signal.
   */
  signal: NodeJS.Signals | null;
  cpuMs: number;
  wallMs: number;
  /** Peak memory of the run's cgroup. */
  memoryKb: number;
  stdout: Buffer;
  stderr: Buffer;
  /** The kernel killed the program for reaching the memory limit. */
  memoryLimitExceeded: boolean;
  cpuTimeExceeded: boolean;
  wallTimeExceeded: boolean;
  outputLimitExceeded: boolean;
  /** A fork or thread was refused at the process limit (the program may have coped). */
  processLimitReached: boolean;
}

/** Where the sandbox's tools are and which cgroup the runs go under. */
export interface SandboxOptions {
  /** The judge's cgroup, relative to the hierarchy's root. */
  cgroupParent?: string;
  bwrapPath?: string;
  /** The mounts table to find cgroups in (a test may point it at a fake hierarchy). */
  mountsTable?: string;
  /** Wraps the hierarchy found, so a test can delay or fail its reads at a chosen moment. */
  wrapCgroups?: (cgroups: CgroupHierarchy) => CgroupHierarchy;
}

/** The judge's cgroup when none is configured. */
export const DEFAULT_CGROUP_PARENT = "shtp-judge";

const SHELL = "/bin/sh";
const BASH = "/bin/bash";
/** Inside the sandbox, so it must live under /usr. */
const PRLIMIT = "/usr/bin/prlimit";
const DEFAULT_BWRAP = "/usr/bin/bwrap";
/** The sandbox's own two processes: bubblewrap's monitor outside and the shell that is PID 1 inside. */
const SANDBOX_TASKS = 2;
/** How long bubblewrap may take to build the sandbox before it counts as broken. */
const SETUP_TIMEOUT_MS = 10_000;
const CPU_POLL_MS = 25;
/** How long bubblewrap's monitor may take to exit once the sandbox's processes are killed. */
const MONITOR_EXIT_MS = 2_000;
/** Host files the programs and compilers need; everything else of /etc stays out. */
const ETC_FILES = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"];
/** Top-level paths that are links into /usr on a merged-/usr system, or folders of their own. */
const ROOT_PATHS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
const ENVIRONMENT = { PATH: "/usr/bin:/bin", HOME: "/tmp", TMPDIR: "/tmp", LANG: "C.UTF-8" };

/**
 * The gate, in bash rather than sh because it can close descriptors above 9: Node passes on every
 * descriptor the worker inherited without close-on-exec (from a supervisor, say), and none may reach
 * bubblewrap or the program. Then it moves itself into the run's cgroup where it may ($1 files to
 * write 0 into), and waits for the worker's first go-ahead line on fd 3 (sent once the worker has
 * moved it, where it may not) before it becomes bubblewrap.
 */
const GATE_SCRIPT = [
  'for fd in /proc/self/fd/*; do fd=${fd##*/}; if [ "$fd" -gt 4 ]; then eval "exec $fd>&-"; fi; done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 >"$1" || exit 125; shift; n=$((n - 1)); done',
  'read -r line <&3 && exec "$@"',
].join("\n");
/**
 * The shell stays as PID 1 of the sandbox and runs the program as its child (`exit $?` keeps it from
 * exec-ing the last command): bubblewrap's outer process then reaps PID 1 itself, where bubblewrap's
 * own reaper would be left for the host's init to reap, holding a pid of the slot's user until then.
 * It also makes itself and the program the out-of-memory killer's first choice: bubblewrap's monitor
 * must live to reap it. Between "ready" on fd 4 and the program it waits for the worker's second
 * go-ahead line: the worker reads the CPU time the sandbox's setup took (about 8 ms of bash, bwrap,
 * prlimit and sh) in between, so the time reported and limited is the program's own.
 */
const READY_SCRIPT =
  'echo 1000 >/proc/self/oom_score_adj && printf . >&4 && exec 4>&- && read -r line <&3 && exec 3<&- && "$@"; exit $?';

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);
const RUN_NAME = /^run-(\d+)-(\d+)-(\d+)$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readSysctl(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, "utf8")).trim();
  } catch {
    return undefined;
  }
}

/** Why this kernel does not let an unprivileged user create a user namespace, or undefined. */
async function userNamespaceObstacle(): Promise<string | undefined> {
  if ((await readSysctl("/proc/sys/user/max_user_namespaces")) === "0") {
    return "user namespaces are disabled (sysctl user.max_user_namespaces=0)";
  }
  if ((await readSysctl("/proc/sys/kernel/unprivileged_userns_clone")) === "0") {
    return "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)";
  }
  if ((await readSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) === "1") {
    return "AppArmor forbids unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1)";
  }
  return undefined;
}

/** bubblewrap arguments that reproduce the host's top-level links into /usr (or bind real folders). */
async function rootPathArguments(): Promise<string[]> {
  const args: string[] = [];
  for (const root of ROOT_PATHS) {
    try {
      const stat = await fs.lstat(root);
      if (stat.isSymbolicLink()) args.push("--symlink", await fs.readlink(root), root);
      else if (stat.isDirectory()) args.push("--ro-bind", root, root);
    } catch {
      // Not on this machine.
    }
  }
  return args;
}

/** The signal of an exit status above 128 (the shell's way of saying "killed by signal N"). */
function signalName(status: number): NodeJS.Signals | null {
  return status > 128 ? (SIGNAL_NAMES.get(status - 128) ?? null) : null;
}

function checkLimits(limits: SandboxLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw new RangeError(`sandbox limit ${name} must be a positive integer, not ${String(value)}`);
    }
  }
}

/** What the process chain did, before the cgroup's figures are added. */
interface Execution {
  started: boolean;
  exitStatus: number | null;
  exitSignal: NodeJS.Signals | null;
  wallMs: number;
  /** The cgroup's CPU time when the program was let go: the sandbox's own setup. */
  setupCpuMs: number;
  stdout: Buffer;
  stderr: Buffer;
  killedForCpu: boolean;
  killedForWall: boolean;
  outputLimitExceeded: boolean;
  /** A failure of the judge's side met during the run (a cgroup that could not be read or killed). */
  fault: JudgeFault | undefined;
}

function streamAt<T extends Readable | Writable>(stream: Readable | Writable | null | undefined, fd: number): T {
  if (stream === null || stream === undefined) throw new JudgeFault(`the sandbox's fd ${fd} has no pipe`);
  return stream as T;
}

/** The sandbox of one judge machine: its tools checked and its cgroups found. */
export class Sandbox {
  /** Per process, not per instance: two sandboxes of one worker must not share a slot either. */
  private static readonly busyUids = new Set<number>();
  private static readonly checkedUids = new Set<number>();
  private static runs = 0;

  /** The cgroups of the runs in progress, for `killRuns`. */
  private readonly running = new Set<RunCgroup>();

  private constructor(
    private readonly cgroups: CgroupHierarchy,
    private readonly bwrap: string,
    private readonly rootPaths: string[],
    /** bubblewrap's version and the cgroup layout, for the boot log and /judge/status. */
    readonly description: string,
  ) {}

  /**
   * Checks that this machine can sandbox (root, bubblewrap, prlimit, user namespaces, cgroups), creates
   * the judge's cgroup and removes run cgroups that dead workers left behind.
   * @throws JudgeFault saying, in one sentence, what is missing
   */
  static async open(options: SandboxOptions = {}): Promise<Sandbox> {
    if (process.getuid?.() !== 0) {
      throw new JudgeFault("the judge must run as root to run each slot as its own user and to manage cgroups");
    }
    const bwrap = options.bwrapPath ?? DEFAULT_BWRAP;
    for (const [tool, install] of [
      [bwrap, "bubblewrap"],
      [PRLIMIT, "util-linux"],
      [SHELL, "dash"],
      [BASH, "bash"],
    ]) {
      try {
        await fs.access(tool as string, fs.constants.X_OK);
      } catch {
        throw new JudgeFault(`${tool} is missing (apt-get install ${install})`);
      }
    }
    const obstacle = await userNamespaceObstacle();
    if (obstacle !== undefined) throw new JudgeFault(obstacle);
    const found = await openCgroups(options.cgroupParent ?? DEFAULT_CGROUP_PARENT, options.mountsTable);
    const cgroups = options.wrapCgroups?.(found) ?? found;
    const { stdout: version } = await promisify(execFile)(bwrap, ["--version"]).catch((error: unknown) => {
      throw faultOf(`running ${bwrap} --version`, error);
    });
    const sandbox = new Sandbox(cgroups, bwrap, await rootPathArguments(), `${version.trim()}, ${cgroups.description}`);
    await sandbox.removeStaleCgroups();
    return sandbox;
  }

  private async removeStaleCgroups(): Promise<void> {
    for (const name of await this.cgroups.list()) {
      const owner = RUN_NAME.exec(name)?.[1];
      if (owner === undefined || Number(owner) === process.pid || isAlive(Number(owner))) continue;
      const cgroup = this.cgroups.attach(name);
      await cgroup.killAll();
      await cgroup.remove();
    }
  }

  /**
   * Runs `request.argv` in the sandbox and waits until every process of it is gone.
   * @throws JudgeFault when the sandbox itself failed (then no result says anything about the program)
   * @throws RangeError for limits that are not positive integers
   */
  async run(request: SandboxRequest): Promise<SandboxResult> {
    checkLimits(request.limits);
    const { slot, limits } = request;
    if (Sandbox.busyUids.has(slot.uid)) throw new JudgeFault(`slot ${slot.index} (uid ${slot.uid}) is already running`);
    Sandbox.busyUids.add(slot.uid);
    try {
      if (!Sandbox.checkedUids.has(slot.uid)) {
        this.expectNoProcesses(slot, "before its first run");
        Sandbox.checkedUids.add(slot.uid);
      }
      const cgroup = await this.cgroups.create(
        `run-${process.pid}-${slot.uid}-${++Sandbox.runs}`,
        { memoryBytes: limits.memoryBytes, pids: limits.processes + SANDBOX_TASKS, cpuCores: 1 },
        slot,
      );
      let execution: Execution;
      let usage: CgroupUsage;
      this.running.add(cgroup);
      try {
        execution = await this.execute(request, cgroup);
        await cgroup.killAll();
        usage = await cgroup.usage();
      } catch (error) {
        await cgroup.killAll().catch(() => undefined);
        throw error;
      } finally {
        this.running.delete(cgroup);
        await cgroup.remove();
      }
      this.expectNoProcesses(slot, "after a run");
      if (execution.fault !== undefined) throw execution.fault;
      if (!execution.started) {
        const said = execution.stderr.toString("utf8").trim();
        throw new JudgeFault(`the sandbox did not start${said === "" ? "" : `: ${said}`}`);
      }
      return this.resultOf(execution, usage, limits);
    } finally {
      Sandbox.busyUids.delete(slot.uid);
    }
  }

  /**
   * Kills every run of this sandbox in progress, for a worker that must stop now: each ends as killed
   * by SIGKILL (its result means nothing then) and leaves no process behind.
   */
  async killRuns(): Promise<void> {
    await Promise.all([...this.running].map((cgroup) => cgroup.killAll().catch(() => undefined)));
  }

  private resultOf(execution: Execution, usage: CgroupUsage, limits: SandboxLimits): SandboxResult {
    const signalled = execution.exitStatus === null ? null : signalName(execution.exitStatus);
    const exitCode = signalled === null ? execution.exitStatus : null;
    const signal = signalled ?? execution.exitSignal;
    const cpuMs = Math.max(0, usage.cpuMs - execution.setupCpuMs);
    return {
      exitCode,
      signal,
      cpuMs: Math.round(cpuMs),
      wallMs: Math.round(execution.wallMs),
      memoryKb: usage.memoryPeakKb,
      stdout: execution.stdout,
      stderr: execution.stderr,
      memoryLimitExceeded: usage.oomKilled,
      cpuTimeExceeded: execution.killedForCpu || cpuMs > limits.cpuTimeMs || signal === "SIGXCPU",
      wallTimeExceeded: execution.killedForWall,
      outputLimitExceeded: execution.outputLimitExceeded,
      processLimitReached: usage.pidsLimitReached,
    };
  }

  private expectNoProcesses(slot: JudgeSlot, when: string): void {
    const left = processesOfUser(slot.uid);
    if (left.length > 0) {
      throw new JudgeFault(
        `uid ${slot.uid} of slot ${slot.index} has processes ${left.join(", ")} ${when}: ` +
          "another worker shares this slot's uid, or a run escaped its cgroup",
      );
    }
  }

  private commandLine(request: SandboxRequest): string[] {
    const { limits } = request;
    const cpuSeconds = Math.ceil(limits.cpuTimeMs / 1000) + 1;
    const environment = Object.entries(ENVIRONMENT).flatMap(([name, value]) => ["--setenv", name, value]);
    return [
      this.bwrap,
      "--unshare-all",
      "--unshare-user",
      "--disable-userns",
      "--as-pid-1",
      "--die-with-parent",
      "--new-session",
      "--hostname",
      "judge",
      "--clearenv",
      ...environment,
      "--ro-bind",
      "/usr",
      "/usr",
      ...this.rootPaths,
      ...ETC_FILES.flatMap((file) => ["--ro-bind-try", file, file]),
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--size",
      String(limits.tmpBytes),
      "--tmpfs",
      "/tmp",
      request.workDirWritable === true ? "--bind" : "--ro-bind",
      request.workDir,
      BOX_DIR,
      "--remount-ro",
      "/dev",
      "--remount-ro",
      "/",
      "--chdir",
      BOX_DIR,
      "--",
      PRLIMIT,
      `--cpu=${cpuSeconds}:${cpuSeconds + 1}`,
      `--fsize=${limits.fileSizeBytes}`,
      `--nofile=${limits.openFiles}`,
      `--nproc=${limits.processes + SANDBOX_TASKS}`,
      `--stack=${limits.memoryBytes}`,
      "--core=0",
      "--",
      SHELL,
      "-c",
      READY_SCRIPT,
      "shtp-ready",
      ...request.argv,
    ];
  }

  private execute(request: SandboxRequest, cgroup: RunCgroup): Promise<Execution> {
    const joins = cgroup.selfJoinFiles;
    const gate = ["-c", GATE_SCRIPT, "shtp-gate", String(joins.length), ...joins];
    const child = spawn(BASH, [...gate, ...this.commandLine(request)], {
      uid: request.slot.uid,
      gid: request.slot.gid,
      detached: true,
      env: {},
      cwd: "/",
      stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"],
    });
    return supervise(child, cgroup, request);
  }
}

/**
 * Watches one process chain from its spawn to its end: feeds the input, collects the output up to
 * its limits, opens the gate once the chain is in its cgroup, and stops the run at the CPU, wall or
 * output limit.
 */
function supervise(child: ChildProcess, cgroup: RunCgroup, request: SandboxRequest): Promise<Execution> {
  const { limits } = request;
  return new Promise<Execution>((resolve, reject) => {
    const execution: Execution = {
      started: false,
      exitStatus: null,
      exitSignal: null,
      wallMs: 0,
      setupCpuMs: 0,
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      killedForCpu: false,
      killedForWall: false,
      outputLimitExceeded: false,
      fault: undefined,
    };
    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let startedAt = 0;
    let exitedAt = 0;
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    let stopping: Promise<void> | undefined;
    const noteFault = (step: string) => (error: unknown) => {
      execution.fault ??= faultOf(step, error);
    };

    /** Kills the whole chain at once: for a sandbox that never started, or a monitor that hangs. */
    const abort = () => {
      if (closed || child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group is already gone.
      }
      cgroup.killAll().catch(noteFault("killing a run"));
    };
    /**
     * Ends the run: every process but bubblewrap's monitor, which then reaps the sandbox's PID 1 and
     * exits by itself, so no zombie of the slot's user is left for init to collect.
     */
    const stop = (): Promise<void> => {
      stopping ??= cgroup.killAll(child.pid).then(() => {
        // A monitor that has closed already needs no deadline (and its timer would outlive the run).
        if (!closed) timers.push(setTimeout(abort, MONITOR_EXIT_MS));
      }, noteFault("stopping a run"));
      return stopping;
    };

    child.on("error", (error) => {
      timers.forEach(clearTimeout);
      reject(faultOf("starting the sandbox", error));
    });
    const pid = child.pid;
    if (pid === undefined) return;

    const [stdin, stdout, stderr, goAheads, ready] = child.stdio;
    const input = streamAt<Writable>(stdin, 0);
    const goAhead = streamAt<Writable>(goAheads, 3);
    input.on("error", () => undefined); // The program may exit without reading its input.
    goAhead.on("error", () => undefined);

    streamAt<Readable>(stdout, 1).on("data", (chunk: Buffer) => {
      if (execution.outputLimitExceeded) return;
      const room = limits.outputBytes - stdoutBytes;
      stdoutChunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      stdoutBytes += Math.min(chunk.length, room);
      if (chunk.length > room) {
        execution.outputLimitExceeded = true;
        void stop();
      }
    });
    streamAt<Readable>(stderr, 2).on("data", (chunk: Buffer) => {
      const room = limits.stderrBytes - stderrBytes;
      if (room <= 0) return;
      stderrChunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      stderrBytes += Math.min(chunk.length, room);
    });

    /**
     * The CPU reading in flight (the set-up's or a poll's). The run ends only after it settles: a reading
     * still open when the cgroup is removed fails (ENODEV) and would turn a finished run into a judge fault.
     */
    let polling: Promise<void> | undefined;
    const pollCpu = () => {
      if (polling || stopping) return;
      polling = cgroup
        .cpuMs()
        .then((cpuMs) => {
          if (cpuMs - execution.setupCpuMs <= limits.cpuTimeMs || stopping) return;
          execution.killedForCpu = true;
          return stop();
        })
        .catch((error: unknown) => {
          noteFault("measuring a run's CPU time")(error);
          return stop();
        })
        .finally(() => (polling = undefined));
    };
    const letGo = (setupCpuMs: number) => {
      // Killed during the set-up (a stopping worker): nothing to let go, and no timer may outlive the run.
      if (closed) return;
      execution.setupCpuMs = setupCpuMs;
      startedAt = performance.now();
      goAhead.end("\n");
      timers.push(
        setTimeout(() => {
          if (stopping) return;
          execution.killedForWall = true;
          void stop();
        }, limits.wallTimeMs),
        setInterval(pollCpu, CPU_POLL_MS),
      );
    };
    streamAt<Readable>(ready, 4).once("data", () => {
      execution.started = true;
      polling = cgroup
        .cpuMs()
        .then(letGo, (error: unknown) => {
          noteFault("measuring the sandbox's setup")(error);
          abort();
        })
        .finally(() => (polling = undefined));
    });
    timers.push(
      setTimeout(() => {
        if (execution.started) return;
        execution.fault ??= new JudgeFault(`the sandbox did not start within ${SETUP_TIMEOUT_MS} ms`);
        abort();
      }, SETUP_TIMEOUT_MS),
    );

    child.on("exit", () => {
      exitedAt = performance.now();
    });
    child.on("close", (status, signal) => {
      closed = true;
      timers.forEach(clearTimeout);
      execution.exitStatus = status;
      execution.exitSignal = signal;
      execution.wallMs = execution.started ? exitedAt - startedAt : 0;
      execution.stdout = Buffer.concat(stdoutChunks);
      execution.stderr = Buffer.concat(stderrChunks);
      void Promise.all([stopping, polling]).then(() => resolve(execution));
    });

    (cgroup.selfJoinFiles.length > 0 ? Promise.resolve() : cgroup.add(pid)).then(
      () => {
        input.end(request.stdin ?? Buffer.alloc(0));
        goAhead.write("\n");
      },
      (error: unknown) => {
        noteFault("moving the sandbox into its cgroup")(error);
        abort();
      },
    );
  });
}

/** Whether this machine can judge, and if not why. */
export type SandboxProbe = { available: true; description: string } | { available: false; reason: string };

/**
 * Checks at boot that the sandbox works here: opens it and runs a trivial command on `slot`.
 * @returns the description of the working sandbox, or one sentence on why it does not work
 */
export async function probeSandbox(options: SandboxOptions = {}, slot = judgeSlot(0)): Promise<SandboxProbe> {
  let workspace: Workspace | undefined;
  try {
    const sandbox = await Sandbox.open(options);
    workspace = await Workspace.create(slot);
    const result = await sandbox.run({
      slot,
      argv: [SHELL, "-c", "exit 0"],
      workDir: workspace.dir,
      limits: PROBE_LIMITS,
    });
    if (result.exitCode !== 0) {
      return {
        available: false,
        reason: `a trivial command ended with ${result.signal ?? `status ${result.exitCode}`}`,
      };
    }
    return { available: true, description: sandbox.description };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    await workspace?.dispose();
  }
}

const PROBE_LIMITS: SandboxLimits = {
  cpuTimeMs: 5_000,
  wallTimeMs: 10_000,
  memoryBytes: 64 << 20,
  processes: 4,
  outputBytes: 1 << 16,
  stderrBytes: 1 << 16,
  fileSizeBytes: 1 << 20,
  openFiles: 64,
  tmpBytes: 1 << 20,
};
