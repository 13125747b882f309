/**
 * What a lesson contributes to the runtime. Each lesson file exports one
 * `Lesson`; the core composes them in manifest order and never needs to know
 * what they do.
 *
 *   host side (this process)                 container side (PID 1, core/init)
 *   ────────────────────────                 ─────────────────────────────────
 *   validate(config)         for every lesson
 *   cloneFlags(config)       OR-ed together → unshare(flags) → spawn init
 *   hostAfterSpawn(ctx)      on the child's pid, before it is released
 *                                            prepareRootfs(config, sys)  in lesson order
 *                                            init(config, sys)  in lesson order
 *   hostBeforeExec(ctx)      while the init waits, its steps done
 *                                            … execve(argv)
 *   hostCleanup(ctx)         after exit, in reverse order, always
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
   * each (05-cgroups: "OOM-killed: …"). `cellblock run` prints them on stderr.
   */
  notes: string[];
}

/** How the container's first process is started and how its end is reported (lesson 00). */
export interface ProcessSteps {
  /** Start `file args…` as a child process; called inside the namespace window. */
  spawnChild(file: string, args: string[], options: SpawnOptions): ChildProcess;
  /** Resolve when the child has exited, with the status a shell would report: the code, or 128 + signal. */
  waitForExit(child: ChildProcess): Promise<number>;
}

export interface Lesson<C extends ContainerConfig = ContainerConfig> {
  /** The manifest id, e.g. '01-uts'. */
  id: string;
  options?: Record<string, LessonOption>;
  validate?: Validation<C>[];
  /** CLONE_NEW* flags this lesson needs for the container's first process. */
  cloneFlags?(config: C): number;
  process?: ProcessSteps;
  /**
   * On the child's pid, before the init receives its config: the init gets
   * `ctx.config` as it is after every host step, so a field set here travels
   * to the container-side steps (04-net sends the container's /etc/hosts so).
   */
  hostAfterSpawn?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * On the child's pid once the container-side steps are done, right before
   * the exec — the last moment before the user's code runs. The init is a Node
   * process until then: anything it allocated or spent before this step is not
   * charged to the container (05-cgroups joins the cgroup here).
   */
  hostBeforeExec?(ctx: HostContext<C>): void | Promise<void>;
  hostCleanup?(ctx: HostContext<C>): void | Promise<void>;
  /**
   * Container-side, before *every* lesson's `init`: decide what the root
   * filesystem is made of (06-overlay mounts the image's layers and points
   * `config.rootfs` at the result). It is a phase of its own because manifest
   * order cannot express it: lesson 03's `init` pivots into `config.rootfs`, and
   * a later lesson's `init` would run after that pivot. runc does the same:
   * prepareRootfs, then pivotRoot. The init passes the same `config` object to
   * every step, so a change made here is what the `init` steps see.
   */
  prepareRootfs?(config: C, sys: Sys): void | Promise<void>;
  /** Container-side step, run by the init as PID 1 inside the new namespaces. */
  init?(config: C, sys: Sys): void | Promise<void>;
}

/** Identity function that gives a lesson file its types (and the learner autocompletion). */
export function defineLesson<C extends ContainerConfig>(lesson: Lesson<C>): Lesson<C> {
  return lesson;
}
