/**
 * What a lesson contributes to the runtime. Each lesson file exports one
 * `Lesson`; the core composes them in manifest order and never needs to know
 * what they do.
 *
 *   host side (this process)                 container side (PID 1, core/init)
 *   ────────────────────────                 ─────────────────────────────────
 *   validate(config)         for every lesson
 *   cloneFlags(config)       OR-ed together → unshare(flags) → spawn init
 *                            (with CLONE_NEWUSER: through the C helper, and
 *   hostUserNamespace(ctx)    on the helper's pid, between the user namespace
 *                             and the others — uid_map, gid_map)
 *   hostAfterSpawn(ctx)      on the child's pid, before it is released
 *                                            prepareRootfs(config, sys)  in lesson order
 *                                            init(config, sys)  in lesson order
 *   hostBeforeExec(ctx)      while the init waits, its steps done
 *                                            beforeExec(config, sys)  in lesson order
 *                                            … execve(argv)
 *   hostCleanup(ctx)         after exit, in reverse order, always; each
 *                            undo step on its own (ctx.undo, below)
 *
 *   `cellblock exec` (core/host/exec.ts), a new process into a running container:
 *   joinNamespaces(initPid)  which of the init's namespaces, in which order
 *                            → the C helper setns(2)s into them
 *   hostJoin(ctx)            on the joining process's pid, before it is released
 *                                            beforeJoinExec(config, sys)
 *                                            … execve(argv)
 *
 * The core never asks which lesson is which. Where it needs something only a
 * lesson can do, it asks for a declared capability instead: `features` (what
 * a command like `cellblock build` needs some lesson to provide),
 * `superviseCommand` (whether the init stays PID 1), `buildStep` (how a
 * lesson's own fields are set for an image build's RUN steps).
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Sys } from '../native/index.js';
import type { ContainerConfig } from './config.js';

/** One small check: returns a problem (naming the value and the fix) or undefined. */
export type Validation<C> = (config: C) => string | undefined;

/** A CLI option a lesson adds to `cellblock run` (the subset of yargs' option spec we use). */
export interface LessonOption {
  type: 'string' | 'number' | 'boolean' | 'array';
  describe: string;
  alias?: string;
  default?: unknown;
}

export interface HostContext<C> {
  config: C;
  /** Host pid of the container's first process. */
  pid: number;
  /**
   * What the user should be told once the container has ended, one sentence
   * each (the cgroup lesson: "OOM-killed: …"). `cellblock run` prints them on stderr.
   */
  notes: string[];
  /**
   * Runs a lesson's undo steps (in hostCleanup), in the order given, each on
   * its own: a step that throws is recorded with its name — `cellblock run`
   * and the checks report it once — and the steps after it still run. One
   * wrong iptables rule must not leave the veth, the lease and the bridge
   * behind. It never throws; it resolves once every step has had its turn.
   *
   *   await undo({
   *     'delete the veth': () => deleteVeth(name),
   *     'release the address': () => releaseAddress(id),
   *   });
   */
  undo(steps: UndoSteps): Promise<void>;
}

/** A lesson's undo steps, by name (a few words a learner recognises: "delete the veth"). */
export type UndoSteps = Record<string, () => unknown>;

/** An undo step that threw: which lesson, which step, and what it threw. */
export interface UndoFailure {
  lesson: string;
  step: string;
  error: unknown;
}

/**
 * Run `steps` one by one, each awaited and each isolated; the failures are
 * pushed onto `failures` (tagged with `lesson`). What ctx.undo does — also
 * for code that calls a lesson's hostCleanup outside the runtime (tests).
 */
export async function runUndoSteps(lesson: string, steps: UndoSteps, failures: UndoFailure[]): Promise<void> {
  for (const [step, fn] of Object.entries(steps)) {
    try {
      await fn();
    } catch (error) {
      failures.push({ lesson, step, error });
    }
  }
}

/** `<lesson>: undo step "delete the veth" threw: <message>` — how an undo failure is told, everywhere. */
export function describeUndoFailure(f: UndoFailure): string {
  const message = f.error instanceof Error ? f.error.message : String(f.error);
  return `${f.lesson}: undo step "${f.step}" threw: ${message}`;
}

/** How the container's first process is started and how its end is reported (lesson 00). */
export interface ProcessSteps {
  /** Start `file args…` as a child process; called inside the namespace window. */
  spawnChild(file: string, args: string[], options: SpawnOptions): ChildProcess;
  /** Resolve when the child has exited, with the status a shell would report: the code, or 128 + signal. */
  waitForExit(child: ChildProcess): Promise<number>;
}

/** The kernel calls a shim's duties use (native/process.ts): C names, C argument order. */
export interface ShimSys {
  /** setsid(2): a new session and process group, no controlling terminal; EPERM for a group leader. */
  setsid: () => number;
  /** prctl(2) with integer arguments. */
  prctl: (option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number) => number;
  /**
   * waitpid(2): undefined with WNOHANG while `pid` runs; its end, decoded (code or signal), once
   * it has ended — which also reaps it. ECHILD: `pid` is not a child of this process.
   */
  waitpid: (
    pid: number,
    options: number,
  ) => { pid: number; code: number | undefined; signal: number | undefined } | undefined;
}

/** One line of a container's output, as a shim records it (Docker's json-file log driver). */
export type LogStream = 'stdout' | 'stderr';

/** What a shim records about a container's end (core/shim/state.ts keeps more). */
export interface ExitRecord {
  exitCode?: number;
  finishedAt?: string;
  [field: string]: unknown;
}

/** The runtime binary, as a shim calls it: `runtime(['delete', id])` resolves with its exit status. */
export type RuntimeCall = (args: string[]) => Promise<number>;

/**
 * A shim's duties (the shim lesson), in the order a shim meets them. The core
 * does the plumbing around them: it starts the shim, runs the runtime with
 * the shim's pipes as the container's stdio, serves the control socket, and
 * writes what these return.
 */
export interface ShimSteps {
  /** Leave the session (and terminal) of whoever started the shim. */
  detach(sys: ShimSys): void;
  /** Become the process the container's init is re-parented to when the runtime exits. */
  becomeSubreaper(sys: ShimSys): void;
  /** The log file's line (without the newline) for `text` the container wrote on `stream` at `time`. */
  logLine(stream: LogStream, text: string, time: Date): string;
  /** Resolve with the init's status as a shell reports it (code, or 128 + signal) once it has ended. */
  waitForInit(sys: ShimSys, pid: number): Promise<number>;
  /** The state with the container's end recorded in it: its status and when it ended. */
  recordExit<S extends ExitRecord>(state: S, status: number, finishedAt: Date): S;
  /** Give back what the container used (cgroup, veth, lease, overlay): through the runtime. */
  cleanup(runtime: RuntimeCall, id: string): Promise<void>;
}

/**
 * Capabilities a lesson can declare, for core code that builds on them. The
 * core checks for the capability (missingFeature), never for a lesson id, so
 * a manifest can reorder, rename or replace lessons.
 *
 *   image-layers   the lesson stacks `config.layers` (core/images: an image's
 *                  layer directories, top first) under a per-container upper
 *                  directory, and keeps that upper with `keep` — what `run
 *                  IMAGE` and `build` need (the overlay lesson)
 */
export type Feature = 'image-layers';

export interface Lesson<C extends ContainerConfig = ContainerConfig> {
  /** The manifest id (lessons/manifest.json): NN-name. */
  id: string;
  options?: Record<string, LessonOption>;
  validate?: Validation<C>[];
  /** CLONE_NEW* flags this lesson needs for the container's first process. */
  cloneFlags?(config: C): number;
  /**
   * Namespaces the container's init starts *in*, taken from a running
   * process, instead of new ones (`--net container:NAME`, a pod's): the kind as
   * /proc/PID/ns names it, and that process's host pid. The runtime setns(2)s
   * its spawning thread into each for the spawn (core/host/namespaces.ts), and
   * the kind's CLONE_NEW* flag is dropped from the others' cloneFlags. The
   * runtime validates before it spawns when there are any.
   */
  shareNamespaces?(config: C): SharedNamespace[];
  process?: ProcessSteps;
  /**
   * The duties of a container's shim (core/shim/main.ts), the process that
   * stays with a detached container once the OCI runtime has exited — what
   * containerd's shim does for runc. The shim uses the last lesson that provides them.
   */
  shim?: ShimSteps;
  /** What this lesson lets core commands rely on (see Feature). */
  features?: Feature[];
  /**
   * Container-side, after every step: true when the init should stay PID 1
   * and run the command as its child (core/init/supervise.ts: forward signals,
   * reap orphans) instead of becoming the command by execve (the PID lesson's `run --init`).
   */
  superviseCommand?(config: C): boolean;
  /**
   * This lesson's fields as a RUN step of `cellblock build` sets them
   * (core/images/runner.ts), over the step's config: the overlay lesson keeps the
   * step's upper directory (it becomes the new layer), the network lesson uses the host's
   * network as `docker build` does, so no veth is wired for a step.
   */
  buildStep?: Partial<C>;
  /**
   * On the child's pid, before the init receives its config: the init gets
   * `ctx.config` as it is after every host step, so a field set here travels
   * to the container-side steps (the network lesson sends the container's /etc/hosts so).
   */
  hostAfterSpawn?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * Only when the flags hold CLONE_NEWUSER: the runtime starts the init
   * through a single-threaded helper (core/host/userns.ts), which creates the
   * user namespace and waits. This step runs then, with `ctx.pid` the
   * *helper's* pid (already in the new user namespace, nothing else created
   * yet): the moment to write its uid_map and gid_map, and to make anything
   * the container's mount namespace must inherit. hostCleanup undoes it.
   */
  hostUserNamespace?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * Rootless runs (cellblock started by an ordinary user): undefined when this
   * lesson's host steps work without root; otherwise one sentence saying what
   * the container goes without ("no cgroup: …"). The runtime then skips the
   * lesson's host steps (hostAfterSpawn, hostBeforeExec, hostCleanup) and tells
   * the user that sentence. A flag that cannot be honoured without root (a
   * limit) is not skipped: the lesson's validate rejects it.
   */
  withoutRoot?(config: C): string | undefined;
  /**
   * On the child's pid once the container-side steps are done, right before
   * the exec — the last moment before the user's code runs. The init is a Node
   * process until then: anything it allocated or spent before this step is not
   * charged to the container (the cgroup lesson joins the cgroup here).
   */
  hostBeforeExec?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * After the end, always — also after a failed start or a SIGKILL. Give each
   * thing to undo its own step through `ctx.undo({ name: fn, … })`: the
   * runtime runs every step even when one throws, and reports the one that did.
   */
  hostCleanup?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * Container-side, after every host step is done (the host's hostBeforeExec
   * steps ran, and it said "go"), right before the exec: for what must follow
   * something the host does to the process last. The cgroup lesson unshares
   * the cgroup namespace here — its root is the cgroup the process is in when
   * it unshares, and the host moves it in only in hostBeforeExec.
   */
  beforeExec?(config: C, sys: Sys): void | Promise<void>;
  /**
   * Container-side, before *every* lesson's `init`: decide what the root
   * filesystem is made of (the overlay lesson mounts the image's layers and points
   * `config.rootfs` at the result). It is a phase of its own because manifest
   * order cannot express it: lesson 03's `init` pivots into `config.rootfs`, and
   * a later lesson's `init` would run after that pivot. runc does the same:
   * prepareRootfs, then pivotRoot. The init passes the same `config` object to
   * every step, so a change made here is what the `init` steps see.
   */
  prepareRootfs?(config: C, sys: Sys): void | Promise<void>;
  /** Container-side step, run by the init as PID 1 inside the new namespaces. */
  init?(config: C, sys: Sys): void | Promise<void>;
  /**
   * `cellblock exec`: the namespaces of the running container's init (host pid
   * `initPid`) a new process joins, as /proc/PID/ns names, in the order the
   * helper calls setns(2) — the core's C helper (native/nsexec.c join mode)
   * does the joining, since Node cannot enter a user namespace.
   */
  joinNamespaces?(initPid: number): string[];
  /**
   * `cellblock exec`, host side: on the joining process (`ctx.pid`) once it is
   * in the namespaces, before it runs anything of the user's — the moment to
   * put it where the container's processes are (its cgroup).
   */
  hostJoin?(ctx: JoinContext): void | Promise<void>;
  /**
   * `cellblock exec`, container side: in the joining process, right before its
   * execve, with the container's config — what the container's command got
   * that a process joining it must get too (the security lesson: capabilities,
   * no_new_privs, seccomp). Not its mounts: those are the container's already.
   */
  beforeJoinExec?(config: C, sys: Sys): void | Promise<void>;
}

/** A namespace to start in rather than create: `kind` of process `pid` (host pid). */
export interface SharedNamespace {
  kind: string;
  pid: number;
}

/** What hostJoin works on: the container's init and the process joining it (host pids). */
export interface JoinContext {
  initPid: number;
  pid: number;
  /** The container's id. */
  id: string;
}

/** A lesson's module, loaded: its code and the file the init will load it from again. */
export interface LoadedLesson {
  id: string;
  file: string;
  lesson: Lesson;
}

/**
 * Undefined when some loaded lesson declares `feature`; otherwise the problem,
 * saying what `what` needs (the caller throws it as its own kind of error).
 */
export function missingFeature(lessons: LoadedLesson[], feature: Feature, what: string): string | undefined {
  if (lessons.some((l) => l.lesson.features?.includes(feature))) return undefined;
  return `${what} needs a lesson that declares the feature "${feature}", and none of the loaded lessons (${lessons.map((l) => l.id).join(', ') || 'none'}) does: check lessons/manifest.json`;
}

/** The fields every lesson sets for a RUN step of `cellblock build`, merged in lesson order. */
export function buildStepFields(lessons: LoadedLesson[]): Record<string, unknown> {
  return Object.assign({}, ...lessons.map((l) => l.lesson.buildStep ?? {})) as Record<string, unknown>;
}

/** Identity function that gives a lesson file its types (and the learner autocompletion). */
export function defineLesson<C extends ContainerConfig>(lesson: Lesson<C>): Lesson<C> {
  return lesson;
}
