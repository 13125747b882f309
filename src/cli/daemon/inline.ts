/**
 * The daemon's own container keeper, for when no shim is used: each
 * container runs inside the daemon process, through the same startContainer
 * `cellblock run` uses (core/host/run.ts), its output kept in a Docker
 * json-file log and fanned out to attached clients.
 *
 * Its limit is the reason shims exist: the daemon is every container's
 * parent, so when the daemon stops, its containers must stop too (it stops
 * them, rather than leave orphans nobody waits for), and a restarted daemon
 * finds none of them running. The shim backend (shim.ts) has neither limit.
 */
import { createWriteStream, mkdirSync, openSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { ConfigError } from '../../core/config.js';
import { startContainer, undoFailuresOf, type RunningContainer, type StdioEntry } from '../../core/host/run.js';
import { readState } from '../../core/host/state.js';
import { Terminal } from '../../core/host/terminal.js';
import { describeUndoFailure, type LoadedLesson } from '../../core/lesson.js';
import { validateConfig } from '../../core/validate.js';
import type { Backend, BackendState, CreateOptions, ExitInfo, LogEntry } from './backend.js';
import { frame, ApiError } from './http.js';

interface Kept {
  opts: CreateOptions;
  state: BackendState;
  logPath: string;
  log?: WriteStream;
  entries: LogEntry[];
  /** 'entry' (LogEntry) and 'data' (stream, bytes) while it runs; 'exit' once cleaned up. */
  events: EventEmitter;
  running?: RunningContainer;
  term?: Terminal;
  exited?: Promise<ExitInfo>;
}

export class InlineBackend implements Backend {
  readonly name = 'inline';
  private readonly kept = new Map<string, Kept>();

  constructor(
    private readonly lessons: LoadedLesson[],
    private readonly dir: string,
    private readonly say: (line: string) => void,
  ) {}

  private get(id: string): Kept {
    const k = this.kept.get(id);
    if (!k) throw new ApiError(404, `No such container: ${id}`);
    return k;
  }

  create(o: CreateOptions): Promise<BackendState> {
    // Bad input is refused here, before anything exists (as the shim's create does).
    const problems = validateConfig(o.config, this.lessons);
    if (problems.length > 0) throw new ConfigError(problems);
    const logDir = join(this.dir, o.config.id);
    mkdirSync(logDir, { recursive: true, mode: 0o700 });
    const state: BackendState = {
      id: o.config.id,
      image: o.image,
      argv: o.config.argv,
      created: new Date().toISOString(),
      status: 'created',
      tty: o.config.tty,
      openStdin: o.openStdin,
      autoRemove: o.autoRemove,
    };
    this.kept.set(o.config.id, {
      opts: o,
      state,
      logPath: join(logDir, `${o.config.id}-json.log`),
      entries: [],
      events: new EventEmitter(),
    });
    return Promise.resolve({ ...state });
  }

  async start(id: string): Promise<BackendState> {
    const k = this.get(id);
    if (k.state.status !== 'created') throw new ApiError(304, 'container already started');
    const { config } = k.opts;
    k.log = createWriteStream(k.logPath, { flags: 'a', mode: 0o600 });
    const term = config.tty ? new Terminal(80, 24) : undefined;
    const stdio: [StdioEntry, StdioEntry, StdioEntry] = term
      ? [term.slave!, term.slave!, term.slave!]
      : [k.opts.openStdin ? 'pipe' : openSync('/dev/null', 'r'), 'pipe', 'pipe'];
    let running: RunningContainer;
    try {
      running = await startContainer(config, {
        lessons: this.lessons,
        stdio,
        prespawn: true,
        ...(term ? { onConsole: (m: number) => term.adopt(m) } : {}),
      });
    } catch (err) {
      term?.close();
      k.log.end();
      for (const f of undoFailuresOf(err).failures) this.say(`${id}: ${describeUndoFailure(f)}`);
      k.state = { ...k.state, status: 'exited', exitCode: 128, error: String(err), finishedAt: now() };
      throw err;
    }
    k.running = running;
    k.term = term;
    k.state = { ...k.state, status: 'running', pid: running.pid, startedAt: now() };
    const outputs: Promise<void>[] = [];
    const take = (stream: 'stdout' | 'stderr', d: Buffer): void => {
      const entry = { stream, log: d.toString('utf8'), time: now() };
      k.entries.push(entry);
      k.log?.write(`${JSON.stringify(entry)}\n`);
      k.events.emit('data', stream, d);
      k.events.emit('entry', entry);
    };
    if (term) {
      term.releaseSlave();
      const sink = new (await import('node:stream')).Writable({
        write: (chunk: Buffer, _e, cb) => {
          take('stdout', chunk);
          cb();
        },
      });
      outputs.push(term.pipeTo(sink));
    } else {
      for (const [s, r] of [
        ['stdout', running.stdout],
        ['stderr', running.stderr],
      ] as const) {
        if (!r) continue;
        r.on('data', (d: Buffer) => take(s, d));
        outputs.push(new Promise((res) => r.once('close', () => res())));
      }
    }
    k.exited = (async () => {
      const code = await running.wait();
      await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, 300))]);
      for (const f of running.undoFailures) this.say(`${id}: ${describeUndoFailure(f)}`);
      term?.close();
      k.log?.end();
      const info: ExitInfo = { exitCode: code, finishedAt: now() };
      k.state = { ...k.state, status: 'exited', exitCode: code, finishedAt: info.finishedAt };
      k.events.emit('exit', info);
      // --rm: the record and the log go with the container, as the shim does it.
      if (k.opts.autoRemove) await this.remove(id, false).catch(() => undefined);
      return info;
    })();
    return { ...k.state };
  }

  async wait(id: string): Promise<ExitInfo> {
    const k = this.get(id);
    if (k.exited) return k.exited;
    if (k.state.status === 'exited') return { exitCode: k.state.exitCode ?? 0, finishedAt: k.state.finishedAt ?? '' };
    // Not started yet: the exit of the run that is to come.
    return new Promise((resolve) => k.events.once('exit', resolve));
  }

  kill(id: string, signal: NodeJS.Signals | number): Promise<void> {
    const k = this.get(id);
    if (k.state.status !== 'running' || !k.running) {
      throw new ApiError(409, `Container ${id} is not running`);
    }
    // The init itself (its host pid), as runc kill does: the runtime's own
    // process is not the container.
    const pid = readState(id)?.pid ?? k.running.pid;
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    return Promise.resolve();
  }

  async stop(id: string, timeoutSec: number): Promise<ExitInfo> {
    const k = this.get(id);
    if (k.state.status !== 'running') throw new ApiError(304, 'container already stopped');
    await this.kill(id, 'SIGTERM');
    const done = this.wait(id);
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), timeoutSec * 1000).unref());
    if ((await Promise.race([done, timer])) === 'late' && k.state.status === 'running') {
      await this.kill(id, 'SIGKILL');
    }
    return done;
  }

  async remove(id: string, force: boolean): Promise<void> {
    const k = this.get(id);
    if (k.state.status === 'running') {
      if (!force) {
        throw new ApiError(
          409,
          `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`,
        );
      }
      await this.kill(id, 'SIGKILL');
      await this.wait(id);
    }
    this.kept.delete(id);
    rmSync(join(this.dir, id), { recursive: true, force: true });
  }

  inspect(id: string): BackendState | undefined {
    const k = this.kept.get(id);
    return k ? { ...k.state } : undefined;
  }

  list(): BackendState[] {
    return [...this.kept.values()].map((k) => ({ ...k.state }));
  }

  async *logs(id: string, o: { follow: boolean; tail?: number; since?: number }): AsyncIterable<LogEntry> {
    const k = this.get(id);
    const all = k.entries.length > 0 || k.state.status !== 'exited' ? k.entries : readLog(k.logPath);
    const first = o.tail !== undefined ? Math.max(0, all.length - o.tail) : 0;
    let i = first;
    const since = o.since ?? 0;
    for (; i < all.length; i++) if (Date.parse(all[i]!.time) / 1000 >= since) yield all[i]!;
    if (!o.follow || k.state.status !== 'running') return;
    // Follow: what comes next, until the exit.
    const queue: LogEntry[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const onEntry = (): void => wake?.();
    const onExit = (): void => {
      ended = true;
      wake?.();
    };
    k.events.on('entry', onEntry);
    k.events.once('exit', onExit);
    try {
      for (;;) {
        while (i < all.length) queue.push(all[i++]!);
        while (queue.length > 0) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      k.events.off('entry', onEntry);
      k.events.off('exit', onExit);
    }
  }

  attach(id: string, o: { stdin: boolean }): Promise<Duplex> {
    const k = this.get(id);
    const tty = k.opts.config.tty;
    const events = k.events;
    const onData = (stream: 'stdout' | 'stderr', d: Buffer): void => {
      duplex.push(tty ? d : frame(stream === 'stdout' ? 1 : 2, d));
    };
    const onExit = (): void => {
      duplex.push(null);
    };
    const detach = (): void => {
      events.off('data', onData);
      events.off('exit', onExit);
    };
    const duplex = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        if (!o.stdin || !k.opts.openStdin) return cb();
        if (k.term) k.term.write(chunk);
        else k.running?.stdin?.write(chunk);
        cb();
      },
      final: (cb) => {
        // The client's stdin ended: with StdinOnce (docker run -i) the container's ends too.
        if (o.stdin && k.opts.stdinOnce && !k.term) k.running?.stdin?.end();
        cb();
      },
      destroy: (err, cb) => {
        detach();
        cb(err);
      },
    });
    if (k.state.status === 'exited') duplex.push(null);
    else {
      events.on('data', onData);
      events.once('exit', onExit);
    }
    return Promise.resolve(duplex);
  }

  resize(id: string, cols: number, rows: number): void {
    this.kept.get(id)?.term?.resize(cols, rows);
  }

  async shutdown(): Promise<void> {
    // Without shims the containers cannot outlive the daemon: stop them (as
    // dockerd does without live-restore), so that nothing is left behind.
    await Promise.all(
      [...this.kept.values()]
        .filter((k) => k.state.status === 'running')
        .map((k) => this.stop(k.state.id, 10).catch(() => undefined)),
    );
    for (const id of [...this.kept.keys()]) await this.remove(id, true).catch(() => undefined);
  }
}

const now = (): string => new Date().toISOString();

function readLog(path: string): LogEntry[] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as LogEntry);
  } catch {
    return [];
  }
}
