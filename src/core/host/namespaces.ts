/**
 * Host side: start a process in new namespaces, from a multithreaded Node.
 *
 * The kernel fact everything here rests on: namespaces belong to threads, and a
 * child forks from the thread that calls spawn. So, on the JS thread:
 *
 *   1. open /proc/thread-self/ns/<type> for every type we will replace
 *      (those fds are our way back);
 *   2. unshare(flags)  — this thread is now in new UTS/IPC/NET/mount
 *      namespaces, and its *next child* will be PID 1 of a new PID namespace;
 *   3. spawn the init — it starts inside all of them;
 *   4. setns() back into every saved namespace, and chdir back (setns into a
 *      mount namespace resets the thread's cwd to that namespace's root).
 *
 * The window between 2 and 4 lasts a few milliseconds. Inside it no thread may
 * be born: with a PID namespace pending, pthread_create fails (EINVAL) and a
 * libuv pool starting then would abort Node; a pool thread born inside a new
 * mount namespace would stay there for good. warmThreadPool() makes sure the
 * pool exists before the first window.
 */
import type { ChildProcess } from 'node:child_process';
import type { Stream } from 'node:stream';
import { openSync, closeSync, promises as fsp } from 'node:fs';
import { CLONE_NEWNS, NAMESPACES } from '../../native/constants.js';
import { setns, unshare } from '../../native/sched.js';
import type { ProcessSteps, SharedNamespace } from '../lesson.js';

let poolWarm: Promise<void> | undefined;

/** Start libuv's thread pool now (it starts all its threads on first use). */
export function warmThreadPool(): Promise<void> {
  poolWarm ??= fsp.access('/').then(() => undefined);
  return poolWarm;
}

/**
 * Run `spawn` with the calling thread in new namespaces of the kinds in
 * `flags`, and put the thread back where it was, whatever happens.
 */
export function spawnInNewNamespaces<T>(flags: number, spawn: () => T, shared: SharedNamespace[] = []): T {
  // A shared kind is joined (setns), never also created: its flag goes.
  const joins = shared.map((s) => {
    const ns = NAMESPACES.find((n) => n.file === s.kind);
    if (!ns) throw new Error(`cannot share a namespace of kind ${JSON.stringify(s.kind)}`);
    return ns;
  });
  const joined = joins.reduce((acc, ns) => acc | ns.flag, 0);
  flags &= ~joined;
  if (flags === 0 && joined === 0) return spawn();
  const all = flags | joined;
  const cwd = process.cwd();
  const fds: number[] = [];
  const saved = NAMESPACES.filter((ns) => all & ns.flag).map((ns) => ({
    ...ns,
    // For PID, the thread's *active* namespace is the one to return to: it is
    // also where pid_for_children pointed before unshare.
    fd: openSync(`/proc/thread-self/ns/${ns.file}`, 'r'),
  }));
  try {
    // Opened before any move: /proc/<pid> is read as the host sees it.
    for (const s of shared) fds.push(openSync(s.path ?? `/proc/${s.pid}/ns/${s.kind}`, 'r'));
    try {
      // Joined first, then the new ones made: setns(CLONE_NEWPID), like
      // unshare(CLONE_NEWPID), moves only the next child.
      joins.forEach((ns, i) => setns(fds[i]!, ns.flag));
      if (flags !== 0) unshare(flags);
      return spawn();
    } finally {
      restore(saved, all, cwd);
    }
  } finally {
    for (const ns of saved) closeSync(ns.fd);
    for (const fd of fds) closeSync(fd);
  }
}

function restore(saved: { flag: number; file: string; fd: number }[], flags: number, cwd: string): void {
  try {
    for (const ns of saved) setns(ns.fd, ns.flag);
    if (flags & CLONE_NEWNS) process.chdir(cwd);
  } catch (err) {
    // The runtime's own thread is stuck in the container's namespaces: anything
    // it did next (mounts, hostname) would happen in the wrong place. Stop now.
    process.stderr.write(`cellblock: fatal: could not return to the host namespaces: ${String(err)}\n`);
    process.exit(125);
  }
}

/** One of the container's stdin/stdout/stderr, as child_process.spawn takes it. */
export type StdioEntry = 'pipe' | 'ignore' | 'inherit' | number | Stream;

export interface InitSpawn {
  /** The container's stdin, stdout, stderr; fd 3 (the sync socket) is added here. */
  stdio: [StdioEntry, StdioEntry, StdioEntry];
  /** The init's script (core/init/main.js). */
  script: string;
  /**
   * Modules the init imports while it waits for its config (the lesson files):
   * passed as arguments, so it loads them during the host's own steps.
   */
  preload: string[];
  /** Namespaces of running processes to start in (Lesson.shareNamespaces). */
  shared?: SharedNamespace[];
}

/**
 * The one place the container's init is started: `node <script> <preload…>`
 * in new namespaces of the kinds in `flags`, fd 3 a socket to the host. The
 * init loads what it may need, then waits on fd 3 for one line — its config
 * (init/protocol.ts) — and does nothing to the container before it comes;
 * killed before that, it leaves nothing. Another way to start it (through a
 * helper that makes a user namespace first) plugs in here.
 *
 * The init gets an empty environment: NODE_OPTIONS and friends from the host
 * must not change how it behaves (CELLBLOCK_TRACE passes, for the timeline).
 */
export function spawnInit(flags: number, steps: ProcessSteps, init: InitSpawn): ChildProcess {
  return spawnInNewNamespaces(
    flags,
    () =>
      steps.spawnChild(process.execPath, [init.script, ...init.preload], {
        stdio: [...init.stdio, 'pipe'],
        env: process.env['CELLBLOCK_TRACE'] === '1' ? { CELLBLOCK_TRACE: '1' } : {},
      }),
    init.shared,
  );
}
