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
 *                                            beforeExec(config, sys)  in lesson order
 *                                            … execve(argv)
 *   hostCleanup(ctx)         after exit, in reverse order, always
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
}

/** How the container's first process is started and how its end is reported (lesson 00). */
export interface ProcessSteps {
  /** Start `file args…` as a child process; called inside the namespace window. */
  spawnChild(file: string, args: string[], options: SpawnOptions): ChildProcess;
  /** Resolve when the child has exited, with the status a shell would report: the code, or 128 + signal. */
  waitForExit(child: ChildProcess): Promise<number>;
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
  process?: ProcessSteps;
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
   * On the child's pid once the container-side steps are done, right before
   * the exec — the last moment before the user's code runs. The init is a Node
   * process until then: anything it allocated or spent before this step is not
   * charged to the container (the cgroup lesson joins the cgroup here).
   */
  hostBeforeExec?(ctx: HostContext<C>): void | Promise<void>;
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
