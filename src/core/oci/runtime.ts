/**
 * The OCI runtime's operations (runtime.md#operations), over the runtime the
 * lessons build. What runc does, and why each step is where it is:
 *
 *   create   read config.json → translate (spec.ts) → validate with every
 *            lesson → only then the state directory and exec.fifo → start the
 *            container detached (host/run.ts): every lesson's step runs —
 *            the init waits once its root is mounted while the prestart/
 *            createRuntime hooks run here (before its pivot_root) — and the
 *            init, its command found, says "created" and waits on the FIFO
 *            (the lessons' awaitStart) → the pid file → exit. The container
 *            outlives this process: it is re-parented to our caller, which
 *            is a subreaper (containerd's shim, Podman's conmon) and reaps it.
 *   start    the lessons' hostStart opens the FIFO: the init's exec follows.
 *   state    the status comes from the lessons' `status` (from the host: is
 *            the init alive, the same process, still waiting on the FIFO?).
 *   kill     a signal to the init (or, --all, to every process of its cgroup).
 *   delete   the lessons' hostCleanup (cgroup, veth, lease, overlay dir), as
 *            `cellblock run` does after the end — run by whoever deletes,
 *            since the process that created the container is long gone.
 *
 * Bad input is refused before anything exists, as `cellblock run` does.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type ContainerConfig } from '../config.js';
import { missingFeature, type Lesson, type LoadedLesson, type OciStatus, type StartContext } from '../lesson.js';
import { validateConfig } from '../validate.js';
import { cleanupContainer, startContainer, undoFailuresOf, type RunningContainer } from '../host/run.js';
import { readState } from '../host/state.js';
import { readStat } from '../host/proc.js';
import { InitError } from '../init/protocol.js';
import { mknod } from '../../native/fs.js';
import { sendFd } from '../../native/socket.js';
import { translateSpec, OciSpecError, type OciHook } from './spec.js';
import { cgroupTaken, handOver, missingLevels, readCgroupRecord, removeRecorded, writeCgroupRecord } from './cgroup.js';
import {
  cellblockId,
  OCI_ID_PATTERN,
  OCI_VERSION,
  readOciState,
  stateDir,
  writeOciState,
  type OciState,
} from './state.js';

/** An error the CLI reports as runc does: its message, exit status 1. */
export class OciError extends Error {
  override readonly name = 'OciError';
}

export interface Log {
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  lessons: LoadedLesson[];
  log: Log;
}

/** The runtime-spec state (runtime.md#state), as `state` prints it and hooks read it on stdin. */
export interface SpecState {
  ociVersion: string;
  id: string;
  status: OciStatus;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
}

function checkId(id: string): void {
  if (!OCI_ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw new OciError(`invalid id format: ${JSON.stringify(id)}: use letters, digits, _ + - . only`);
  }
}

/** The lesson files a container was created with, loaded again (start, state, kill, delete). */
export async function loadLessonFiles(refs: { id: string; file: string }[]): Promise<LoadedLesson[]> {
  return Promise.all(
    refs.map(async (r) => ({
      ...r,
      lesson: ((await import(pathToFileURL(r.file).href)) as { default: Lesson }).default,
    })),
  );
}

/** The container's state, or the runc error for an unknown id. */
export function mustRead(root: string, id: string): OciState {
  checkId(id);
  const state = readOciState(root, id);
  if (!state) throw new OciError(`container does not exist: ${id}`);
  return state;
}

const ctxOf = (s: OciState): StartContext => ({
  id: s.cellblockId,
  pid: s.pid,
  startTime: s.startTime,
  execFifo: s.execFifo,
});

/** The status, as the lessons judge it (the create-start feature's `status`). */
export function statusOf(state: OciState, lessons: LoadedLesson[]): OciStatus {
  const l = lessons.findLast((x) => x.lesson.status);
  if (!l) throw new OciError(noFeature(lessons));
  return l.lesson.status!(ctxOf(state));
}

function noFeature(lessons: LoadedLesson[]): string {
  return missingFeature(lessons, 'create-start', 'cellblock-oci') ?? 'no lesson provides the create-start steps';
}

export function specState(state: OciState, status: OciStatus): SpecState {
  return {
    ociVersion: OCI_VERSION,
    id: state.id,
    status,
    pid: status === 'stopped' ? 0 : state.pid,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    annotations: state.annotations,
  };
}

/** Read and translate a bundle's config.json: every problem before anything exists. */
function readBundle(bundle: string, id: string): ReturnType<typeof translateSpec> {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OciError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}: is --bundle the bundle directory?`,
    );
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new OciError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return translateSpec(spec, bundle, id);
}

export interface Created {
  state: OciState;
  /** This process's handle on the init (its parent until we exit): `run` waits on it. */
  container: RunningContainer;
}

export async function create(opts: CreateOptions): Promise<Created> {
  const { root, id, log } = opts;
  checkId(id);
  const bundle = resolve(opts.bundle);
  const dir = stateDir(root, id);
  if (existsSync(dir)) throw new OciError(`container with id exists: ${id}`);
  const cbId = cellblockId(id);
  if (readState(cbId)) throw new OciError(`container with id exists: ${id} (cellblock id ${cbId} is running)`);
  const missing = missingFeature(opts.lessons, 'create-start', 'cellblock-oci create');
  if (missing) throw new OciError(missing);
  let t;
  try {
    t = readBundle(bundle, cbId);
  } catch (err) {
    if (err instanceof OciSpecError) throw new OciError(err.message);
    throw err;
  }
  for (const w of t.warnings) log.warn(w);
  const config = t.config;
  if (config.tty && opts.consoleSocket === undefined) {
    throw new OciError('cannot allocate tty if runc will detach without setting console socket');
  }
  if (!config.tty && opts.consoleSocket !== undefined) {
    throw new OciError('cannot use console socket if runc will not detach or allocate tty');
  }
  if (opts.consoleSocket !== undefined) {
    // runc connects before it makes anything: a wrong path must fail here, not
    // after the namespaces, cgroup, veth and overlay exist and must be undone.
    let isSocket = false;
    try {
      isSocket = statSync(opts.consoleSocket).isSocket();
    } catch {
      // missing: said below
    }
    if (!isSocket)
      throw new OciError(`--console-socket ${opts.consoleSocket}: not a unix socket (no such file, or another kind)`);
    if (Buffer.byteLength(opts.consoleSocket) > 107) {
      throw new OciError(`--console-socket ${opts.consoleSocket}: longer than a unix socket path may be (107 bytes)`);
    }
  }
  // createContainer and startContainer run in the container's namespaces: the init runs them (core/init/oci.ts).
  if (t.hooks.createContainer.length > 0 || t.hooks.startContainer.length > 0) {
    config.ociInitHooks = {
      createContainer: t.hooks.createContainer,
      startContainer: t.hooks.startContainer,
      state: { ociVersion: OCI_VERSION, id, bundle, annotations: t.annotations },
    };
  }
  const seccomp = config['ociSeccomp'];
  delete config['ociSeccomp'];
  // Every lesson's validation, before the state directory exists (seccomp's file comes after: it is ours).
  const problems = validateConfig(config, opts.lessons);
  if (problems.length > 0) throw new OciError(new ConfigError(problems).message);

  // linux.cgroupsPath: a cgroup that exists already is someone else's (delete would kill what is in it).
  const cgroupPath = config.cgroupPath;
  if (cgroupPath !== undefined) {
    const taken = cgroupTaken(cgroupPath);
    if (taken !== undefined) {
      throw new OciError(
        `linux.cgroupsPath "${t.cgroupsPath}": ${taken} exists already (another container's?): give each container a cgroup of its own (config-linux.md#cgroups-path)`,
      );
    }
  }

  const runtimeHooks = [...t.hooks.prestart, ...t.hooks.createRuntime];
  const created = new Date().toISOString();
  mkdirSync(root, { recursive: true, mode: 0o711 });
  mkdirSync(dir, { mode: 0o711 });
  const execFifo = join(dir, 'exec.fifo');
  let container: RunningContainer | undefined;
  // Recorded before anything is made: a create killed half way leaves the record its cgroup is found by.
  const cgroupRecord =
    cgroupPath === undefined ? undefined : { path: cgroupPath, made: missingLevels(cgroupPath), cellblockId: cbId };
  if (cgroupRecord) writeCgroupRecord(dir, cgroupRecord);
  try {
    // S_IFIFO | 0622: only root opens it for reading (start); the init writes —
    // as the config's user by then, without capabilities. mknod applies the
    // umask (022 would leave 0600): chmod, as runc sets umask 0 around mkfifo.
    mknod(execFifo, 0o010000 | 0o622, 0n);
    chmodSync(execFifo, 0o622);
    config.execFifo = execFifo;
    if (seccomp !== undefined) {
      const file = join(dir, 'seccomp.json');
      writeFileSync(file, JSON.stringify(seccomp));
      config['security-opt'] = [...list(config['security-opt']), `seccomp=${file}`];
    }
    try {
      container = await startContainer(config, {
        lessons: opts.lessons,
        stdio: config.tty ? ['ignore', 'ignore', 'ignore'] : [0, 1, 2],
        detach: true,
        // prestart (deprecated) and createRuntime: in the runtime's namespaces, once the
        // container's exist and its root is mounted, before pivot_root — the init waits.
        ...(runtimeHooks.length > 0
          ? {
              beforePivot: (pid: number) => {
                const state = {
                  ociVersion: OCI_VERSION,
                  id,
                  status: 'creating' as const,
                  pid,
                  bundle,
                  rootfs: config.rootfs,
                  created,
                  annotations: t.annotations,
                };
                for (const h of runtimeHooks) runHook(h, state, 'createRuntime');
              },
            }
          : {}),
        onConsole: (master) => {
          // The pty master goes to whoever listens on --console-socket (SCM_RIGHTS), as runc sends it.
          try {
            sendFd(opts.consoleSocket!, master, 'console');
          } finally {
            closeSync(master); // the receiver has its own copy now
          }
        },
      });
    } catch (err) {
      const undone = undoFailuresOf(err);
      for (const f of undone.failures) log.warn(`undo step "${f.step}" of ${f.lesson} threw: ${String(f.error)}`);
      throw err;
    }
    const pid = container.pid;
    if (t.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(t.oomScoreAdj));
    const state: OciState = {
      ociVersion: OCI_VERSION,
      id,
      cellblockId: cbId,
      bundle,
      rootfs: config.rootfs,
      pid,
      startTime: readStat(pid)?.start ?? 0,
      created,
      annotations: t.annotations,
      lessons: opts.lessons.map((l) => ({ id: l.id, file: l.file })),
      config,
      hooks: t.hooks,
      ...(t.cgroupsPath !== undefined ? { cgroupsPath: t.cgroupsPath } : {}),
      execFifo,
    };
    writeOciState(root, state);
    if (opts.pidFile !== undefined) {
      const file = resolve(opts.pidFile);
      writeFileSync(`${file}.tmp`, String(pid));
      rmSync(file, { force: true });
      writeFileSync(file, String(pid));
      rmSync(`${file}.tmp`, { force: true });
    }
    return { state, container };
  } catch (err) {
    // Nothing stays of a failed create: the init, what the lessons made, the directory.
    if (container) {
      container.kill('SIGKILL');
      await container.wait().catch(() => undefined);
    }
    if (cgroupRecord) handOver(root, id, await removeRecorded(cgroupRecord));
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof ConfigError) throw new OciError(err.message);
    // runc's words for a command that cannot run: Podman maps them to 127 and 126.
    if (err instanceof InitError && err.exitCode === 127) {
      throw new OciError(`exec: "${config.argv[0]}": executable file not found in $PATH (${err.message})`);
    }
    if (err instanceof InitError && err.exitCode === 126) {
      throw new OciError(`exec: "${config.argv[0]}": permission denied (${err.message})`);
    }
    throw err;
  }
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Run one hook with the state on its stdin (config.md#posix-platform-hooks); throws when it fails. */
export function runHook(h: OciHook, state: SpecState, kind: string): void {
  const [argv0, ...rest] = h.args ?? [h.path];
  const r = spawnSync(h.path, rest, {
    argv0: argv0 ?? h.path,
    // No env: the runtime's own, as runc (Go's exec.Cmd with a nil Env) gives it.
    env:
      h.env === undefined
        ? process.env
        : Object.fromEntries(h.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    input: JSON.stringify(state),
    stdio: ['pipe', 'inherit', 'inherit'],
    ...(h.timeout !== undefined ? { timeout: h.timeout * 1000 } : {}),
  });
  if (r.error) throw new OciError(`${kind} hook ${h.path}: ${r.error.message}`);
  if (r.status !== 0) throw new OciError(`${kind} hook ${h.path} failed: exit status ${r.status ?? r.signal}`);
}

export async function start(root: string, id: string, log: Log): Promise<void> {
  const state = mustRead(root, id);
  const lessons = await loadLessonFiles(state.lessons);
  const status = statusOf(state, lessons);
  if (status !== 'created')
    throw new OciError(`cannot start a container that has ${status === 'stopped' ? 'stopped' : 'already started'}`);
  const l = lessons.findLast((x) => x.lesson.hostStart);
  if (!l) throw new OciError(noFeature(lessons));
  await l.lesson.hostStart!(ctxOf(state));
  for (const h of state.hooks.poststart) {
    try {
      runHook(h, specState(state, 'running'), 'poststart');
    } catch (err) {
      log.warn((err as Error).message); // the spec: a failed poststart hook is a warning
    }
  }
}

/** runc's signal names: with or without SIG, or a number. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new OciError(`unknown signal ${JSON.stringify(text)}`);
  return n;
}

export async function kill(root: string, id: string, signal: number, all: boolean): Promise<void> {
  const state = mustRead(root, id);
  const lessons = await loadLessonFiles(state.lessons);
  const status = statusOf(state, lessons);
  if (status === 'stopped') throw new OciError('container not running');
  const pids = all ? await cgroupProcs(state, state.pid) : [state.pid];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

async function cgroupProcs(state: OciState, pid: number): Promise<number[]> {
  try {
    const { cgroupName, openCgroup } = await import('../cgroups/index.js');
    const procs = openCgroup(cgroupName({ ...state.config, id: state.cellblockId })).procs();
    return procs.length > 0 ? procs : [pid];
  } catch {
    return [pid];
  }
}

/** Resolve once `pid` (started at `start`) is gone or a zombie, or after `ms`. */
async function ended(pid: number, startTime: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = readStat(pid);
    if (!s || s.start !== startTime || s.state === 'Z' || s.state === 'X') return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function remove(root: string, id: string, force: boolean, log: Log): Promise<void> {
  checkId(id);
  const state = readOciState(root, id);
  if (!state) {
    // A create killed half way (or a state dir someone removed) may have left a
    // container without state.json: --force ends it through the core's state.
    if (force) await removeOrphan(id, log);
    // runc: --force on an unknown id is not an error; a directory without a state is removed.
    if (existsSync(stateDir(root, id))) rmSync(stateDir(root, id), { recursive: true, force: true });
    else if (!force) throw new OciError(`container does not exist: ${id}`);
    return;
  }
  // The lessons judge the state and undo their steps — unless their files are
  // gone or broken (a learner's edit, a moved checkout): then --force still
  // removes the container, judged from /proc and undone by the inventories.
  let lessons: LoadedLesson[] | undefined;
  let status: OciStatus | undefined;
  try {
    lessons = await loadLessonFiles(state.lessons);
    status = statusOf(state, lessons);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (!force) {
      throw new OciError(
        `cannot tell the state of container ${id}: ${why} (delete --force removes it without the lessons)`,
      );
    }
    log.warn(`${id}: the lessons cannot be loaded or judge it (${why}): removing what the inventories attribute to it`);
  }
  if (status === 'running' && !force) {
    throw new OciError(`cannot delete container ${id} that is not stopped: running`);
  }
  // --force ends the init whatever a lesson says, judged from /proc (its start time guards against pid reuse).
  if (status !== 'stopped' || (force && initAlive(state))) {
    try {
      process.kill(state.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    if (!(await ended(state.pid, state.startTime, 10_000))) {
      throw new OciError(`container ${id} (pid ${state.pid}) did not die of SIGKILL within 10 s`);
    }
  }
  if (lessons) return destroy(root, state, lessons, log);
  const { removeContainerItems } = await import('../inventories.js');
  const { failed } = await removeContainerItems(state.cellblockId);
  for (const f of failed) log.warn(`could not remove ${f.item}: ${String(f.error)}`);
  await finish(root, state, log);
}

/**
 * The core's state of cellblockId(id) when no state.json names it: unless
 * the process that created it still runs (a create under way), kill its init
 * (start time checked) and remove what the inventories attribute to it.
 */
async function removeOrphan(id: string, log: Log): Promise<void> {
  const core = readState(cellblockId(id));
  if (!core) return;
  const alive = (pid: number, start: number | undefined): boolean => {
    const s = pid > 0 ? readStat(pid) : undefined;
    return !!s && (start === undefined || s.start === start) && s.state !== 'Z' && s.state !== 'X';
  };
  // Once the init said "created" it is its own runtime (core state): only another creator counts.
  if (core.runtimePid !== core.pid && alive(core.runtimePid, core.runtimeStartTime)) {
    throw new OciError(`container ${id} is being created (pid ${core.runtimePid}): try again when it is done`);
  }
  if (core.initStartTime !== undefined && alive(core.pid, core.initStartTime)) {
    process.kill(core.pid, 'SIGKILL');
    await ended(core.pid, core.initStartTime, 10_000);
  }
  const { removeContainerItems } = await import('../inventories.js');
  const { removed, failed } = await removeContainerItems(cellblockId(id));
  for (const r of removed) log.debug(`removed ${r}`);
  for (const f of failed) log.warn(`could not remove ${f.item}: ${String(f.error)}`);
}

/** Is the container's init still the process state.json names, and not a zombie? */
function initAlive(state: OciState): boolean {
  const s = state.pid > 0 ? readStat(state.pid) : undefined;
  return s !== undefined && s !== null && s.start === state.startTime && s.state !== 'Z' && s.state !== 'X';
}

/** After the end: the lessons' host cleanup, poststop hooks, then the state directory (the last trace). */
export async function destroy(root: string, state: OciState, lessons: LoadedLesson[], log: Log): Promise<void> {
  const outcome = await cleanupContainer(state.config as ContainerConfig, state.pid, lessons);
  for (const f of outcome.failures) log.warn(`${f.lesson}: undo step "${f.step}" threw: ${String(f.error)}`);
  for (const n of outcome.notes) log.warn(n);
  await finish(root, state, log);
}

/**
 * `run` in the foreground: the container's wait() has already run the
 * lessons' host cleanup (this process is the init's parent, as with
 * `cellblock run`) — what is left is what only the OCI runtime does.
 */
export async function afterWait(root: string, state: OciState, container: RunningContainer, log: Log): Promise<void> {
  for (const f of container.undoFailures) log.warn(`${f.lesson}: undo step "${f.step}" threw: ${String(f.error)}`);
  await finish(root, state, log);
}

/** The poststop hooks, then the state directory (the last trace). */
async function finish(root: string, state: OciState, log: Log): Promise<void> {
  for (const h of state.hooks.poststop) {
    try {
      runHook(h, specState(state, 'stopped'), 'poststop');
    } catch (err) {
      log.warn((err as Error).message);
    }
  }
  // linux.cgroupsPath: the levels above the container's cgroup that create made, once nothing is below them.
  const record = readCgroupRecord(stateDir(root, state.id));
  if (record) handOver(root, state.id, await removeRecorded(record));
  rmSync(stateDir(root, state.id), { recursive: true, force: true });
}

export interface ExecOptions {
  root: string;
  id: string;
  /** A runtime-spec `process` object (exec --process FILE, as containerd and Podman pass it). */
  process: unknown;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  log: Log;
}

/**
 * `exec`: a new process in a created or running container, through the
 * core's exec (the lessons' joinNamespaces, hostJoin, beforeJoinExec — what
 * `cellblock exec` does). With --detach this process exits as soon as it
 * runs; the pid file names the helper that is its parent and ends with its
 * status (native/nsexec.c join mode), which the caller's subreaper reaps.
 */
export async function execProcess(o: ExecOptions): Promise<number> {
  const state = mustRead(o.root, o.id);
  const lessons = await loadLessonFiles(state.lessons);
  const status = statusOf(state, lessons);
  if (status === 'stopped') throw new OciError(`cannot exec in a stopped container`);
  const p = o.process;
  if (typeof p !== 'object' || p === null) throw new OciError('exec: the process must be a JSON object');
  const proc = p as Record<string, unknown>;
  const args = proc['args'];
  if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string')) {
    throw new OciError('exec: process.args must be a non-empty array of strings (runtime-spec config.md#process)');
  }
  const env = (proc['env'] ?? []) as string[];
  const user = (proc['user'] ?? {}) as { uid?: number; gid?: number; additionalGids?: number[] };
  if ((user.additionalGids ?? []).length > 0) o.log.warn('exec: process.user.additionalGids are not applied');
  for (const k of ['capabilities', 'rlimits', 'apparmorProfile', 'selinuxLabel', 'noNewPrivileges']) {
    if (proc[k] !== undefined) o.log.debug(`exec: process.${k}: the container's own restrictions apply`);
  }
  const tty = proc['terminal'] === true;
  if (tty && o.consoleSocket === undefined) {
    throw new OciError('cannot allocate tty if runc will detach without setting console socket');
  }
  const { execInContainer } = await import('../host/exec.js');
  let ran;
  try {
    ran = await execInContainer({
      target: state.cellblockId,
      argv: args as string[],
      env,
      ...(typeof proc['cwd'] === 'string' ? { cwd: proc['cwd'] } : {}),
      // root:root is what the joining process is already (and the core's uid switch aborts Node for it).
      ...((user.uid ?? 0) !== 0 || (user.gid ?? 0) !== 0
        ? { user: `${user.uid ?? 0}:${user.gid ?? user.uid ?? 0}` }
        : {}),
      tty,
      stdio: tty ? ['ignore', 'ignore', 'ignore'] : [0, 1, 2],
      lessons,
      detached: o.detach,
      onConsole: (master) => {
        try {
          sendFd(o.consoleSocket!, master, 'console');
        } finally {
          closeSync(master);
        }
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new OciError(err.message);
    if (err instanceof InitError && err.exitCode === 127) {
      throw new OciError(`exec: "${String(args[0])}": executable file not found in $PATH (${err.message})`);
    }
    throw err;
  }
  if (o.pidFile !== undefined) writeFileSync(resolve(o.pidFile), String(ran.child.pid));
  if (o.detach) return 0;
  return ran.wait();
}
