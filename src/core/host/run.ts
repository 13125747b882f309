/**
 * Host side of a container run, in the order runc uses:
 *
 *   validate      every check, before any kernel object exists
 *   create        unshare + spawn the init (core/host/namespaces.ts spawnInit)
 *                 — with `prespawn` (cellblock run) these two swap: the init
 *                 starts first and waits for its config while the host
 *                 validates; bad input kills it before it has done anything.
 *                 With a user namespace, through the C helper
 *                 (core/host/userns.ts), running the lessons' hostUserNamespace
 *                 steps (uid_map, gid_map) while it waits between that
 *                 namespace and the others — always after validation
 *   host steps    on the child's pid while it waits (cgroups, veth, …)
 *   release       send the config over the sync socket (fd 3); the init runs
 *                 the container-side steps
 *   before exec   if a lesson has hostBeforeExec: the init says "ready" and
 *                 waits; the host runs those steps and says "go"
 *   exec          the init becomes the command
 *   wait          the command's exit status, as a shell reports it
 *   cleanup       host steps' cleanup in reverse order, always; every undo
 *                 step on its own (HostContext.undo), and when one threw,
 *                 what the inventories still attribute to the container
 *
 * The sync socket is how the two sides talk, one JSON message per line (see
 * init/protocol.ts): host → init the config, init → host "ready" or an error if
 * a step failed. It is close-on-exec in the init, so when the host reads
 * end-of-file with no message, the exec has happened.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import type { ContainerConfig } from '../config.js';
import { ConfigError, ID_PATTERN } from '../config.js';
import {
  describeUndoFailure,
  runUndoSteps,
  type HostContext,
  type LoadedLesson,
  type ProcessSteps,
  type SharedNamespace,
  type UndoFailure,
} from '../lesson.js';
import { validateConfig } from '../validate.js';
import { spawnInit, warmThreadPool, type StdioEntry } from './namespaces.js';
import { helperArgs, NSEXEC, startInUserNamespace } from './userns.js';
import { CLONE_NEWUSER } from '../../native/constants.js';
import { readNamespaces } from '../init/guard.js';
import { setRuntimeOwner } from './proc.js';
import { processStartTime, removeState, writeState } from './state.js';
import { reserveId, type IdReservation } from './reserve.js';
import { openContainerConsole } from './console.js';
import { InitError, type InitMessage, type InitToHost } from '../init/protocol.js';
import { trace } from '../trace.js';

export type { StdioEntry } from './namespaces.js';

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
  /**
   * Spawn the init first and validate while it starts (`cellblock run`): its
   * Node start-up overlaps the validation and the host steps. On a validation
   * error the init — which has done nothing but wait for its config — is
   * killed and reaped before the error is thrown: its namespaces were held by
   * it alone, so nothing is left, and the status is the same 125. Without it
   * (the harness's trials) nothing is spawned for bad input at all, which is
   * what the lessons' "rejected before anything is created" checks count.
   */
  prespawn?: boolean;
  /**
   * cellblock-oci create: the init does every step, says "created" and waits
   * in the lessons' awaitStart (core/oci); startContainer resolves then, and
   * this process may exit while the container lives on. Its cleanup is
   * `cleanupContainer`, called by whoever deletes it.
   */
  detach?: boolean;
  /**
   * Host steps once the container's root is mounted, before its init steps
   * (pivot_root): the init waits for them (InitMessage.waitBeforePivot). What
   * an OCI config's createRuntime hooks need — in the runtime's namespaces,
   * after the container's exist. `pid`: the init's, as the host sees it.
   */
  beforePivot?: (pid: number) => Promise<void> | void;
}

const INIT_SCRIPT = fileURLToPath(new URL('../init/main.js', import.meta.url));

/** A container whose command is running (the exec has happened). */
export class RunningContainer {
  private cleanedUp: Promise<number> | undefined;

  constructor(
    readonly config: ContainerConfig,
    readonly child: ChildProcess,
    private readonly exited: Promise<number>,
    private readonly cleanup: () => Promise<CleanupOutcome>,
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
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    killContainer(this.child, this.initPid, signal);
  }

  /** Set when a host-side cleanup step failed: the status stays the command's, this says what is left. */
  cleanupError: unknown;

  /** Every undo step that threw, once each, with its lesson and name (filled by the cleanup). */
  readonly undoFailures: UndoFailure[] = [];

  /** What the runtime removed after an undo step threw (inventory lines: "veth cbv1a2b…"). */
  readonly leftoversRemoved: string[] = [];

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
        trace('exited');
        const outcome = await this.cleanup();
        this.undoFailures.push(...outcome.failures);
        this.leftoversRemoved.push(...outcome.removed);
        if (outcome.failures.length > 0) this.cleanupError = undoError(outcome.failures);
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
  trace('startContainer');
  // The id first, before validation reads the state files and before anything
  // exists (reserve.ts: two runs of one id at once). An invalid id is left to validation.
  const reservation = ID_PATTERN.test(config.id) ? await reserveId(config.id) : undefined;
  try {
    const running = await startReserved(config, opts, reservation);
    // Detached, this process exits now: the container's state file (its init alive) guards the id from here.
    if (opts.detach) reservation?.release();
    return running;
  } catch (err) {
    reservation?.release(); // after the failed start's cleanup: nothing of it is left
    throw err;
  }
}

async function startReserved(
  config: ContainerConfig,
  opts: StartOptions,
  reservation: IdReservation | undefined,
): Promise<RunningContainer> {
  const lessons = opts.lessons;
  // With prespawn, validation comes after the spawn (see StartOptions.prespawn).
  const validate = (): void => {
    const problems = validateConfig(config, lessons);
    if (problems.length > 0) throw new ConfigError(problems);
  };
  if (!opts.prespawn) validate();

  let flags: number;
  try {
    flags = lessons.reduce((acc, l) => acc | (l.lesson.cloneFlags?.(config) ?? 0), 0);
  } catch (err) {
    // A cloneFlags that trips over a value validation would have named: name it.
    validate();
    throw err;
  }
  const steps = processSteps(lessons);
  // Namespaces taken from running containers: looked up by validation, so it comes first.
  // Without prespawn: the init starts in them, so they must be right before it starts.
  let shared: SharedNamespace[];
  try {
    shared = lessons.flatMap((l) => l.lesson.shareNamespaces?.(config) ?? []);
    // An OCI config's namespaces given by path (core/oci): joined the same way.
    const byPath = (config['namespacePaths'] ?? []) as { kind: string; path: string }[];
    shared.push(...byPath.map((n) => ({ kind: n.kind, pid: 0, path: n.path })));
  } catch (err) {
    validate(); // names the bad value, when a validation does
    throw err;
  }
  if (shared.length > 0 && flags & CLONE_NEWUSER) {
    // The helper makes the user namespace first and every other one inside it;
    // a namespace taken from another container belongs to *that* container's
    // user namespace, and would silently be a fresh one here (a rootless run
    // always has CLONE_NEWUSER). Refused before anything exists.
    validate();
    throw new ConfigError([
      `${shared.map((n) => n.kind).join(', ')} from another container cannot be joined from a new user namespace (--userns, or a run without root): run it as root without --userns`,
    ]);
  }
  // The init starts in these instead of new ones: the container-side steps can tell (joinedNamespace).
  if (shared.length > 0) config.joined = [...new Set(shared.map((s) => s.kind))];
  if (shared.length > 0 && opts.prespawn) {
    validate();
    opts = { ...opts, prespawn: false };
  }
  await warmThreadPool();
  trace('spawning the init');

  const failures: UndoFailure[] = [];
  const notes: string[] = [];
  // The pid the lessons' host steps work on: the init's (known once it is spawned).
  let pid = 0;
  // Each lesson's own context: its undo steps are reported under its id.
  const ctxFor = (l: LoadedLesson, on: number = pid): HostContext<ContainerConfig> => ({
    config,
    pid: on,
    notes,
    undo: (steps) => runUndoSteps(l.id, steps, failures),
  });
  const done: LoadedLesson[] = [];
  // Rootless: lessons whose host steps need root say what the container goes
  // without, and their host steps are skipped (Lesson.withoutRoot).
  const hostLessons = lessons.filter((l) => {
    const without = process.getuid?.() === 0 ? undefined : l.lesson.withoutRoot?.(config);
    if (without !== undefined) notes.push(without);
    return without === undefined;
  });
  // Cleanup runs in reverse manifest order, over the lessons whose host steps
  // began — a user-namespace step began before every hostAfterSpawn.
  const undoOrder = (): LoadedLesson[] => lessons.filter((l) => done.includes(l)).reverse();
  // Every step on its own: the runtime's (the state file) and each lesson's,
  // which isolate their own steps through ctx.undo; a lesson's hostCleanup
  // that throws outside them is one failed step too.
  const cleanup = async (): Promise<CleanupOutcome> => {
    await runUndoSteps('runtime', { 'remove the state file': () => removeState(config.id) }, failures);
    for (const l of undoOrder()) {
      await runUndoSteps(l.id, { hostCleanup: () => l.lesson.hostCleanup?.(ctxFor(l)) }, failures);
      trace(`hostCleanup ${l.id}`);
    }
    // A step that threw left its object behind: remove what the inventories
    // still attribute to this container, as `cellblock cleanup` would.
    const removed = failures.length > 0 ? await removeLeftovers(config.id, failures) : [];
    // Everything of it is gone (or reported): the id is free again.
    reservation?.release();
    return { failures: [...failures], removed };
  };
  // The start's error is what the caller reports; the undo failures ride on it.
  const withOutcome = (err: unknown, outcome: CleanupOutcome): unknown => {
    if (outcome.failures.length > 0 && typeof err === 'object' && err !== null) {
      Object.defineProperty(err, UNDO_FAILURES, { value: outcome, enumerable: false });
    }
    return err;
  };
  const abort = async (err: unknown): Promise<never> => {
    killContainer(child, initPid, 'SIGKILL');
    await exited.catch(() => undefined);
    throw withOutcome(err, await cleanup());
  };

  let validated = !opts.prespawn;
  let child!: ChildProcess;
  let exited!: Promise<number>;
  let initPid: number | undefined;
  const preload = lessons.map((l) => l.file);
  if (flags & CLONE_NEWUSER) {
    // The user namespace's host steps (uid_map, gid_map, idmapped layers)
    // create things: validate before the helper starts, prespawn or not.
    if (!validated) validate();
    validated = true;
    // Node cannot unshare a user namespace (it has threads): the helper does,
    // and the lessons' hostUserNamespace steps run while it waits.
    let whenExited: Promise<number> | undefined;
    try {
      ({ child, initPid } = await startInUserNamespace(
        () => {
          child = steps.spawnChild(NSEXEC, helperArgs(flags, process.execPath, [INIT_SCRIPT, ...preload]), {
            stdio: [...opts.stdio, 'pipe', 'pipe'],
            env: {},
          });
          // Ask for the exit in the same tick as the spawn, so it cannot be missed.
          whenExited = steps.waitForExit(child);
          return child;
        },
        async (helperPid) => {
          for (const l of hostLessons.filter((x) => x.lesson.hostUserNamespace)) {
            done.push(l);
            await l.lesson.hostUserNamespace!(ctxFor(l, helperPid));
          }
        },
      ));
    } catch (err) {
      // The helper is dead (startInUserNamespace killed it): undo the window's steps.
      await whenExited?.catch(() => undefined);
      throw withOutcome(err, await cleanup());
    }
    exited = whenExited!;
  } else {
    try {
      child = spawnInit(flags, steps, { stdio: opts.stdio, script: INIT_SCRIPT, preload, shared });
    } catch (err) {
      // The file spawned is the init (node), not what the user asked for: name that.
      if (err instanceof Error) err.message = `cannot start \`${config.argv.join(' ')}\`: ${err.message}`;
      throw err;
    }
    // Ask for the exit now, in this tick, so the exit event cannot be missed.
    exited = steps.waitForExit(child);
  }
  pid = initPid ?? child.pid ?? 0;
  trace(`init spawned (pid ${pid})`);
  const sync = child.stdio[3] as Socket;
  const messages = new MessageReader(sync);

  if (child.pid === undefined) {
    // spawn reports ENOENT/EACCES asynchronously through 'error'.
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    exited.catch(() => undefined); // it rejects with the same error: reported here, once
    throw err;
  }
  // Detached, the container outlives this process: its init holds what it uses.
  if (opts.detach) setRuntimeOwner(pid);
  if (!validated) {
    try {
      validate();
    } catch (err) {
      // The init has done nothing yet but wait on fd 3 (and load code): its
      // namespaces are held by it alone and end with it. Nothing is left.
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
      trace('rejected; the waiting init is gone');
      throw err;
    }
    trace('validated');
  }

  try {
    // Validated now: a lesson may place the container's cgroup in another (a pod's).
    const cgroupParent = lessons.map((l) => l.lesson.cgroupParent?.(config)).find((p) => p !== undefined);
    if (cgroupParent !== undefined) {
      if (!ID_PATTERN.test(cgroupParent))
        throw new Error(`cgroupParent ${JSON.stringify(cgroupParent)} is not id-like`);
      config.cgroupParent = cgroupParent;
    }
    const state = {
      id: config.id,
      pid,
      // Detached, the init holds the container once it is created (below); until then this
      // process does: a create killed half way leaves a container whose runtime is gone,
      // which `cellblock cleanup` removes like any other.
      runtimePid: process.pid,
      rootfs: config.rootfs,
      startedAt: new Date().toISOString(),
      lessons: lessons.map((l) => ({ id: l.id, file: l.file })),
      initStartTime: processStartTime(pid),
      runtimeStartTime: processStartTime(process.pid),
      ...(config.cgroupPath !== undefined ? { cgroupPath: config.cgroupPath } : {}),
    };
    writeState(state);
    for (const l of hostLessons) {
      if (!done.includes(l)) done.push(l);
      await l.lesson.hostAfterSpawn?.(ctxFor(l));
      trace(`hostAfterSpawn ${l.id}`);
    }
    const beforeExec = hostLessons.filter((l) => l.lesson.hostBeforeExec);
    const message: InitMessage = {
      config,
      lessons: lessons.map((l) => ({ id: l.id, file: l.file })),
      hostNamespaces: readNamespaces(),
      // With a terminal, the init may need a console from the container's devpts (console.ts).
      waitBeforeExec: beforeExec.length > 0 || config.tty || opts.detach === true,
      ...(opts.detach ? { detach: true } : {}),
      ...(opts.beforePivot ? { waitBeforePivot: true } : {}),
    };
    sync.write(`${JSON.stringify(message)}\n`);
    if (!message.waitBeforeExec && !message.waitBeforePivot) sync.end();
    trace('config sent');
    let result = await messages.next();
    if (result && 'rootfs' in result) {
      if (!opts.beforePivot) throw new Error('init protocol: "rootfs" without waitBeforePivot');
      await opts.beforePivot(pid);
      if (message.waitBeforeExec) sync.write('go\n');
      else sync.end('go\n');
      result = await messages.next();
    }
    trace('init ready');
    if (result && 'ready' in result) {
      let go = 'go';
      if (result.console && opts.onConsole) {
        const { master, slave } = openContainerConsole(pid);
        opts.onConsole(master);
        go = `go ${slave}`;
      }
      for (const l of beforeExec) await l.lesson.hostBeforeExec!(ctxFor(l));
      sync.end(`${go}\n`);
      result = await messages.next();
    }
    trace('init exec');
    if (result && 'ready' in result) throw new Error('init protocol: "ready" sent twice');
    if (opts.detach) {
      if (result && 'created' in result) {
        // Created: every step done, pivot_root too — the init waits on
        // exec.fifo in the container's own root, so it may be joined; it is
        // its own runtime from now on (this process exits).
        writeState({ ...state, config, runtimePid: pid, runtimeStartTime: state.initStartTime, running: true });
        return new RunningContainer(config, child, exited, cleanup, notes, initPid);
      }
      if (!result) {
        // It died without a word (a lesson's step killed it, or its PDEATHSIG): say how it ended.
        const status = await exited.catch(() => 125);
        throw new Error(`the container's init ended (status ${status}) before it was created`);
      }
    }
    if (result && 'created' in result) throw new Error('init protocol: "created" without detach');
    if (result && 'rootfs' in result) throw new Error('init protocol: "rootfs" sent twice');
    if (result) throw InitError.fromReport(result);
    // The command runs on the container's root now: the config as the host
    // steps left it is what `cellblock exec` gives a joining process, and a
    // container may be joined from here on — not before (its mount namespace
    // was a copy of the host's until pivot_root).
    writeState({ ...state, config, running: true });
  } catch (err) {
    return abort(err);
  }
  return new RunningContainer(config, child, exited, cleanup, notes, initPid);
}

/**
 * SIGKILL to a container. Behind the user-namespace helper it goes to the init
 * itself: the helper forwards other signals, but SIGKILL cannot be caught to be
 * forwarded, and the init would die only later, of its PDEATHSIG — after the
 * runtime had seen the helper exit and begun to clean up around a container
 * still dying. Killed directly, the init ends first; the helper, blocked in
 * waitpid (so the pid cannot be reused), exits once the PID namespace is empty.
 */
function killContainer(child: ChildProcess, initPid: number | undefined, signal: NodeJS.Signals): void {
  if (signal === 'SIGKILL' && initPid !== undefined) {
    try {
      process.kill(initPid, 'SIGKILL');
    } catch {
      // already gone
    }
    return;
  }
  child.kill(signal);
}

const UNDO_FAILURES = Symbol('cellblock.undoFailures');

/** The undo steps that threw while a failed start was cleaned up (and what the runtime then removed). */
export function undoFailuresOf(err: unknown): CleanupOutcome {
  const outcome = (err as { [UNDO_FAILURES]?: CleanupOutcome } | null)?.[UNDO_FAILURES];
  return outcome ?? { failures: [], removed: [] };
}

export interface CleanupOutcome {
  failures: UndoFailure[];
  removed: string[];
}

/** One error for callers that want one: each failed step on a line of its own. */
function undoError(failures: UndoFailure[]): Error {
  return new Error(failures.map(describeUndoFailure).join('\n'));
}

/**
 * The backstop after a failed undo step: the container's own items in every
 * inventory (and what every container shares, once none other runs), removed
 * stage by stage. Loaded only on this path. Its own failures are undo
 * failures too, so nothing goes unreported.
 */
async function removeLeftovers(id: string, failures: UndoFailure[]): Promise<string[]> {
  try {
    const { removeContainerItems } = await import('../inventories.js');
    const { removed, failed } = await removeContainerItems(id);
    for (const f of failed) failures.push({ lesson: 'runtime', step: `remove ${f.item}`, error: f.error });
    return removed;
  } catch (error) {
    failures.push({ lesson: 'runtime', step: 'remove what the failed steps left', error });
    return [];
  }
}

/**
 * The host-side cleanup of a container this process did not start (a
 * detached one: cellblock-oci delete) — the same steps startContainer's own
 * cleanup runs: the state file, every lesson's hostCleanup in reverse order,
 * each on its own, and what the inventories still attribute to it when one
 * threw. `pid` is the init's (gone by now).
 */
export async function cleanupContainer(
  config: ContainerConfig,
  pid: number,
  lessons: LoadedLesson[],
): Promise<CleanupOutcome & { notes: string[] }> {
  const failures: UndoFailure[] = [];
  const notes: string[] = [];
  await runUndoSteps('runtime', { 'remove the state file': () => removeState(config.id) }, failures);
  const root = process.getuid?.() === 0;
  for (const l of [...lessons].reverse()) {
    if (!root && l.lesson.withoutRoot?.(config) !== undefined) continue;
    const ctx: HostContext<ContainerConfig> = {
      config,
      pid,
      notes,
      undo: (steps) => runUndoSteps(l.id, steps, failures),
    };
    await runUndoSteps(l.id, { hostCleanup: () => l.lesson.hostCleanup?.(ctx) }, failures);
    trace(`hostCleanup ${l.id}`);
  }
  const removed = failures.length > 0 ? await removeLeftovers(config.id, failures) : [];
  return { failures, removed, notes };
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
  private readonly queue: InitToHost[] = [];
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
      this.queue.push(JSON.parse(text) as InitToHost);
    } catch {
      this.queue.push({ error: { kind: 'plain', message: `init said: ${text}` }, exitCode: 125 });
    }
  }

  async next(): Promise<InitToHost | undefined> {
    while (this.queue.length === 0 && !this.closed) await new Promise<void>((r) => (this.wake = r));
    return this.queue.shift();
  }
}
