/**
 * The shim: one process per detached container, what containerd's
 * `containerd-shim-runc-v2` is to runc. The OCI runtime sets the container up
 * and exits; somebody must stay to hold its stdio, notice its end and give
 * back what it used. That is this process:
 *
 *   detach        a session of its own (the lesson's duty): no terminal's
 *                 hang-up or Ctrl-C reaches it, the CLI that started it may go
 *   subreaper     PR_SET_CHILD_SUBREAPER (the lesson's duty): when the
 *                 runtime exits, the container's init — the runtime's child —
 *                 is re-parented to the shim instead of to the host's PID 1,
 *                 so the shim can wait for it
 *   create        `runtime create --bundle DIR --pid-file F ID` with the
 *                 shim's pipes as stdio: the init inherits them, so whatever
 *                 the container writes reaches the shim, long after the
 *                 runtime is gone
 *   serve         shim.sock: start, kill, wait, attach, state (one JSON line
 *                 each way); output goes to the json-file log and to every
 *                 attached client
 *   wait          for the init (the lesson's duty), then for its pipes to end
 *   cleanup       `runtime delete ID` (the lesson's duty): cgroup, veth, lease,
 *                 overlay go through the runtime that made them — and if the
 *                 runtime still knows the container afterwards, the shim
 *                 deletes it with --force itself, and says so
 *   record        the exit status and time in state.json (the lesson's duty),
 *                 answer the waiters, exit (--rm: remove the record first)
 *
 * Started by core/shim/client.ts through `sh -c '… &'`, so that its parent
 * exits at once and it belongs to no cellblock process (containerd's shim
 * double-forks for the same reason). fd 3 carries one line back to the
 * starter: {"created":PID} or {"error":"…"}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, appendFileSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { pathToFileURL } from 'node:url';
import type { Lesson, LogStream, ShimSteps, ShimSys } from '../lesson.js';
import { processStart } from '../host/proc.js';
import * as native from '../../native/process.js';
import { O_CLOEXEC, WNOHANG } from '../../native/constants.js';
import { close, pipe2 } from '../../native/fd.js';
import {
  logPath,
  pidFile,
  readShimState,
  runtimeLog,
  shimDir,
  socketPath,
  writeShimState,
  type ShimState,
} from './state.js';
import { frame, runtimeError } from './protocol.js';

const sys: ShimSys = { setsid: native.setsid, prctl: native.prctl, waitpid: native.waitpid };
const id = process.argv[2] ?? '';
const loaded = readShimState(id);
if (!loaded) {
  tell({ error: `shim: no record for container ${JSON.stringify(id)} in ${shimDir(id)}` });
  process.exit(125);
}
let state: ShimState = loaded;
const notes: string[] = [];
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One line to whoever started the shim (fd 3), once; then fd 3 is closed so its reader sees the end. */
function tell(msg: Record<string, unknown>): void {
  try {
    writeSync(3, `${JSON.stringify(msg)}\n`);
    closeSync(3);
  } catch {
    // nobody is listening any more (the starter was killed): the record says it all
  }
}

function save(patch: Partial<ShimState>): void {
  state = { ...state, ...patch };
  writeShimState(state);
}

/** The runtime's command line: its --root when one was chosen, its errors as JSON lines in runtime.log. */
function runtimeArgs(args: string[]): string[] {
  return [
    ...(state.runtimeRoot !== undefined ? ['--root', state.runtimeRoot] : []),
    '--log',
    runtimeLog(id),
    '--log-format',
    'json',
    ...args,
  ];
}
const runtimeEnv = { ...process.env, ...(state.runtimeSolutions ? { CELLBLOCK_OCI_SOLUTIONS: '1' } : {}) };

function spawnRuntime(args: string[], stdio: ('pipe' | 'ignore' | number)[]): ChildProcess {
  return spawn(state.runtime, runtimeArgs(args), { stdio, env: runtimeEnv });
}

/** Exit status as a shell reports it; a runtime that cannot be started at all rejects. */
function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
  });
}

/** `runtime ARGS…` with no stdio of its own: resolves with its status (what the lesson's cleanup gets). */
const runtime = (args: string[]): Promise<number> => exitOf(spawnRuntime(args, ['ignore', 'ignore', 'ignore']));

async function loadSteps(): Promise<ShimSteps> {
  for (const l of [...state.lessons].reverse()) {
    const lesson = ((await import(pathToFileURL(l.file).href)) as { default: Lesson }).default;
    if (lesson.shim) return lesson.shim;
  }
  throw new Error(
    `no lesson provides the shim's duties (Lesson.shim) in ${state.lessons.map((l) => l.file).join(', ')}`,
  );
}

// ── output: the json-file log and the attached clients ───────────────────────
const clients = new Set<{ socket: Socket; stdin: boolean }>();
/** The write end of the container's stdin (run -d -i), while it is open. */
let stdinPipe: Socket | undefined;
const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
const partial: Record<LogStream, string> = { stdout: '', stderr: '' };
let logFailed = false;

function logText(steps: ShimSteps, stream: LogStream, text: string): void {
  try {
    appendFileSync(logPath(id), `${steps.logLine(stream, text, new Date())}\n`);
  } catch (err) {
    if (!logFailed) notes.push(`logLine threw: ${message(err)} — the log misses lines`);
    logFailed = true;
  }
}

/** Docker's json-file driver writes one entry per line of output (the newline kept), a partial line at the end. */
function onOutput(steps: ShimSteps, stream: LogStream, chunk: Buffer): void {
  for (const c of clients) c.socket.write(state.tty ? chunk : frame(stream, chunk));
  partial[stream] += decoders[stream].write(chunk);
  let nl: number;
  while ((nl = partial[stream].indexOf('\n')) >= 0) {
    logText(steps, stream, partial[stream].slice(0, nl + 1));
    partial[stream] = partial[stream].slice(nl + 1);
  }
}

function flushOutput(steps: ShimSteps): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const rest = partial[stream] + decoders[stream].end();
    if (rest) logText(steps, stream, rest);
    partial[stream] = '';
  }
}

const ended = (s: NodeJS.ReadableStream | null): Promise<void> =>
  new Promise((resolve) => (s ? s.once('close', () => resolve()).once('end', () => resolve()) : resolve()));

// ── the life of the container ─────────────────────────────────────────────────
async function main(): Promise<void> {
  const steps = await loadSteps();
  try {
    steps.detach(sys);
  } catch (err) {
    notes.push(`detach threw: ${message(err)}`);
  }
  try {
    steps.becomeSubreaper(sys);
  } catch (err) {
    notes.push(`becomeSubreaper threw: ${message(err)}`);
  }
  save({ shimPid: process.pid, shimStart: processStart(process.pid) });
  // The socket before the runtime: a client that read "created" may connect at once.
  rmSync(socketPath(id), { force: true });
  const waiters: Socket[] = [];
  const server = createServer((socket) => serve(socket, waiters));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath(id), resolve));

  // stdin is a pipe of the shim's own, not child_process's: Node closes a
  // child's stdin pipe when the child exits — and this child, the runtime,
  // exits right away while the container reads on.
  const [stdinRead, stdinWrite] = state.openStdin ? pipe2(O_CLOEXEC) : [undefined, undefined];
  const container = spawnRuntime(
    ['create', '--bundle', shimDir(id), '--pid-file', pidFile(id), id],
    [stdinRead ?? 'ignore', 'pipe', 'pipe'],
  );
  if (stdinRead !== undefined) close(stdinRead);
  stdinPipe = stdinWrite === undefined ? undefined : new Socket({ fd: stdinWrite, readable: false, writable: true });
  stdinPipe?.on('error', () => undefined); // EPIPE once the container has gone
  container.stdout!.on('data', (d: Buffer) => onOutput(steps, 'stdout', d));
  container.stderr!.on('data', (d: Buffer) => onOutput(steps, 'stderr', d));
  const output = Promise.all([ended(container.stdout), ended(container.stderr)]);
  let created: number;
  try {
    created = await exitOf(container);
  } catch (err) {
    created = -1;
    notes.push(
      `cannot run the OCI runtime ${JSON.stringify(state.runtime)}: ${message(err)} (set CELLBLOCK_OCI_RUNTIME to its path)`,
    );
  }
  const pid = Number(existsSync(pidFile(id)) ? readFileSync(pidFile(id), 'utf8').trim() : NaN);
  if (created !== 0 || !(pid > 0)) {
    const error = notes.at(-1) ?? runtimeError(runtimeLog(id)) ?? `${state.runtime} create exited with ${created}`;
    // Whatever the runtime made before it failed goes with it.
    if (created !== -1) await runtime(['delete', '--force', id]).catch(() => undefined);
    save({ status: 'exited', error, notes });
    tell({ error });
    server.close();
    rmSync(socketPath(id), { force: true });
    return;
  }
  save({ pid, status: 'created' });
  // Asked for now, before anything can end it: an end is never missed.
  const status: Promise<number | undefined> = Promise.race<number | typeof UNANSWERED>([
    steps.waitForInit(sys, pid),
    initGone(pid)
      .then(() => sleep(2000))
      .then(() => UNANSWERED),
  ]).then(
    (st): number | undefined => {
      if (typeof st === 'number') return st;
      // The init has ended and waitForInit has not said so: the shim reaps it
      // (a zombie would stay for ever) but cannot vouch for a status it did not get.
      notes.push('waitForInit did not resolve although the init had ended: the exit status is unknown');
      reap(pid);
      return undefined;
    },
    async (err: unknown) => {
      notes.push(`waitForInit failed: ${message(err)} — the exit status is unknown`);
      await initGone(pid);
      reap(pid);
      return undefined;
    },
  );
  tell({ created: pid });

  const exitStatus = await status;
  // The pipes end once every process that held them has gone; a process that
  // escaped the container could hold them for ever: not longer than 2 s.
  await Promise.race([output, sleep(2000)]);
  flushOutput(steps);
  try {
    await steps.cleanup(runtime, id);
  } catch (err) {
    notes.push(`cleanup threw: ${message(err)}`);
  }
  if ((await runtime(['state', id]).catch(() => 1)) === 0) {
    notes.push(
      `the runtime still had container ${id} after the cleanup duty: the shim deleted it (runtime delete --force)`,
    );
    await runtime(['delete', '--force', id]).catch(() => undefined);
  }
  let record: ShimState = { ...state, status: 'exited' };
  if (exitStatus !== undefined) {
    try {
      record = steps.recordExit(record, exitStatus, new Date());
    } catch (err) {
      notes.push(`recordExit threw: ${message(err)}`);
    }
  }
  save({ ...record, status: 'exited', notes });
  const reply = `${JSON.stringify({ ok: true, exitCode: state.exitCode, finishedAt: state.finishedAt })}\n`;
  for (const w of waiters.splice(0)) w.end(reply);
  for (const c of clients) c.socket.end();
  server.close();
  rmSync(socketPath(id), { force: true });
  if (state.autoRemove) rmSync(shimDir(id), { recursive: true, force: true });
}

const UNANSWERED = Symbol('unanswered');

/** Resolves once `pid` has ended: gone, or a zombie waiting for its parent. */
async function initGone(pid: number): Promise<void> {
  while (processStart(pid) !== undefined && readStatState(pid) !== 'Z') await sleep(100);
}

/** Collect `pid` if it is a zombie child of the shim's (nothing to do when it is not ours). */
function reap(pid: number): void {
  try {
    native.waitpid(pid, WNOHANG);
  } catch {
    // not our child: its own parent reaps it
  }
}

function readStatState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One client of shim.sock: a JSON request line, a JSON reply line (attach: then the stream). */
function serve(socket: Socket, waiters: Socket[]): void {
  let buffer = '';
  socket.on('error', () => undefined);
  const onData = (d: Buffer): void => {
    buffer += d.toString('utf8');
    const nl = buffer.indexOf('\n');
    if (nl < 0) return;
    socket.off('data', onData);
    const rest = Buffer.from(buffer.slice(nl + 1), 'utf8');
    let req: { op?: string; signal?: number | string; all?: boolean; stdin?: boolean };
    try {
      req = JSON.parse(buffer.slice(0, nl)) as typeof req;
    } catch {
      socket.end(`${JSON.stringify({ error: 'not a JSON request line' })}\n`);
      return;
    }
    handle(req, socket, rest, waiters).catch((err: unknown) =>
      socket.end(`${JSON.stringify({ error: message(err) })}\n`),
    );
  };
  socket.on('data', onData);
}

async function handle(
  req: { op?: string; signal?: number | string; all?: boolean; stdin?: boolean },
  socket: Socket,
  rest: Buffer,
  waiters: Socket[],
): Promise<void> {
  const reply = (body: Record<string, unknown>): void => void socket.end(`${JSON.stringify(body)}\n`);
  switch (req.op) {
    case 'state':
      return reply({ ok: true, state });
    case 'wait':
      if (state.status === 'exited') return reply({ ok: true, exitCode: state.exitCode, finishedAt: state.finishedAt });
      waiters.push(socket);
      return;
    case 'start': {
      if (state.status !== 'created') return reply({ error: `container ${id} is ${state.status}, not created` });
      const code = await runtime(['start', id]);
      if (code !== 0) return reply({ error: runtimeError(runtimeLog(id)) ?? `runtime start exited with ${code}` });
      save({ status: 'running', startedAt: new Date().toISOString() });
      return reply({ ok: true });
    }
    case 'kill': {
      if (state.status === 'exited') return reply({ error: `container ${id} is not running` });
      const signal = String(req.signal ?? 'KILL');
      const code = await runtime(['kill', ...(req.all ? ['--all'] : []), id, signal]);
      if (code !== 0) return reply({ error: runtimeError(runtimeLog(id)) ?? `runtime kill exited with ${code}` });
      return reply({ ok: true });
    }
    case 'attach': {
      const stdin = stdinPipe;
      const entry = { socket, stdin: req.stdin === true && stdin !== undefined };
      socket.write(`${JSON.stringify({ ok: true, tty: state.tty })}\n`);
      if (state.status === 'exited') return void socket.end();
      clients.add(entry);
      socket.on('close', () => clients.delete(entry));
      if (entry.stdin && stdin) {
        if (rest.length > 0) stdin.write(rest);
        socket.on('data', (d: Buffer) => stdin.write(d));
        // The client's end of input is the container's (docker run -i: StdinOnce).
        socket.on('end', () => {
          stdin.end();
          stdinPipe = undefined;
        });
      }
      return;
    }
    default:
      return reply({ error: `unknown op ${JSON.stringify(req.op)}: start, kill, wait, attach or state` });
  }
}

main().then(
  () => setTimeout(() => process.exit(0), 50).unref(),
  (err: unknown) => {
    const error = `shim: ${message(err)}`;
    try {
      save({ status: 'exited', error, notes });
    } catch {
      // the record is gone (rm -f raced the end): nothing to write into
    }
    tell({ error });
    process.exit(1);
  },
);
