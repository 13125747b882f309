/**
 * Host side of a container run, in the order runc uses:
 *
 *   validate      every check, before any kernel object exists
 *   create        unshare + spawn the init (core/host/namespaces.ts); with a
 *                 user namespace, through the C helper (core/host/userns.ts),
 *                 running the lessons' hostUserNamespace steps (uid_map,
 *                 gid_map) while it waits between that namespace and the others
 *   host steps    on the child's pid while it waits (cgroups, veth, …)
 *   release       send the config over the sync socket (fd 3); the init runs
 *                 the container-side steps
 *   before exec   if a lesson has hostBeforeExec: the init says "ready" and
 *                 waits; the host runs those steps and says "go"
 *   exec          the init becomes the command
 *   wait          the command's exit status, as a shell reports it
 *   cleanup       host steps' cleanup in reverse order, always
 *
 * The sync socket is how the two sides talk, one JSON message per line (see
 * init/protocol.ts): host → init the config, init → host "ready" or an error if
 * a step failed. It is close-on-exec in the init, so when the host reads
 * end-of-file with no message, the exec has happened.
 */
import type { ChildProcess } from 'node:child_process';
import type { Stream } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import type { ContainerConfig } from '../config.js';
import { ConfigError } from '../config.js';
import type { LoadedLesson, ProcessSteps } from '../lesson.js';
import { validateConfig } from '../validate.js';
import { spawnInNewNamespaces, warmThreadPool } from './namespaces.js';
import { helperArgs, NSEXEC, startInUserNamespace } from './userns.js';
import { CLONE_NEWUSER } from '../../native/constants.js';
import { readNamespaces } from '../init/guard.js';
import { removeState, writeState } from './state.js';
import { openContainerConsole } from './console.js';
import { InitError, type InitMessage, type InitReady, type InitReport } from '../init/protocol.js';

/** One of the container's stdin/stdout/stderr, as child_process.spawn takes it. */
export type StdioEntry = 'pipe' | 'ignore' | 'inherit' | number | Stream;

export interface StartOptions {
  lessons: LoadedLesson[];
  /** stdin, stdout, stderr of the container: fds, 'pipe', 'ignore' or 'inherit'. */
  stdio: [StdioEntry, StdioEntry, StdioEntry];
  /**
   * With config.tty: receives the master of a pty opened in the container's
   * own devpts, when the container has one (see console.ts) — the terminal to
   * use from then on instead of the one whose slave went into `stdio`.
   */
  onConsole?: (master: number) => void;
}

const INIT_SCRIPT = fileURLToPath(new URL('../init/main.js', import.meta.url));

/** A container whose command is running (the exec has happened). */
export class RunningContainer {
  private cleanedUp: Promise<number> | undefined;

  constructor(
    readonly config: ContainerConfig,
    readonly child: ChildProcess,
    private readonly exited: Promise<number>,
    private readonly cleanup: () => Promise<void>,
    /** What the lessons' host steps want the user told after the end (HostContext.notes). */
    readonly notes: string[] = [],
    /** The init's host pid, when `child` is not the init itself (the user-namespace helper). */
    private readonly initPid?: number,
  ) {}

  /** Host pid of the container's first process (PID 1 inside, when it has a PID namespace). */
  get pid(): number {
    return this.initPid ?? this.child.pid!;
  }

  get stdin(): Writable | null {
    return this.child.stdin;
  }
  get stdout(): Readable | null {
    return this.child.stdout;
  }
  get stderr(): Readable | null {
    return this.child.stderr;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Set when a host-side cleanup step failed: the status stays the command's, this says what is left. */
  cleanupError: unknown;

  /**
   * The exit status (code, or 128 + signal), once every host-side cleanup has
   * run. A failing cleanup does not replace the command's status: it is kept
   * in `cleanupError` for the caller to report.
   */
  wait(): Promise<number> {
    this.cleanedUp ??= (async () => {
      try {
        return await this.exited;
      } finally {
        await this.cleanup().catch((err: unknown) => {
          this.cleanupError = err;
        });
      }
    })();
    return this.cleanedUp;
  }
}

/** The process steps of the last lesson that provides them (lesson 00). */
function processSteps(lessons: LoadedLesson[]): ProcessSteps {
  const steps = lessons.findLast((l) => l.lesson.process)?.lesson.process;
  if (!steps) throw new Error('no lesson provides the process steps (Lesson.process): check lessons/manifest.json');
  return steps;
}

export async function startContainer(config: ContainerConfig, opts: StartOptions): Promise<RunningContainer> {
  const lessons = opts.lessons;
  const problems = validateConfig(config, lessons);
  if (problems.length > 0) throw new ConfigError(problems);

  const flags = lessons.reduce((acc, l) => acc | (l.lesson.cloneFlags?.(config) ?? 0), 0);
  const steps = processSteps(lessons);
  await warmThreadPool();

  const ctx = { config, pid: 0, notes: [] as string[] };
  const done: LoadedLesson[] = [];
  // Rootless: lessons whose host steps need root say what the container goes
  // without, and their host steps are skipped (Lesson.withoutRoot).
  // Cleanup runs in reverse manifest order, over the lessons whose host steps
  // began — a user-namespace step began before every hostAfterSpawn.
  const undoOrder = (): LoadedLesson[] => lessons.filter((l) => done.includes(l)).reverse();
  const hostLessons = lessons.filter((l) => {
    const without = process.getuid?.() === 0 ? undefined : l.lesson.withoutRoot?.(config);
    if (without !== undefined) ctx.notes.push(without);
    return without === undefined;
  });
  let child: ChildProcess;
  let whenExited: Promise<number> | undefined;
  let initPid: number | undefined;
  // fd 3 in the init is the sync socket. The init gets an empty environment:
  // NODE_OPTIONS and friends from the host must not change how it behaves.
  if (flags & CLONE_NEWUSER) {
    // Node cannot unshare a user namespace (it has threads): the helper does,
    // and the lessons' hostUserNamespace steps run while it waits.
    try {
      ({ child, initPid } = await startInUserNamespace(
        () => {
          child = steps.spawnChild(NSEXEC, helperArgs(flags, process.execPath, [INIT_SCRIPT]), {
            stdio: [...opts.stdio, 'pipe', 'pipe'],
            env: {},
          });
          whenExited = steps.waitForExit(child);
          return child;
        },
        async (helperPid) => {
          for (const l of hostLessons.filter((x) => x.lesson.hostUserNamespace)) {
            done.push(l);
            await l.lesson.hostUserNamespace!({ ...ctx, pid: helperPid });
          }
        },
      ));
    } catch (err) {
      // The helper is dead (startInUserNamespace killed it): undo the window's steps.
      await whenExited?.catch(() => undefined);
      for (const l of undoOrder()) await Promise.resolve(l.lesson.hostCleanup?.(ctx)).catch(() => undefined);
      throw err;
    }
  } else {
    child = spawnInNewNamespaces(flags, () =>
      steps.spawnChild(process.execPath, [INIT_SCRIPT], {
        stdio: [...opts.stdio, 'pipe'],
        env: {},
      }),
    );
    // Ask for the exit now, in this tick, so the exit event cannot be missed.
    whenExited = steps.waitForExit(child);
  }
  const exited = whenExited!;
  const sync = child.stdio[3] as Socket;
  const messages = new MessageReader(sync);
  ctx.pid = initPid ?? child.pid!;
  const cleanup = async (): Promise<void> => {
    const errors: unknown[] = [];
    removeState(config.id);
    for (const l of undoOrder()) {
      try {
        await l.lesson.hostCleanup?.(ctx);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  };
  const abort = async (err: unknown): Promise<never> => {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    await cleanup().catch(() => undefined);
    throw err;
  };

  if (child.pid === undefined) {
    // spawn reports ENOENT/EACCES asynchronously through 'error'.
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw err;
  }

  try {
    writeState({
      id: config.id,
      pid: ctx.pid,
      runtimePid: process.pid,
      rootfs: config.rootfs,
      startedAt: new Date().toISOString(),
    });
    for (const l of hostLessons) {
      if (!done.includes(l)) done.push(l);
      await l.lesson.hostAfterSpawn?.(ctx);
    }
    const beforeExec = hostLessons.filter((l) => l.lesson.hostBeforeExec);
    const message: InitMessage = {
      config,
      lessons: lessons.map((l) => ({ id: l.id, file: l.file })),
      hostNamespaces: readNamespaces(),
      // With a terminal, the init may need a console from the container's devpts (console.ts).
      waitBeforeExec: beforeExec.length > 0 || config.tty,
    };
    sync.write(`${JSON.stringify(message)}\n`);
    if (!message.waitBeforeExec) sync.end();
    let result = await messages.next();
    if (result && 'ready' in result) {
      let go = 'go';
      if (result.console && opts.onConsole) {
        const { master, slave } = openContainerConsole(ctx.pid);
        opts.onConsole(master);
        go = `go ${slave}`;
      }
      for (const l of beforeExec) await l.lesson.hostBeforeExec!(ctx);
      sync.end(`${go}\n`);
      result = await messages.next();
    }
    if (result && 'ready' in result) throw new Error('init protocol: "ready" sent twice');
    if (result) throw InitError.fromReport(result);
  } catch (err) {
    return abort(err);
  }
  return new RunningContainer(config, child, exited, cleanup, ctx.notes, initPid);
}

/** start + wait: the exit status, like `sh -c` or `runc run` report it. */
export async function runContainer(config: ContainerConfig, opts: StartOptions): Promise<number> {
  return (await startContainer(config, opts)).wait();
}

/**
 * The init's messages, one JSON per line. `next()` resolves with the next one,
 * or undefined at end-of-file (after a successful exec, or if the init died:
 * its exit status tells which).
 */
class MessageReader {
  private buffer = '';
  private closed = false;
  private readonly queue: (InitReport | InitReady)[] = [];
  private wake: (() => void) | undefined;

  constructor(sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      this.buffer += c;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake?.();
    });
    sock.on('error', () => undefined); // EPIPE/ECONNRESET if the init died: the exit status tells
    sock.on('close', () => {
      this.push(this.buffer); // a report written without a newline
      this.buffer = '';
      this.closed = true;
      this.wake?.();
    });
  }

  private push(line: string): void {
    const text = line.trim();
    if (!text) return;
    try {
      this.queue.push(JSON.parse(text) as InitReport | InitReady);
    } catch {
      this.queue.push({ error: { kind: 'plain', message: `init said: ${text}` }, exitCode: 125 });
    }
  }

  async next(): Promise<InitReport | InitReady | undefined> {
    while (this.queue.length === 0 && !this.closed) await new Promise<void>((r) => (this.wake = r));
    return this.queue.shift();
  }
}
