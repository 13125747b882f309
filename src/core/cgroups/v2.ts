/**
 * cgroup v2: one tree, one directory per cgroup, every controller in it.
 *
 * Two rules shape everything here (Documentation/admin-guide/cgroup-v2.rst):
 *  - top-down: a controller exists in a cgroup only if its parent lists it in
 *    cgroup.subtree_control. So the workshop's parent (/sys/fs/cgroup/cellblock)
 *    enables "+cpu +memory +pids +io" for its children, once;
 *  - no internal processes: a cgroup that enables controllers for children may
 *    not hold processes itself (the root is exempt). So the parent never holds
 *    any: containers go in leaves, /sys/fs/cgroup/cellblock/<id>.
 *
 * Which limit goes into which file is the learner's part (lesson 05, V2Files).
 */
import { join } from 'node:path';
import { V2_CONTROLLERS } from './detect.js';
import { CgroupError, type CgroupFs } from './fs.js';
import {
  limitSet,
  levels,
  removeParentIfUnused,
  retryWhileParentVanishes,
  readKeyed,
  readLimit,
  readPids,
  removeCgroupDir,
  waitFor,
  type CgroupManager,
  type CgroupStats,
  type V2Files,
} from './manager.js';
import type { Limits } from './values.js';

const words = (s: string): string[] => s.trim().split(/\s+/).filter(Boolean);

export class V2Cgroup implements CgroupManager {
  readonly version = 'v2';
  readonly dirs: Record<string, string>;
  readonly path: string;
  private readonly dir: string;
  /** The levels above the leaf, deepest first: <root>/cellblock/cb-pod-NAME, <root>/cellblock. */
  private readonly parentDirs: string[];

  constructor(
    readonly id: string,
    parent: string,
    private readonly root: string,
    private readonly fs: CgroupFs,
    private readonly files?: V2Files,
    /** The levels above the leaf are someone else's (openCgroup: an absolute name): destroy() leaves them. */
    private readonly keepParents = false,
  ) {
    this.parentDirs = levels(parent).map((p) => join(root, p));
    this.dir = join(root, parent, id);
    this.dirs = { unified: this.dir };
    this.path = `/${[parent, id].filter(Boolean).join('/')}`;
  }

  private file(name: string): string {
    return join(this.dir, name);
  }

  exists(): boolean {
    return this.fs.exists(this.dir);
  }

  /**
   * The parent, with our controllers enabled for its children — every level of
   * it, top-down: the workshop's parent, and below it a pod's cgroup when the
   * container is a pod's (cellblock/cb-pod-NAME/<id>). A level's controllers
   * are what the level above enables (top-down rule), so a controller missing
   * in a level is first enabled in the one above (the root may always: it has
   * no "internal process" rule; every other level holds no process, only
   * cgroups). One the kernel does not offer at all is left out — setting its
   * limit then fails with a clear ENOENT.
   */
  ensureParent(): void {
    let above = this.root;
    for (const dir of this.parentDirs.toReversed()) {
      this.fs.mkdir(dir);
      const enabled = words(this.fs.read(join(dir, 'cgroup.subtree_control')));
      const wanted = V2_CONTROLLERS.filter((c) => !enabled.includes(c));
      if (wanted.length > 0) {
        const here = words(this.fs.read(join(dir, 'cgroup.controllers')));
        const fromAbove = wanted.filter((c) => !here.includes(c));
        if (fromAbove.length > 0) {
          const offered = words(this.fs.read(join(above, 'cgroup.controllers')));
          const enable = fromAbove.filter((c) => offered.includes(c));
          if (enable.length > 0) {
            this.fs.write(join(above, 'cgroup.subtree_control'), enable.map((c) => `+${c}`).join(' '));
          }
        }
        const available = words(this.fs.read(join(dir, 'cgroup.controllers')));
        const enable = wanted.filter((c) => available.includes(c));
        if (enable.length > 0) {
          this.fs.write(join(dir, 'cgroup.subtree_control'), enable.map((c) => `+${c}`).join(' '));
        }
      }
      above = dir;
    }
  }

  create(): void {
    retryWhileParentVanishes(() => {
      this.ensureParent();
      this.fs.mkdir(this.dir);
    });
  }

  /** An instructor's cap on the workshop's parent: memory.max, pids.max or cpu.max not at "max". */
  private capped(dir: string): boolean {
    const max = (v: string): boolean => v.split(' ')[0] === 'max';
    return ['memory.max', 'memory.swap.max', 'pids.max', 'cpu.max'].some((f) => limitSet(this.fs, join(dir, f), max));
  }

  set(limits: Limits): void {
    if (!this.files) {
      throw new CgroupError('no v2 limit mapping was given to the cgroup manager', 'EINVAL', 'pass { v2Files }');
    }
    for (const [name, value] of this.files(limits)) this.fs.write(this.file(name), value);
  }

  addProcess(pid: number): void {
    // One write moves the whole process (every thread) — cgroup.threads is for single threads.
    this.fs.write(this.file('cgroup.procs'), String(pid));
  }

  procs(): number[] {
    return readPids(this.fs, this.file('cgroup.procs'));
  }

  private has(name: string): boolean {
    return this.fs.exists(this.file(name));
  }

  oomKills(): number {
    if (!this.has('memory.events')) return 0;
    return readKeyed(this.fs.read(this.file('memory.events')))['oom_kill'] ?? 0;
  }

  stats(): CgroupStats {
    const r = (name: string): string => this.fs.read(this.file(name));
    const s: CgroupStats = { frozen: this.frozen() };
    if (this.has('memory.current')) {
      s.memory = {
        usage: Number(r('memory.current')),
        limit: readLimit(r('memory.max')),
        ...(this.has('memory.peak') ? { peak: Number(r('memory.peak')) } : {}),
        oomKills: this.oomKills(),
      };
    }
    // cpu.stat exists even without the cpu controller (usage only); the cpu
    // controller adds the nr_throttled lines.
    if (this.has('cpu.stat')) {
      const stat = readKeyed(r('cpu.stat'));
      s.cpu = {
        usageUsec: stat['usage_usec'] ?? 0,
        periods: stat['nr_periods'] ?? 0,
        throttledPeriods: stat['nr_throttled'] ?? 0,
        throttledUsec: stat['throttled_usec'] ?? 0,
      };
    }
    if (this.has('pids.current')) {
      s.pids = {
        current: Number(r('pids.current')),
        limit: readLimit(r('pids.max')),
        refused: readKeyed(r('pids.events'))['max'] ?? 0,
      };
    }
    if (this.has('io.stat')) {
      // "7:0 rbytes=0 wbytes=2097152 rios=0 wios=8 dbytes=0 dios=0"
      s.io = r('io.stat')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [device, ...kv] = words(line);
          const f = Object.fromEntries(kv.map((p) => p.split('=') as [string, string]));
          return { device: device!, readBytes: Number(f['rbytes'] ?? 0), writeBytes: Number(f['wbytes'] ?? 0) };
        });
    }
    return s;
  }

  frozen(): boolean {
    return this.has('cgroup.events') && readKeyed(this.fs.read(this.file('cgroup.events')))['frozen'] === 1;
  }

  async freeze(): Promise<void> {
    this.fs.write(this.file('cgroup.freeze'), '1');
    // cgroup.events says "frozen 1" once every task has stopped.
    await waitFor(
      () => this.frozen(),
      5000,
      () => new CgroupError(`${this.dir} did not report "frozen 1" within 5 s`, 'ETIMEDOUT'),
    );
  }

  async thaw(): Promise<void> {
    this.fs.write(this.file('cgroup.freeze'), '0');
    await waitFor(
      () => !this.frozen(),
      5000,
      () => new CgroupError(`${this.dir} did not thaw within 5 s`, 'ETIMEDOUT'),
    );
  }

  async destroy(): Promise<void> {
    // The parent is looked at even when the leaf is gone already (lesson 05's
    // own code removed it): the last container out takes the parent along.
    if (this.exists()) await removeCgroupDir(this.fs, this.dir);
    if (this.keepParents) return;
    // A pod's cgroup first, then the workshop's: each goes once nothing is below it.
    for (const d of this.parentDirs) {
      removeParentIfUnused(this.fs, [d], (x) => this.capped(x));
      if (this.fs.exists(d)) return;
    }
  }
}
