/**
 * Detached containers, driven through their shims: what the `cellblock`
 * commands (run -d, ps, logs, wait, stop, kill, rm, attach) and cellblockd
 * call — the part of containerd that talks to a shim. Each function works on
 * the record in SHIMS_DIR/<id>/ and the shim's control socket; when the shim
 * is gone, on the record alone (and the runtime, to reclaim the container).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../paths.js';
import { ConfigError, type ContainerConfig } from '../config.js';
import type { LoadedLesson, LogStream } from '../lesson.js';
import { validateConfig } from '../validate.js';
import { configFacts, ociSpec, writeBundle } from '../bundle/spec.js';
import { runningState } from '../pods/pods.js';
import {
  effectiveStatus,
  listShimStates,
  logPath,
  readShimState,
  resolveShim,
  shimAlive,
  shimDir,
  socketPath,
  writeShimState,
  type ShimState,
} from './state.js';

export type { ShimState, ShimStatus } from './state.js';

const SHIM_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

/**
 * The OCI runtime binary: $CELLBLOCK_OCI_RUNTIME (runc works too: the bundle
 * is plain runtime-spec), else this checkout's cellblock-oci — the same
 * checkout as the lessons it runs — else cellblock-oci on the PATH.
 */
export function defaultRuntime(): string {
  const own = join(ROOT, 'src', 'bin', 'cellblock-oci.mjs');
  return process.env['CELLBLOCK_OCI_RUNTIME'] || (existsSync(own) ? own : 'cellblock-oci');
}

/** A container that is not there (Docker: 404 "No such container"). */
export class NoSuchContainer extends Error {
  override readonly name = 'NoSuchContainer';
  readonly exitCode = 1;
  constructor(readonly ref: string) {
    super(`No such container: ${ref}`);
  }
}

/** An operation the container's state does not allow (Docker: 409 Conflict). */
export class ContainerStateError extends Error {
  override readonly name = 'ContainerStateError';
  readonly exitCode = 1;
}

/** The runtime or the shim failed (Docker: 500; the CLI exits 125). */
export class ShimError extends Error {
  override readonly name = 'ShimError';
  readonly exitCode = 125;
}

export interface CreateOptions {
  /** What `cellblock run` builds: id, rootfs, argv, env, cwd, tty and the lessons' fields. */
  config: ContainerConfig;
  /** The lessons: the config is validated with them, and the shim takes its duties from the last with `shim`. */
  lessons: LoadedLesson[];
  image?: string;
  /** Keep a pipe to the container's stdin (docker -i): attach writes to it. */
  openStdin?: boolean;
  /** --rm: the shim removes the record once the container has ended. */
  autoRemove?: boolean;
  runtime?: string;
  /** The runtime's --root (default: $CELLBLOCK_OCI_ROOT, else the runtime's own default). */
  runtimeRoot?: string;
  /** The runtime runs the reference lessons (CELLBLOCK_OCI_SOLUTIONS=1). */
  runtimeSolutions?: boolean;
}

export interface ExitInfo {
  /** The status as a shell reports it; undefined when the shim could not learn it (the record says why). */
  exitCode: number | undefined;
  finishedAt: string | undefined;
}

/**
 * Validate, write the bundle and the record, start the shim, which runs
 * `runtime create`: the container exists, its command not yet started.
 * Bad input is refused before anything exists (ConfigError).
 */
export async function create(o: CreateOptions): Promise<ShimState> {
  const { config } = o;
  const shimLesson = o.lessons.findLast((l) => l.lesson.shim);
  if (!shimLesson) {
    throw new ShimError(
      `a detached container needs a lesson that provides the shim's duties (Lesson.shim), and none of ${o.lessons.map((l) => l.id).join(', ')} does`,
    );
  }
  const problems = validateConfig(config, o.lessons);
  if (existsSync(shimDir(config.id)))
    problems.push(`container id ${config.id} is already in use: \`cellblock rm ${config.id}\` first`);
  const facts = configFacts(config);
  const name = facts.name;
  if (name !== undefined && resolveShim(name) !== undefined && readShimState(resolveShim(name)!)?.name === name) {
    problems.push(
      `the container name ${JSON.stringify(name)} is already in use: \`cellblock rm ${name}\` first, or choose another --name`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const spec = ociSpec(config, (n) => {
    const s = runningState(n);
    if (!s) throw new ConfigError([`no running container has the id or name ${JSON.stringify(n)}`]);
    return s.pid;
  });
  const dir = shimDir(config.id);
  writeBundle(dir, spec);
  const image = o.image ?? facts.image;
  const state: ShimState = {
    id: config.id,
    ...(name !== undefined ? { name } : {}),
    ...(image !== undefined ? { image } : {}),
    argv: config.argv,
    created: new Date().toISOString(),
    status: 'created',
    tty: config.tty,
    openStdin: o.openStdin === true,
    autoRemove: o.autoRemove === true,
    runtime: o.runtime ?? defaultRuntime(),
    ...((o.runtimeRoot ?? process.env['CELLBLOCK_OCI_ROOT'])
      ? { runtimeRoot: o.runtimeRoot ?? process.env['CELLBLOCK_OCI_ROOT'] }
      : {}),
    runtimeSolutions: o.runtimeSolutions === true,
    lessons: [{ id: shimLesson.id, file: shimLesson.file }],
    ...(facts.ports ? { ports: facts.ports } : {}),
  };
  writeShimState(state);
  let answer: { created?: number; error?: string };
  try {
    answer = await launch(config.id);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  if (answer.error !== undefined || answer.created === undefined) {
    // The shim has already given back whatever the runtime made: the record goes too.
    await shimGone(readShimState(config.id), 5000);
    rmSync(dir, { recursive: true, force: true });
    throw new ShimError(answer.error ?? 'the shim ended without a word (see its record)');
  }
  return inspect(config.id)!;
}

/**
 * `sh -c '"$@" &'`: the shell starts the shim in the background and exits at
 * once, so the shim's parent is gone before it runs anything and it is
 * re-parented away from us — no cellblock process is its parent, and killing
 * this one does not touch it. fd 3 brings its first word back.
 */
function launch(id: string): Promise<{ created?: number; error?: string }> {
  const errors = openSync(`${shimDir(id)}/shim.log`, 'a');
  const child = spawn('/bin/sh', ['-c', '"$@" &', 'sh', process.execPath, SHIM_SCRIPT, id], {
    stdio: ['ignore', 'ignore', errors, 'pipe'],
  });
  closeSync(errors);
  const pipe = child.stdio[3] as Socket;
  return new Promise((resolve, reject) => {
    let text = '';
    child.once('error', reject);
    pipe.on('data', (d: Buffer) => (text += d.toString('utf8')));
    pipe.once('close', () => {
      try {
        resolve(JSON.parse(text.split('\n')[0] ?? '') as { created?: number; error?: string });
      } catch {
        const log = readFileSync(`${shimDir(id)}/shim.log`, 'utf8').trim();
        resolve({
          error: `the shim ended before the container was created${log ? `: ${log.split('\n').at(-1)}` : ''}`,
        });
      }
    });
  });
}

/** The id of an id, a name, or a unique id prefix; NoSuchContainer otherwise. */
export function resolve(ref: string): string {
  const id = resolveShim(ref);
  if (id === undefined) throw new NoSuchContainer(ref);
  return id;
}

/** The record, with its status as it is now ('dead': the shim has gone before the end). */
export function inspect(ref: string): ShimState | undefined {
  const id = resolveShim(ref);
  const s = id === undefined ? undefined : readShimState(id);
  return s && { ...s, status: effectiveStatus(s) };
}

/** Every record (running and created ones only, unless `all`), oldest first. */
export function list(o: { all?: boolean } = {}): ShimState[] {
  return listShimStates()
    .filter((s) => o.all || s.status === 'running')
    .sort((a, b) => a.created.localeCompare(b.created));
}

/** One request on the shim's socket; the reply's first line. `timeoutMs`: undefined after it. */
function request(
  id: string,
  body: Record<string, unknown>,
  timeoutMs?: number,
): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath(id));
    let text = '';
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            socket.destroy();
            resolve(undefined);
          }, timeoutMs);
    socket.once('connect', () => socket.write(`${JSON.stringify(body)}\n`));
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new ShimError(`the shim of ${id} does not answer (${(err as NodeJS.ErrnoException).code ?? err.message})`),
      );
    });
    socket.once('close', () => {
      clearTimeout(timer);
      const line = text.split('\n')[0] ?? '';
      if (!line) return reject(new ShimError(`the shim of ${id} closed the connection without an answer`));
      const reply = JSON.parse(line) as Record<string, unknown>;
      if (typeof reply['error'] === 'string') return reject(new ContainerStateError(reply['error']));
      resolve(reply);
    });
  });
}

function live(ref: string): ShimState {
  const s = inspect(ref);
  if (!s) throw new NoSuchContainer(ref);
  if (s.status === 'dead') {
    throw new ContainerStateError(
      `container ${s.id} is dead: its shim is gone, nobody watches it (\`cellblock rm -f ${s.id}\` reclaims it)`,
    );
  }
  return s;
}

/** `runtime start`: the container's command runs. */
export async function start(ref: string): Promise<ShimState> {
  const s = live(ref);
  await request(s.id, { op: 'start' });
  return inspect(s.id)!;
}

/** The end (once the shim has recorded it and cleaned up); undefined when `timeoutMs` passed first. */
export async function wait(ref: string, o: { timeoutMs?: number } = {}): Promise<ExitInfo | undefined> {
  const s = inspect(ref);
  if (!s) throw new NoSuchContainer(ref);
  if (s.status === 'exited') return { exitCode: s.exitCode, finishedAt: s.finishedAt };
  live(s.id);
  try {
    const reply = await request(s.id, { op: 'wait' }, o.timeoutMs);
    if (reply === undefined) return undefined;
    // The shim's own answer: with --rm the record may be gone by the time we would read it.
    if (typeof reply['exitCode'] === 'number') {
      return { exitCode: reply['exitCode'], finishedAt: reply['finishedAt'] as string | undefined };
    }
  } catch (err) {
    // The shim ended between the look and the request: the record has the end, or it died.
    if (!(err instanceof ShimError)) throw err;
  }
  const after = live(s.id);
  if (after.status !== 'exited') throw new ShimError(`the shim of ${s.id} ended without recording the exit`);
  return { exitCode: after.exitCode, finishedAt: after.finishedAt };
}

/** A signal to the container's init, through the shim and `runtime kill`. */
export async function kill(ref: string, signal: NodeJS.Signals | number | string = 'SIGKILL'): Promise<void> {
  const s = live(ref);
  if (s.status === 'exited') throw new ContainerStateError(`container ${s.id} is not running`);
  const name = typeof signal === 'number' ? String(signal) : String(signal).toUpperCase().replace(/^SIG/, '');
  await request(s.id, { op: 'kill', signal: name });
}

/**
 * SIGTERM, then SIGKILL once the grace period has passed — `docker stop`. A
 * PID 1 without a handler for SIGTERM ignores it (the kernel does not apply
 * the default action to a namespace's init), so a plain `sh` waits the whole
 * period; `--init` forwards it and the command ends at once.
 */
export async function stop(ref: string, o: { timeoutSec?: number } = {}): Promise<ExitInfo> {
  const s = live(ref);
  if (s.status === 'exited') return { exitCode: s.exitCode, finishedAt: s.finishedAt };
  if (s.status === 'running') {
    await kill(s.id, 'TERM').catch(ignoreEnded);
    const ended = await wait(s.id, { timeoutMs: (o.timeoutSec ?? 10) * 1000 });
    if (ended) return ended;
  }
  await kill(s.id, 'KILL').catch(ignoreEnded);
  return (await wait(s.id))!;
}

/** The container's terminal size (run -d -t): TIOCSWINSZ on its pty master, in the shim. */
export async function resize(ref: string, cols: number, rows: number): Promise<void> {
  const s = live(ref);
  await request(s.id, { op: 'resize', cols, rows });
}

/** A kill that found the container already ended is no failure for stop/rm. */
function ignoreEnded(err: unknown): void {
  if (!(err instanceof ContainerStateError) && !(err instanceof ShimError)) throw err;
}

/**
 * Remove the record — with `force`, after killing a running container. A
 * dead one (its shim gone) is reclaimed first: `runtime delete --force`
 * gives back what it used.
 */
export async function remove(ref: string, o: { force?: boolean } = {}): Promise<void> {
  const s = inspect(ref);
  if (!s) throw new NoSuchContainer(ref);
  if (s.status === 'running' || s.status === 'created') {
    if (!o.force) {
      throw new ContainerStateError(
        `You cannot remove a ${s.status} container ${s.id}. Stop the container before attempting removal or force remove (rm -f)`,
      );
    }
    await kill(s.id, 'KILL').catch(ignoreEnded);
    // A created container has not started its command: killing its init ends it too.
    await wait(s.id, { timeoutMs: 20_000 }).catch(ignoreEnded);
  }
  const now = inspect(s.id);
  if (now?.status === 'dead') await reclaim(now);
  await shimGone(readShimState(s.id), 5000);
  rmSync(shimDir(s.id), { recursive: true, force: true });
}

/** A dead container (shim gone): its init killed and its runtime state deleted, through the runtime. */
export async function reclaim(s: ShimState): Promise<void> {
  const args = [...(s.runtimeRoot !== undefined ? ['--root', s.runtimeRoot] : []), 'delete', '--force', s.id];
  const env = { ...process.env, ...(s.runtimeSolutions ? { CELLBLOCK_OCI_SOLUTIONS: '1' } : {}) };
  await new Promise<void>((resolve) => {
    const child = spawn(s.runtime, args, { stdio: 'ignore', env });
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
  if (s.pid !== undefined) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone with the runtime's delete
    }
  }
}

async function shimGone(s: ShimState | undefined, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (s && shimAlive(s) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

export interface LogEntry {
  stream: LogStream;
  log: string;
  time: string;
}

/**
 * The json-file log's entries: the last `tail` ones (all by default), then,
 * with `follow`, each new one as the shim writes it, until the container has
 * ended and everything is read.
 */
export async function* logs(ref: string, o: { follow?: boolean; tail?: number } = {}): AsyncGenerator<LogEntry> {
  const id = resolve(ref);
  const file = logPath(id);
  let offset = 0;
  let rest = '';
  const read = (): LogEntry[] => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return [];
    }
    if (size <= offset) return [];
    const fd = openSync(file, 'r');
    const buf = Buffer.alloc(size - offset);
    try {
      readSync(fd, buf, 0, buf.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const text = rest + buf.toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    return lines.flatMap((l) => {
      try {
        const e = JSON.parse(l) as Partial<LogEntry>;
        return typeof e.log === 'string'
          ? [{ stream: e.stream === 'stderr' ? 'stderr' : 'stdout', log: e.log, time: String(e.time ?? '') }]
          : [];
      } catch {
        return [];
      }
    });
  };
  const first = read();
  yield* o.tail !== undefined && o.tail >= 0 ? first.slice(Math.max(0, first.length - o.tail)) : first;
  if (!o.follow) return;
  for (;;) {
    const s = inspect(id);
    const done = !s || s.status === 'exited' || s.status === 'dead';
    yield* read();
    if (done) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A connection to the container's stdio: reads are the output in Docker's
 * stream format (protocol.ts: an 8-byte header per chunk; raw with a
 * terminal), writes go to its stdin when it was created with openStdin, and
 * ending the writes closes its stdin. It ends once the output has.
 */
export async function attach(ref: string, o: { stdin?: boolean } = {}): Promise<{ socket: Socket; tty: boolean }> {
  const s = live(ref);
  if (s.status === 'exited')
    throw new ContainerStateError(`You cannot attach to a stopped container: ${s.id} has exited`);
  const socket = connect(socketPath(s.id));
  return new Promise((resolve, reject) => {
    let text = Buffer.alloc(0);
    socket.once('error', (err) => reject(new ShimError(`the shim of ${s.id} does not answer: ${err.message}`)));
    socket.once('connect', () => socket.write(`${JSON.stringify({ op: 'attach', stdin: o.stdin === true })}\n`));
    const onData = (d: Buffer): void => {
      text = Buffer.concat([text, d]);
      const nl = text.indexOf(10);
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      const reply = JSON.parse(text.subarray(0, nl).toString('utf8')) as {
        ok?: boolean;
        tty?: boolean;
        error?: string;
      };
      if (reply.error) return reject(new ContainerStateError(reply.error));
      const rest = text.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, tty: reply.tty === true });
    };
    socket.on('data', onData);
  });
}
