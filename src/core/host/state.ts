/**
 * Runtime state of running containers, like runc's /run/runc/<id>/state.json:
 * written once the init is spawned, removed after cleanup. It lets other
 * commands find a container by id (stats, pause, cleanup) without guessing.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN, type ContainerConfig } from '../config.js';
import { RUN_DIR } from '../names.js';
import { listDir, readJson } from '../read.js';

export interface ContainerState {
  id: string;
  /** Host pid of the container's first process. */
  pid: number;
  /** Host pid of the runtime process that manages it. */
  runtimePid: number;
  rootfs: string;
  startedAt: string;
  /** The lesson modules it runs with (`cellblock exec` loads the same ones). */
  lessons?: { id: string; file: string }[];
  /**
   * Its config as the host steps left it, written once they are done: what a
   * process joining the container (`cellblock exec`) must be given too.
   */
  config?: ContainerConfig;
  /**
   * Where its cgroup is when a caller chose (config.cgroupPath, an OCI
   * linux.cgroupsPath), from the start: the device rules look it up by id
   * (core/cgroups findCgroupName) before `config` is written.
   */
  cgroupPath?: string;
  /**
   * Start times (/proc/PID/stat field 22, clock ticks since boot) of the init
   * and the runtime: a pid alone may be reused after a crash left this file
   * behind, and joining "pid 4242's namespaces" would then join a stranger's.
   */
  initStartTime?: number;
  runtimeStartTime?: number;
  /**
   * Set once the init has exec'd the command — its root is the container's
   * own by then. Before that its mount namespace is still a copy of the
   * host's, and nothing may join it (`cellblock exec` refuses "starting").
   */
  running?: boolean;
}

export function stateFile(id: string): string {
  return join(RUN_DIR, `${id}.json`);
}

export function writeState(state: ContainerState): void {
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  // Written whole, then renamed: `cellblock exec` may read it at any moment.
  const tmp = `${stateFile(state.id)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, stateFile(state.id));
}

/** /proc/PID/stat field 22 (starttime), or undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[22 - 3]);
  return Number.isFinite(start) ? start : undefined;
}

/** Is `pid` the very process that was started at `startTime` (not a reuse of its number)? */
export function sameProcess(pid: number, startTime: number | undefined): boolean {
  const now = processStartTime(pid);
  return now !== undefined && (startTime === undefined || now === startTime);
}

/** The container's init and runtime both still run (the same processes its state recorded). */
export function isLive(state: ContainerState): boolean {
  return sameProcess(state.pid, state.initStartTime) && sameProcess(state.runtimePid, state.runtimeStartTime);
}

export function removeState(id: string): void {
  rmSync(stateFile(id), { force: true });
}

export function readState(id: string, runDir = RUN_DIR): ContainerState | undefined {
  if (!ID_PATTERN.test(id)) return undefined; // an id is never a path: no `../x` out of RUN_DIR
  return readJson<ContainerState>(join(runDir, `${id}.json`));
}

/** Every state file's container (in `runDir`: tests give a fixture). */
export function listStates(runDir = RUN_DIR): ContainerState[] {
  return listDir(runDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readState(f.slice(0, -5), runDir))
    .filter((s): s is ContainerState => s !== undefined);
}
