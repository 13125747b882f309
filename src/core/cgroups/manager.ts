/**
 * One cgroup manager interface, two implementations (v1.ts, v2.ts), chosen once
 * by looking at /sys/fs/cgroup (index.ts) — runc's and youki's design:
 *
 *   create()        the container's cgroup (and the workshop's parent, if it is not there)
 *   set(limits)     write the limit files
 *   addProcess(pid) move a process in: it and every child it ever makes are charged here
 *   stats()         the cgroup's own accounting: memory, CPU time, pids, io
 *   freeze()/thaw() stop every process in it at once, and resume them (pause/unpause)
 *   destroy()       kill what is left, remove the directories (the parent too, once
 *                   unused and uncapped: removeParentIfUnused)
 *
 * Every container's cgroup lives under one parent the workshop owns (names.ts:
 * CGROUP_PARENT), so an instructor can cap the whole workshop by writing a limit
 * on the parent: children can never use more than their parent together.
 */
import { join } from 'node:path';
import type { Limits } from './values.js';
import type { CgroupError, CgroupFs } from './fs.js';

export type CgroupVersion = 'v1' | 'v2';

export interface CgroupStats {
  memory?: {
    /** Bytes in use now (page cache included), and the limit. */
    usage: number;
    limit: number | 'max';
    /** Highest usage seen (v1 memory.max_usage_in_bytes; v2 memory.peak, Linux ≥ 5.19). */
    peak?: number;
    /** Times the kernel's OOM killer killed a process in this cgroup. */
    oomKills: number;
  };
  cpu?: {
    /** CPU time used by every process in the cgroup, ever, in µs. */
    usageUsec: number;
    /** CFS bandwidth: periods seen, periods in which the quota ran out, time spent waiting. */
    periods: number;
    throttledPeriods: number;
    throttledUsec: number;
  };
  pids?: {
    current: number;
    limit: number | 'max';
    /** fork()/clone() calls refused because of the limit (pids.events "max"). */
    refused: number;
  };
  io?: { device: string; readBytes: number; writeBytes: number }[];
  frozen: boolean;
}

/**
 * The v2 limit files as [file, value] pairs, in the order to write them. This
 * mapping is what lesson 05 has the learner write (its solution); v1's
 * is in v1.ts, and the lesson's README shows them side by side.
 */
export type V2Files = (limits: Limits) => [file: string, value: string][];

export interface CgroupManager {
  readonly version: CgroupVersion;
  readonly id: string;
  /** The cgroup's directories: v2 one ({ unified }); v1 one per controller hierarchy. */
  readonly dirs: Record<string, string>;
  /** Path of the cgroup as /proc/<pid>/cgroup shows it, e.g. /cellblock/cb-1a2b. */
  readonly path: string;
  exists(): boolean;
  create(): void;
  set(limits: Limits): void;
  addProcess(pid: number): void;
  /** Host pids of the processes in it. */
  procs(): number[];
  stats(): CgroupStats;
  oomKills(): number;
  /** Resolves once every process in it is frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  frozen(): boolean;
  /** Kill whatever is still inside, then remove the cgroup. Nothing if it does not exist. */
  destroy(): Promise<void>;
}

/** A limit value as cgroup files print it: a number, or 'max' for "none". */
export function readLimit(text: string): number | 'max' {
  const t = text.trim();
  // v1 prints "no limit" as a huge number (PAGE_COUNTER_MAX pages, or -1 for cfs quota).
  if (t === 'max' || t === '-1') return 'max';
  const n = Number(t);
  return n >= 2 ** 62 ? 'max' : n;
}

/** "key value" lines (memory.events, cpu.stat, pids.events, memory.oom_control) → a map. */
export function readKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export function readPids(fs: CgroupFs, file: string): number[] {
  if (!fs.exists(file)) return [];
  return fs.read(file).split('\n').filter(Boolean).map(Number);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `done` every few ms until it holds; throw `onTimeout()` after `ms`. */
export async function waitFor(done: () => boolean, ms: number, onTimeout: () => Error): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw onTimeout();
    await sleep(5);
  }
}

/**
 * The workshop's parent goes when its last container does — the way lesson 04's
 * bridge does — so a finished workshop leaves no cgroup behind. Two exceptions
 * keep it: another container is still inside (a sub-cgroup), or an instructor
 * has capped the whole workshop on it (any limit file not at its default).
 * Racing a container that is starting is harmless: rmdir of a cgroup with a
 * child fails (EBUSY), and create() retries when its parent vanished under it.
 */
export function removeParentIfUnused(fs: CgroupFs, parentDirs: string[], capped: (dir: string) => boolean): void {
  const inUse = (dir: string): boolean =>
    fs.list(dir).some((e) => fs.exists(`${dir}/${e}/cgroup.procs`)) || capped(dir);
  if (parentDirs.some((d) => fs.exists(d) && inUse(d))) return;
  for (const d of parentDirs) {
    if (!fs.exists(d)) continue;
    try {
      fs.rmdir(d);
    } catch {
      return; // a container just arrived (EBUSY): the parent is in use again
    }
  }
}

/**
 * Remove one cgroup directory, whatever is still inside: kill its members,
 * then rmdir. The only way a cgroup is removed — by a container's end
 * (destroy) and by `cellblock cleanup` alike:
 *  - cgroup.kill (v2, Linux ≥ 5.14) kills every member in one write, frozen or
 *    not, and races no fork; without it, one SIGKILL per pid, repeated;
 *  - a frozen v1 cgroup is thawed first: its tasks ignore SIGKILL until then;
 *  - rmdir fails with EBUSY until the last member has exited (a killed
 *    process still has to be reaped): try again for a while.
 * `spared` pids are never killed (cleanup's own process and its ancestors):
 * a cgroup that holds one stays busy, and the EBUSY is the answer.
 */
export async function removeCgroupDir(
  fs: CgroupFs,
  dir: string,
  spared: ReadonlySet<number> = new Set(),
): Promise<void> {
  const freezer = join(dir, 'freezer.state');
  if (fs.exists(freezer) && fs.read(freezer).trim() !== 'THAWED') fs.write(freezer, 'THAWED');
  for (let attempt = 0; ; attempt++) {
    const members = readPids(fs, join(dir, 'cgroup.procs'));
    const doomed = members.filter((p) => !spared.has(p));
    if (doomed.length > 0) {
      if (doomed.length === members.length && fs.exists(join(dir, 'cgroup.kill')))
        fs.write(join(dir, 'cgroup.kill'), '1');
      else fs.kill(doomed);
    }
    try {
      return fs.rmdir(dir);
    } catch (err) {
      if ((err as CgroupError).code !== 'EBUSY' || attempt >= 200) throw err;
      await sleep(10);
    }
  }
}

/**
 * The levels of a parent path, deepest first: "cellblock/cb-pod-web" →
 * ["cellblock/cb-pod-web", "cellblock"] (the order they are removed in).
 */
export function levels(parent: string): string[] {
  const parts = parent.split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
}

/** Run `create` again when the parent disappeared between its mkdir and ours (ENOENT). */
export function retryWhileParentVanishes(create: () => void): void {
  for (let attempt = 0; ; attempt++) {
    try {
      return create();
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

/** A limit file that exists and does not hold `unlimited` (v2 "max", v1 -1 or a huge number). */
export function limitSet(fs: CgroupFs, file: string, unlimited: (value: string) => boolean): boolean {
  if (!fs.exists(file)) return false;
  try {
    return !unlimited(fs.read(file).trim());
  } catch {
    return false;
  }
}
