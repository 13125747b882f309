/**
 * A detached container's record, kept by its shim in SHIMS_DIR/<id>/: what
 * `cellblock ps`, `inspect`-like readers and the daemon show. The shim writes
 * it; everyone else only reads it — and tells from the shim's pid and start
 * time whether the shim still lives (a record that says "running" while its
 * shim is gone is a dead container: nobody watches it any more).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN } from '../config.js';
import type { ExitRecord } from '../lesson.js';
import { SHIMS_DIR } from '../names.js';
import { listDir, readJson } from '../read.js';
import { readStat } from '../host/proc.js';

export type ShimStatus = 'created' | 'running' | 'exited' | 'dead';

export interface ShimState extends ExitRecord {
  id: string;
  /** The container's name (--name), when it has one. */
  name?: string;
  image?: string;
  argv: string[];
  /** When the record was made (ISO time). */
  created: string;
  /** As the shim wrote it; `inspect` and `list` give 'dead' when the shim is gone before the end. */
  status: ShimStatus;
  /** The container's init (host pid), once the runtime has created it. */
  pid?: number;
  shimPid?: number;
  /** The shim's start time (clock ticks after boot): a pid alone may be someone else's by now. */
  shimStart?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  /** The OCI runtime binary and its --root (undefined: its default), and whether it runs the reference lessons. */
  runtime: string;
  runtimeRoot?: string;
  runtimeSolutions: boolean;
  /** The lesson files the shim takes its duties from. */
  lessons: { id: string; file: string }[];
  /** Published ports, HOST:CONTAINER, for `ps`. */
  ports?: string[];
  /** What went wrong (the runtime's error, a duty that failed), for `ps`/inspect and the checks. */
  error?: string;
  /** Notes from the shim's end: what it had to do in place of a duty that did not. */
  notes?: string[];
}

export const shimDir = (id: string): string => join(SHIMS_DIR, id);
export const statePath = (id: string): string => join(shimDir(id), 'state.json');
export const socketPath = (id: string): string => join(shimDir(id), 'shim.sock');
export const logPath = (id: string): string => join(shimDir(id), `${id}-json.log`);
export const pidFile = (id: string): string => join(shimDir(id), 'init.pid');
export const runtimeLog = (id: string): string => join(shimDir(id), 'runtime.log');

export function writeShimState(state: ShimState): void {
  mkdirSync(shimDir(state.id), { recursive: true, mode: 0o700 });
  const file = statePath(state.id);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The record as written, or undefined (no such id; an id is never a path). */
export function readShimState(id: string, dir = SHIMS_DIR): ShimState | undefined {
  if (!ID_PATTERN.test(id)) return undefined;
  return readJson<ShimState>(join(dir, id, 'state.json'));
}

/** Whether the shim of this record still lives (same pid, same start time). */
export function shimAlive(s: Pick<ShimState, 'shimPid' | 'shimStart'>, proc = '/proc'): boolean {
  if (s.shimPid === undefined) return false;
  // A zombie has ended: it only waits for its parent (the host's PID 1) to collect it.
  const stat = readStat(s.shimPid, proc);
  return (
    stat !== undefined &&
    stat.state !== 'Z' &&
    stat.state !== 'X' &&
    (s.shimStart === undefined || stat.start === s.shimStart)
  );
}

/** The status to show: a record whose shim died before writing the end is 'dead'. */
export function effectiveStatus(s: ShimState, proc = '/proc'): ShimStatus {
  if (s.status === 'exited' || s.status === 'dead') return s.status;
  return shimAlive(s, proc) ? s.status : 'dead';
}

/** Every record, with its effective status. */
export function listShimStates(dir = SHIMS_DIR, proc = '/proc'): ShimState[] {
  return listDir(dir)
    .map((id) => readShimState(id, dir))
    .filter((s): s is ShimState => s !== undefined)
    .map((s) => ({ ...s, status: effectiveStatus(s, proc) }));
}

/** An id, a name, or a unique prefix of an id (as `docker` takes them) → the id. */
export function resolveShim(ref: string, dir = SHIMS_DIR): string | undefined {
  const all = listDir(dir)
    .map((id) => readShimState(id, dir))
    .filter((s): s is ShimState => s !== undefined);
  const exact = all.find((s) => s.id === ref) ?? all.find((s) => s.name === ref);
  if (exact) return exact.id;
  const prefixed = all.filter((s) => s.id.startsWith(ref));
  return prefixed.length === 1 ? prefixed[0]!.id : undefined;
}
