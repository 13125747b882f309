/**
 * Containers kept by shims (src/core/shim, lesson 12): dockerd → containerd →
 * containerd-shim → runc, here cellblockd → shim → cellblock-oci. Each
 * container has a shim process of its own, not a child of the daemon, that
 * holds its stdio and its exit status; so the daemon may stop and start again
 * while containers run, and finds them from the shims' records.
 */
import type { Duplex } from 'node:stream';
import type { LoadedLesson } from '../../core/lesson.js';
import * as shim from '../../core/shim/index.js';
import type { Backend, BackendState, CreateOptions, ExitInfo, LogEntry } from './backend.js';
import { ApiError } from './http.js';

/** The shim module's errors in Docker's statuses: 404 no such container, 409 wrong state, 500 the rest. */
async function docker<T>(what: () => Promise<T> | T): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof shim.NoSuchContainer) throw new ApiError(404, err.message);
    if (err instanceof shim.ContainerStateError) throw new ApiError(409, err.message);
    throw err;
  }
}

const asState = (s: shim.ShimState): BackendState => ({
  id: s.id,
  name: s.name,
  image: s.image,
  argv: s.argv,
  created: s.created,
  status: s.status,
  pid: s.pid,
  startedAt: s.startedAt,
  finishedAt: s.finishedAt,
  exitCode: s.exitCode,
  tty: s.tty,
  openStdin: s.openStdin,
  autoRemove: s.autoRemove,
  error: s.error,
});

/** A shim that could not learn the status (its record says why): Docker's "unknown" is 255... as -1 & 0xff. */
const exitOf = (e: shim.ExitInfo | undefined): ExitInfo => ({
  exitCode: e?.exitCode ?? 255,
  finishedAt: e?.finishedAt ?? new Date().toISOString(),
});

export class ShimBackend implements Backend {
  readonly name = 'shim';

  constructor(private readonly lessons: LoadedLesson[]) {}

  async create(o: CreateOptions): Promise<BackendState> {
    const s = await shim.create({
      config: o.config,
      lessons: this.lessons,
      image: o.image,
      openStdin: o.openStdin,
      autoRemove: o.autoRemove,
      // The daemon runs the reference lessons (as `cellblock daemon` loads them): so does its runtime.
      runtimeSolutions: true,
    });
    return asState(s);
  }

  async start(id: string): Promise<BackendState> {
    return asState(await docker(() => shim.start(id)));
  }

  async wait(id: string): Promise<ExitInfo> {
    return exitOf(await docker(() => shim.wait(id)));
  }

  kill(id: string, signal: NodeJS.Signals | number): Promise<void> {
    return docker(() => shim.kill(id, signal));
  }

  async stop(id: string, timeoutSec: number): Promise<ExitInfo> {
    return exitOf(await docker(() => shim.stop(id, { timeoutSec })));
  }

  remove(id: string, force: boolean): Promise<void> {
    // Docker removes a created container (never started) without -f: nothing of it runs.
    const created = shim.inspect(id)?.status === 'created';
    return docker(() => shim.remove(id, { force: force || created }));
  }

  inspect(id: string): BackendState | undefined {
    const s = shim.inspect(id);
    // Only the exact id: the shim module also resolves names and prefixes, the daemon does that itself.
    return s && s.id === id ? asState(s) : undefined;
  }

  list(): BackendState[] {
    return shim.list({ all: true }).map(asState);
  }

  async *logs(id: string, o: { follow: boolean; tail?: number; since?: number }): AsyncIterable<LogEntry> {
    const since = o.since ?? 0;
    const entries = await docker(() =>
      shim.logs(id, { follow: o.follow, ...(o.tail !== undefined ? { tail: o.tail } : {}) }),
    );
    for await (const e of entries) {
      if (since > 0 && Date.parse(e.time) / 1000 < since) continue;
      yield { stream: e.stream === 'stderr' ? 'stderr' : 'stdout', log: e.log, time: e.time };
    }
  }

  async attach(id: string, o: { stdin: boolean }): Promise<Duplex> {
    const { socket } = await docker(() => shim.attach(id, { stdin: o.stdin }));
    socket.resume();
    return socket;
  }

  /** Nothing to stop: the shims outlive the daemon, as containerd's shims outlive dockerd (live restore). */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A shim for every new container (with a terminal too: the shim takes the
 * console the runtime sends over --console-socket). Containers an older
 * daemon ran inline (inline.ts) are still answered by the backend that holds
 * the id.
 */
export class SplitBackend implements Backend {
  readonly name = 'shim';

  constructor(
    private readonly shims: Backend,
    private readonly inline: Backend,
  ) {}

  private of(id: string): Backend {
    return this.inline.inspect(id) ? this.inline : this.shims;
  }

  create(o: CreateOptions): Promise<BackendState> {
    return this.shims.create(o);
  }
  start(id: string): Promise<BackendState> {
    return this.of(id).start(id);
  }
  wait(id: string): Promise<ExitInfo> {
    return this.of(id).wait(id);
  }
  kill(id: string, signal: NodeJS.Signals | number): Promise<void> {
    return this.of(id).kill(id, signal);
  }
  stop(id: string, timeoutSec: number): Promise<ExitInfo> {
    return this.of(id).stop(id, timeoutSec);
  }
  remove(id: string, force: boolean): Promise<void> {
    return this.of(id).remove(id, force);
  }
  inspect(id: string): BackendState | undefined {
    return this.inline.inspect(id) ?? this.shims.inspect(id);
  }
  list(): BackendState[] {
    return [...this.inline.list(), ...this.shims.list()];
  }
  logs(id: string, o: { follow: boolean; tail?: number; since?: number }): AsyncIterable<LogEntry> {
    return this.of(id).logs(id, o);
  }
  attach(id: string, o: { stdin: boolean }): Promise<Duplex> {
    return this.of(id).attach(id, o);
  }
  resize(id: string, cols: number, rows: number): void {
    this.of(id).resize?.(id, cols, rows);
  }
  async shutdown(): Promise<void> {
    await this.inline.shutdown();
    await this.shims.shutdown();
  }
}
