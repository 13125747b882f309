/**
 * Trials: start a real container with a set of lessons, look at it from the
 * host while it runs, end it, and record everything a check might assert —
 * exit status, output, namespaces, and whatever it left behind.
 */
import { wrapSpawnChild } from './loader.js';
import type { ContainerConfig } from '../core/config.js';
import { DEFAULT_ENV, newContainerId } from '../core/config.js';
import type { RunningContainer } from '../core/host/run.js';
import { describeUndoFailure, type LoadedLesson } from '../core/lesson.js';
import { startContainer, undoFailuresOf } from '../core/host/run.js';
import { readProc } from '../core/host/proc.js';
import { defaultRootfs } from '../core/paths.js';
import type { InventoryItem } from '../core/inventory.js';
import {
  hostItems,
  hostState,
  isAlive,
  itemLine,
  namespacesOf,
  nsLink,
  pidsInNamespace,
  type NsType,
} from './probe.js';

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
  /** The undo steps that threw (HostContext.undo), one line each: "04-net: undo step "…" threw: …". */
  undoFailures: string[];
  /** What the runtime removed after such a step (it would have been a leak). */
  leftoversRemoved: string[];
  /** When the run (cleanup included) was over, ms since the epoch. */
  endedMs?: number;
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
    undoFailures: [],
    leftoversRemoved: [],
  };

  let container: RunningContainer | undefined;
  underWay.add(config.id);
  try {
    const used = opts.lessons ? opts.lessons(lessons) : lessons;
    container = await startContainer(config, { lessons: counting(used, counter), stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    result.error = err as Error;
    const undone = undoFailuresOf(err);
    result.undoFailures = undone.failures.map(describeUndoFailure);
    result.leftoversRemoved = undone.removed;
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
        result.endedMs = Date.now();
        result.notes = c.notes;
        // Reported once, by the final "nothing is left behind" check, not as a failed start.
        result.undoFailures = c.undoFailures.map(describeUndoFailure);
        result.leftoversRemoved = [...c.leftoversRemoved];
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
 * Does this new item belong to another container — one named by the item, or,
 * for what every container on the bridge shares (the bridge, the NAT chain,
 * the cgroup parent), any other that still runs (a trial of this process, or a
 * run whose runtime is alive: its state file, or its address lease, which
 * outlives the state file during its cleanup)? Then it is not this run's leak:
 * that container's own run answers for it, and shared things for the last one.
 */
export function anotherContainers(item: InventoryItem, self: string, running: ReadonlyMap<string, string>): boolean {
  const others = new Set([...underWay, ...running.keys()]);
  others.delete(self);
  // Another container's item is never this run's leak, running or not: a
  // `run --keep` or a killed run in another terminal leaves its own behind.
  if (item.containerId !== undefined) return item.containerId !== self;
  return others.size > 0 && item.shared === true;
}

/**
 * How long a process of the run may take to end on its own before it counts
 * as left behind: an orphan of the command (`(sleep 0.1 &)`) outlives it by a
 * moment, more on a busy machine — outside a PID namespace nothing ends it
 * with the container. A process still there after this is a leftover.
 */
const PROCESS_GRACE_MS = 1000;

/** Start times are read in clock ticks since boot: this much rounding either way. */
const START_SLACK_MS = 100;

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
  const { items, running } = hostItems([r.config.id, ...underWay]);
  const leaks = items
    // What stays between containers by design (the bridge) is no run's leak; everything else new is.
    .filter((i) => !i.stays && !before.has(itemLine(i)) && !anotherContainers(i, r.config.id, running))
    .map((i) => `${itemLine(i)} (new on the host after the run)`);
  leaks.push(...processes);
  return leaks;
}

function processLeaks(hostNs: Partial<Record<NsType, string>>, r: TrialResult): string[] {
  const leaks: string[] = [];
  if (r.pid !== undefined && isAlive(r.pid)) leaks.push(`process ${r.pid} (the container's first process) still runs`);
  // The kernel reuses a freed namespace's inode number at once, so a process of
  // another container started since may show the same one for some type: a
  // leftover of this container is in *all* of its namespaces.
  // A namespace joined from another container (a pod's, --pid container:NAME)
  // is that container's: its processes are not this run's leftovers. Left out
  // by kind, not by comparing links — the links are read as the init starts,
  // and under load it may not have made its own (mnt, cgroup) yet, so a member
  // of a --share-pid pod could otherwise look as if only the pod's PID
  // namespace were its own.
  const joined = new Set(r.config.joined ?? []);
  const own = (Object.entries(r.namespaces) as [NsType, string][]).filter(
    ([type, link]) => link !== hostNs[type] && !joined.has(type),
  );
  // …and it started before the container ended: a process started since is
  // another container's that got the same (freed, reused) inode numbers.
  const startedBefore = (pid: number): boolean =>
    r.endedMs === undefined || (readProc(pid)?.startedMs ?? 0) <= r.endedMs + START_SLACK_MS;
  const ours = (pid: number): boolean => own.every(([type, link]) => nsLink(pid, type) === link) && startedBefore(pid);
  for (const [type, link] of own) {
    for (const pid of pidsInNamespace(type, link).filter(ours))
      leaks.push(`process ${pid} still in the container's ${link}`);
  }
  return leaks;
}
