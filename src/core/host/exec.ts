/**
 * `cellblock exec`: a new process inside a running container — what `docker
 * exec` and `runc exec` do.
 *
 *   find        the container by id or name (its state file), alive or refused
 *   join        the C helper (native/nsexec.c, join mode) opens the init's
 *               /proc/PID/ns/* and setns(2)s into each, in the order a lesson
 *               gives (Lesson.joinNamespaces): Node cannot enter a user
 *               namespace (it has threads), and after setns(CLONE_NEWPID) only
 *               a *child* is in the PID namespace — the helper forks and
 *               stays the parent. It then starts `node init/join.js`, which
 *               joins the mount namespace from its own thread (fd 5: Node had
 *               to load itself from the host's files first)
 *   host steps  on that process's pid: the lessons' hostJoin (the cgroup)
 *   release     the exec config over fd 3, as for a container's init; the
 *               process runs the lessons' beforeJoinExec steps (security),
 *               takes --user, and execs the command
 *   wait        the command's status comes back as the helper's
 *
 * Nothing is created, so nothing is cleaned up: the process dies with the
 * container (its PID namespace's init) or with this runtime (PDEATHSIG).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, DEFAULT_ENV, type ContainerConfig } from '../config.js';
import type { Lesson, LoadedLesson } from '../lesson.js';
import { readNamespaces } from '../init/guard.js';
import { InitError, type InitReport } from '../init/protocol.js';
import type { ContainerState } from './state.js';
import { findState } from '../pods/pods.js';
import { NSEXEC, startInUserNamespace } from './userns.js';
import type { StdioEntry } from './namespaces.js';
import { openContainerConsole } from './console.js';
import { existsSync } from 'node:fs';

const JOIN_SCRIPT = fileURLToPath(new URL('../init/join.js', import.meta.url));

export interface ExecOptions {
  /** The container's id, or its --name. */
  target: string;
  argv: string[];
  /** KEY=VALUE added to the container's environment (-e). */
  env?: string[];
  /** Working directory inside (default: the container's). */
  cwd?: string;
  /** UID[:GID] inside the container (default: the container's, root). */
  user?: string;
  tty?: boolean;
  stdio: [StdioEntry, StdioEntry, StdioEntry];
  /** The lessons to join with (default: the ones the container runs with). */
  lessons?: LoadedLesson[];
  /**
   * With tty: receives the master of a pty opened in the container's own
   * devpts (host/console.ts), when it has one — the host's pty slave has no
   * path inside, so `tty` would say "not a tty".
   */
  onConsole?: (master: number) => void;
  /**
   * cellblock-oci exec --detach: the runtime exits once the process runs; its
   * helper (the process's parent, which ends with its status) must outlive it.
   */
  detached?: boolean;
}

/** What the joining process gets besides the config: who it runs as. */
export interface JoinMessage {
  config: ContainerConfig;
  lessons: { id: string; file: string }[];
  hostNamespaces: ReturnType<typeof readNamespaces>;
  user?: { uid: number; gid: number };
  /** With a terminal: the slave of a pty in the container's devpts, to become stdio. */
  console?: string;
}

/** A process exec'd into a container: its host pid and its status. */
export interface ExecProcess {
  child: ChildProcess;
  /** Host pid of the process that becomes the command. */
  pid: number;
  /** The container it joined. */
  container: ContainerState;
  /** The command's exit status (code, or 128 + signal). */
  wait(): Promise<number>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** UID[:GID], numbers only (the container's /etc/passwd is not read). */
export function parseUser(text: string): { uid: number; gid: number } | undefined {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text);
  if (!m) return undefined;
  const uid = Number(m[1]);
  const gid = m[2] === undefined ? uid : Number(m[2]);
  return uid < 2 ** 32 - 1 && gid < 2 ** 32 - 1 ? { uid, gid } : undefined;
}

/** The running container `target` names, or a ConfigError that says why there is none. */
export function runningContainer(target: string): ContainerState {
  const state = findState(target);
  if (!state) {
    throw new ConfigError([
      `no running container has the id or name ${JSON.stringify(target)}: a container ends with its command — start one with \`cellblock run --name ${target} … -- sleep 1000\``,
    ]);
  }
  if (!alive(state.pid) || !alive(state.runtimePid)) {
    throw new ConfigError([`container ${JSON.stringify(target)} (${state.id}) has stopped: there is nothing to join`]);
  }
  return state;
}

async function loadLessons(files: { id: string; file: string }[]): Promise<LoadedLesson[]> {
  return Promise.all(
    files.map(async ({ id, file }) => ({
      id,
      file,
      lesson: ((await import(pathToFileURL(file).href)) as { default: Lesson }).default,
    })),
  );
}

/** Environment: the container's, then -e entries (a later key replaces an earlier one). */
function mergeEnv(entries: string[]): string[] {
  const byKey = new Map<string, string>();
  for (const e of entries) {
    const key = e.split('=', 1)[0]!;
    byKey.delete(key);
    byKey.set(key, e);
  }
  return [...byKey.values()];
}

export async function execInContainer(opts: ExecOptions): Promise<ExecProcess> {
  // Every check first: nothing is started for bad input.
  const problems: string[] = [];
  if (opts.argv.length === 0) problems.push('no command: give one after --, e.g. `cellblock exec web -- hostname`');
  const user = opts.user === undefined ? undefined : parseUser(opts.user);
  if (opts.user !== undefined && !user) {
    problems.push(`--user ${JSON.stringify(opts.user)} is not UID[:GID] (numbers, e.g. 1000:1000)`);
  }
  for (const e of opts.env ?? []) if (!/^[^=]+=/.test(e)) problems.push(`-e ${JSON.stringify(e)} is not KEY=VALUE`);
  if (problems.length > 0) throw new ConfigError(problems);
  const state = runningContainer(opts.target);
  const files = state.lessons ?? [];
  const lessons = opts.lessons ?? (await loadLessons(files));
  const joiner = lessons.find((l) => l.lesson.joinNamespaces);
  if (!joiner) {
    throw new ConfigError([
      `none of the lessons ${JSON.stringify(state.id)} runs with (${lessons.map((l) => l.id).join(', ') || 'none'}) says which namespaces to join (Lesson.joinNamespaces)`,
    ]);
  }
  const kinds = joiner.lesson.joinNamespaces!(state.pid);
  for (const k of kinds) {
    if (!/^(user|mnt|pid|net|ipc|uts|cgroup|time)$/.test(k)) {
      throw new ConfigError([`joinNamespaces gave ${JSON.stringify(k)}: not a name in /proc/PID/ns`]);
    }
  }
  // Without the mount namespace, the command would run on the host's own
  // filesystem, as root: never.
  if (!kinds.includes('mnt')) {
    throw new ConfigError([
      `joinNamespaces (${joiner.id}) gave [${kinds.join(', ')}], without mnt: the command would run on the host's filesystem — refused`,
    ]);
  }
  const base: ContainerConfig = state.config ?? {
    id: state.id,
    rootfs: state.rootfs,
    argv: [],
    env: DEFAULT_ENV,
    cwd: '/',
    tty: false,
  };
  const config: ContainerConfig = {
    ...base,
    argv: opts.argv,
    env: mergeEnv([...base.env, ...(opts.tty ? [`TERM=${process.env['TERM'] ?? 'xterm'}`] : []), ...(opts.env ?? [])]),
    cwd: opts.cwd ?? base.cwd,
    tty: opts.tty ?? false,
  };

  let exited!: Promise<number>;
  const { child, initPid: pid } = await startInUserNamespace(
    () => {
      const c = spawn(
        NSEXEC,
        [
          opts.detached ? 'join-detached' : 'join',
          String(state.pid),
          kinds.join(','),
          process.execPath,
          JOIN_SCRIPT,
          ...lessons.map((l) => l.file),
        ],
        { stdio: [...opts.stdio, 'pipe', 'pipe'], env: {} },
      );
      exited = new Promise((resolve) =>
        c.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0))),
      );
      return c;
    },
    () => undefined, // join mode has no user-namespace window
  );
  const sync = child.stdio[3] as Socket;
  const report = collect(sync);
  try {
    for (const l of lessons) await l.lesson.hostJoin?.({ initPid: state.pid, pid, id: state.id });
    let console: string | undefined;
    if (config.tty && opts.onConsole && existsSync(`/proc/${state.pid}/root/dev/pts/ptmx`)) {
      const { master, slave } = openContainerConsole(state.pid);
      opts.onConsole(master);
      console = slave;
    }
    const message: JoinMessage = {
      ...(console ? { console } : {}),
      config,
      lessons: lessons.map((l) => ({ id: l.id, file: l.file })),
      hostNamespaces: readNamespaces(),
      ...(user ? { user } : {}),
    };
    sync.end(`${JSON.stringify(message)}\n`);
    const text = (await report).trim();
    if (text) throw InitError.fromReport(JSON.parse(text) as InitReport);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return { child, pid, container: state, wait: () => exited };
}

/** Everything the joining process writes on fd 3 before it closes (at its exec: nothing). */
function collect(sock: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => (text += c));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(text));
  });
}
