/**
 * What the daemon asks of whatever keeps its containers: the same operations
 * containerd's shim API offers dockerd (create, start, wait, kill, delete,
 * state, attach), in the shape of cellblock's shim module (src/core/shim,
 * lesson 12) so that the daemon does not care which one runs them.
 */
import type { Duplex } from 'node:stream';
import type { ContainerConfig } from '../../core/config.js';

export interface CreateOptions {
  /** Exactly what `cellblock run` builds: id, rootfs, argv, env, cwd, tty + the lessons' fields. */
  config: ContainerConfig;
  image: string;
  openStdin: boolean;
  stdinOnce: boolean;
  autoRemove: boolean;
}

export interface ExitInfo {
  exitCode: number;
  finishedAt: string;
  oomKilled?: boolean;
}

export interface BackendState {
  id: string;
  name?: string | undefined;
  image?: string | undefined;
  argv: string[];
  created: string;
  status: 'created' | 'running' | 'exited' | 'dead';
  /** The container's init, as a host pid. */
  pid?: number | undefined;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  exitCode?: number | undefined;
  oomKilled?: boolean | undefined;
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  error?: string | undefined;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: string;
  time: string;
}

export interface Backend {
  /** Which one this is, for /info and the log. */
  readonly name: string;
  create(o: CreateOptions): Promise<BackendState>;
  start(id: string): Promise<BackendState>;
  /** Resolves once the container has exited and its resources are released. */
  wait(id: string): Promise<ExitInfo>;
  kill(id: string, signal: NodeJS.Signals | number): Promise<void>;
  stop(id: string, timeoutSec: number): Promise<ExitInfo>;
  remove(id: string, force: boolean): Promise<void>;
  inspect(id: string): BackendState | undefined;
  list(): BackendState[];
  logs(id: string, o: { follow: boolean; tail?: number; since?: number }): AsyncIterable<LogEntry>;
  /**
   * The container's output as Docker's stdcopy frames (raw bytes with a
   * terminal) on the readable side, its stdin on the writable side; the
   * stream ends once the output has ended. Closing it leaves the container be.
   */
  attach(id: string, o: { stdin: boolean }): Promise<Duplex>;
  /** The terminal's size (tty containers), when the backend can change it. */
  resize?(id: string, cols: number, rows: number): void;
  /** Stop everything this backend cannot leave behind when the daemon exits. */
  shutdown(): Promise<void>;
}
