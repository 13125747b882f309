/**
 * Trials: start a real container with a set of lessons, look at it from the
 * host while it runs, end it, and record everything a check might assert —
 * exit status, output, namespaces, and whatever it left behind.
 */
import { wrapSpawnChild } from './loader.js';
import { existsSync } from 'node:fs';
import type { ContainerConfig } from '../core/config.js';
import { DEFAULT_ENV, newContainerId } from '../core/config.js';
import type { LoadedLesson, RunningContainer } from '../core/host/run.js';
import { startContainer } from '../core/host/run.js';
import { defaultRootfs } from '../core/paths.js';
import { BRIDGE, containerDir, hostVethName, VETH_PREFIX } from '../core/names.js';
import { listStates } from '../core/host/state.js';
import { liveLeases } from '../core/net/ipam.js';
import { hostState, isAlive, namespacesOf, nsLink, pidsInNamespace, type NsType } from './probe.js';

export interface TrialOptions {
  /** Fields of the config; argv is required, the rest have defaults. */
  config: Partial<ContainerConfig> & { argv: string[] };
  /**
   * Runs after the exec, while the command is alive. The command should block
   * on stdin (`read x`): the trial closes stdin afterwards to let it end.
   */
  whileRunning?: (c: RunningContainer) => Promise<void> | void;
  /** Kill the container if it has not exited by then. */
  timeoutMs?: number;
  /**
   * Change the lessons for this one trial — e.g. take a flag away to see that
   * a lesson's own safety check catches it.
   */
  lessons?: (lessons: LoadedLesson[]) => LoadedLesson[];
}

export interface TrialResult {
  config: ContainerConfig;
  /** The exit status, when the container started. */
  status?: number;
  /** Why it did not start (validation, an init step, exec). */
  error?: Error;
  stdout: string;
  stderr: string;
  pid?: number;
  /** The container's namespaces, read right after the exec. */
  namespaces: Partial<Record<NsType, string>>;
  /** How many times the init process was spawned (0 when rejected before anything was created). */
  spawned: number;
  /** Whether the trial had to kill the container after timeoutMs. */
  timedOut: boolean;
  /** What the run told the user after the end (HostContext.notes: "OOM-killed: …"). */
  notes: string[];
  /** Everything the run left behind: host state that is new, processes still in its namespaces. */
  leaks: string[];
}

/** The same lessons, with the spawn counted: proof that bad input created nothing. */
function counting(lessons: LoadedLesson[], counter: { n: number }): LoadedLesson[] {
  return wrapSpawnChild(lessons, (spawnChild) => (file, args, options) => {
    counter.n++;
    return spawnChild(file, args, options);
  });
}

/**
 * Containers whose trial is under way in this process: the network checks run
 * several at once (two containers that ping each other, ten at once).
 */
const underWay = new Set<string>();

export async function trial(lessons: LoadedLesson[], opts: TrialOptions): Promise<TrialResult> {
  const config: ContainerConfig = {
    id: newContainerId(),
    rootfs: defaultRootfs(),
    env: DEFAULT_ENV,
    cwd: '/',
    tty: false,
    ...opts.config,
  };
  const before = new Set(hostState());
  const hostNs = namespacesOf('self');
  const counter = { n: 0 };
  const result: TrialResult = {
    config,
    stdout: '',
    stderr: '',
    namespaces: {},
    spawned: 0,
    timedOut: false,
    leaks: [],
    notes: [],
  };

  let container: RunningContainer | undefined;
  underWay.add(config.id);
  try {
    const used = opts.lessons ? opts.lessons(lessons) : lessons;
    container = await startContainer(config, { lessons: counting(used, counter), stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    result.error = err as Error;
  }
  result.spawned = counter.n;

  if (container) {
    const c = container;
    result.pid = c.pid;
    result.namespaces = namespacesOf(c.pid);
    c.stdout?.on('data', (d: Buffer) => (result.stdout += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (result.stderr += d.toString()));
    c.stdin?.on('error', () => undefined); // EPIPE when the command did not read
    const timer = setTimeout(() => {
      result.timedOut = true;
      c.kill('SIGKILL');
    }, opts.timeoutMs ?? 10_000);
    try {
      await opts.whileRunning?.(c);
    } finally {
      c.stdin?.end();
      try {
        result.status = await c.wait();
        result.notes = c.notes;
        if (c.cleanupError) result.error = c.cleanupError as Error;
      } catch (err) {
        result.error = err as Error;
      }
      clearTimeout(timer);
      // stdout/stderr may still hold bytes after 'exit': wait for their end.
      await Promise.all([c.stdout, c.stderr].map((s) => s && !s.readableEnded && onceEnd(s)));
      underWay.delete(config.id); // also when whileRunning threw
    }
  }

  underWay.delete(config.id);
  result.leaks = await leaksAfter(before, hostNs, result);
  return result;
}

function onceEnd(s: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    s.once('end', resolve);
    s.once('close', resolve);
    setTimeout(resolve, 1000);
  });
}

/**
 * Does this new line of host state belong to another container that is still
 * running (a trial of this process, or any run whose runtime is alive: its
 * state file, or its address lease — which outlives the state file during its
 * cleanup)? Then it is not this run's leak — that container's own trial judges
 * it. Kernel objects carry their container's id (a lease, a NAT rule's
 * comment, a cgroup) or a name made from it (the veth); the bridge and the NAT
 * chain are shared by every container on the bridge, and are left to the last.
 */
function anotherContainers(line: string, self: string): boolean {
  const others = new Set([
    ...underWay,
    ...listStates().flatMap((s) => (isAlive(s.runtimePid) ? [s.id] : [])),
    ...liveLeases().map((l) => l.id),
  ]);
  others.delete(self);
  if (others.size === 0) return false;
  if (line.startsWith(`link ${VETH_PREFIX}`)) return line !== `link ${hostVethName(self)}`;
  if (line === `link ${BRIDGE}` || (line.startsWith('nat rule') && !line.includes('cellblock:'))) return true;
  const names = (id: string): RegExp => new RegExp(`(^|[^a-z0-9_.-])${id.replace(/\./g, '\\.')}($|[^a-z0-9_.-])`);
  return [...others].some((id) => names(id).test(line));
}

/**
 * How long a process of the run may take to end on its own before it counts
 * as left behind: an orphan of the command (`(sleep 0.1 &)`) outlives it by a
 * moment, more on a busy machine — outside a PID namespace nothing ends it
 * with the container. A process still there after this is a leftover.
 */
const PROCESS_GRACE_MS = 1000;

async function leaksAfter(
  before: Set<string>,
  hostNs: Partial<Record<NsType, string>>,
  r: TrialResult,
): Promise<string[]> {
  const deadline = Date.now() + PROCESS_GRACE_MS;
  let processes = processLeaks(hostNs, r);
  while (processes.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    processes = processLeaks(hostNs, r);
  }
  const leaks = hostState()
    .filter((l) => !before.has(l) && !anotherContainers(l, r.config.id))
    .map((l) => `${l} (new on the host after the run)`);
  leaks.push(...processes);
  // Its own directory only (lesson 06's upper/work/merged): other runs may be using theirs right now.
  if (existsSync(containerDir(r.config.id)))
    leaks.push(`directory ${containerDir(r.config.id)} (new on the host after the run)`);
  return leaks;
}

function processLeaks(hostNs: Partial<Record<NsType, string>>, r: TrialResult): string[] {
  const leaks: string[] = [];
  if (r.pid !== undefined && isAlive(r.pid)) leaks.push(`process ${r.pid} (the container's first process) still runs`);
  // The kernel reuses a freed namespace's inode number at once, so a process of
  // another container started since may show the same one for some type: a
  // leftover of this container is in *all* of its namespaces.
  const own = (Object.entries(r.namespaces) as [NsType, string][]).filter(([type, link]) => link !== hostNs[type]);
  const ours = (pid: number): boolean => own.every(([type, link]) => nsLink(pid, type) === link);
  for (const [type, link] of own) {
    for (const pid of pidsInNamespace(type, link).filter(ours))
      leaks.push(`process ${pid} still in the container's ${link}`);
  }
  return leaks;
}
