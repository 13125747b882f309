/**
 * cgroup v1: one hierarchy per controller, each mounted on its own directory.
 * A container's cgroup is therefore *several* directories with the same
 * relative path — /sys/fs/cgroup/memory/cellblock/<id>, …/cpu/cellblock/<id>,
 * …/pids/cellblock/<id> — and the process must be written into each.
 *
 *   limit          v1 file (in its controller's directory)       v2 file
 *   memory         memory.limit_in_bytes        52428800          memory.max
 *   memory+swap    memory.memsw.limit_in_bytes  (the total)       memory.swap.max (swap alone)
 *   cpus 0.5       cpu.cfs_period_us 100000 + cpu.cfs_quota_us 50000   cpu.max "50000 100000"
 *   pids           pids.max                                        pids.max
 *   io             blkio.throttle.write_bps_device "7:0 1048576"   io.max "7:0 wbps=1048576"
 *   freeze         freezer.state FROZEN / THAWED                   cgroup.freeze 1 / 0
 *   OOM kills      memory.oom_control "oom_kill N"                 memory.events "oom_kill N"
 *   CPU used       cpuacct.usage (ns; another hierarchy here!)     cpu.stat usage_usec
 */
import { join } from 'node:path';
import type { V1Controller } from './detect.js';
import { CgroupError, type CgroupFs } from './fs.js';
import {
  limitSet,
  readKeyed,
  readLimit,
  readPids,
  levels,
  removeCgroupDir,
  removeParentIfUnused,
  retryWhileParentVanishes,
  waitFor,
  type CgroupManager,
  type CgroupStats,
} from './manager.js';
import type { Limits } from './values.js';

export class V1Cgroup implements CgroupManager {
  readonly version = 'v1';
  readonly dirs: Record<string, string>;
  readonly path: string;

  constructor(
    readonly id: string,
    private readonly parent: string,
    private readonly mounts: Partial<Record<V1Controller, string>>,
    private readonly fs: CgroupFs,
    /** The levels above the leaf are someone else's (openCgroup: an absolute name): destroy() leaves them. */
    private readonly keepParents = false,
  ) {
    this.path = `/${[parent, id].filter(Boolean).join('/')}`;
    this.dirs = Object.fromEntries(Object.entries(mounts).map(([c, m]) => [c, join(m, parent, id)]));
  }

  /** Directories without duplicates: co-mounted controllers ("cpu,cpuacct") share one. */
  private uniqueDirs(): string[] {
    return [...new Set(Object.values(this.dirs))];
  }

  private dir(controller: V1Controller): string {
    const d = this.dirs[controller];
    if (!d) {
      throw new CgroupError(
        `the ${controller} controller is not mounted (no cgroup hierarchy for it in /proc/self/mountinfo)`,
        'ENOENT',
        'this kernel or its boot options leave it out: `cellblock doctor` lists what is usable',
      );
    }
    return d;
  }

  private file(controller: V1Controller, name: string): string {
    return join(this.dir(controller), name);
  }

  exists(): boolean {
    return this.uniqueDirs().some((d) => this.fs.exists(d));
  }

  create(): void {
    retryWhileParentVanishes(() => {
      for (const [c, mount] of Object.entries(this.mounts)) {
        // Every level, top-down: the workshop's parent, then a pod's cgroup below it (cellblock/cb-pod-NAME).
        for (const level of levels(this.parent).toReversed()) this.fs.mkdir(join(mount, level));
        this.fs.mkdir(this.dirs[c]!);
      }
    });
  }

  /** An instructor's cap on the workshop's parent, in any hierarchy (v1 says -1 or a huge number for "none"). */
  private capped(dir: string): boolean {
    const noMemoryLimit = (v: string): boolean => Number(v) >= 2 ** 62;
    return (
      limitSet(this.fs, join(dir, 'memory.limit_in_bytes'), noMemoryLimit) ||
      limitSet(this.fs, join(dir, 'pids.max'), (v) => v === 'max') ||
      limitSet(this.fs, join(dir, 'cpu.cfs_quota_us'), (v) => v === '-1')
    );
  }

  set(l: Limits): void {
    const w = (c: V1Controller, name: string, value: string | number): void =>
      this.fs.write(this.file(c, name), String(value));
    if (l.memory !== undefined) w('memory', 'memory.limit_in_bytes', l.memory);
    if (l.memorySwap !== undefined) {
      // memsw is memory + swap, and must never be below memory.limit_in_bytes:
      // written after it (a fresh cgroup starts unlimited on both).
      if (!this.fs.exists(this.file('memory', 'memory.memsw.limit_in_bytes'))) {
        throw new CgroupError(
          'this kernel does not account swap (no memory.memsw.limit_in_bytes)',
          'ENOENT',
          'boot with swapaccount=1, or leave --memory-swap out',
        );
      }
      w('memory', 'memory.memsw.limit_in_bytes', l.memorySwap === 'max' ? -1 : l.memorySwap);
    }
    if (l.cpu) {
      w('cpu', 'cpu.cfs_period_us', l.cpu.period);
      w('cpu', 'cpu.cfs_quota_us', l.cpu.quota);
    }
    if (l.pids !== undefined) w('pids', 'pids.max', l.pids);
    // One device per write, "major:minor bytes_per_second".
    for (const io of l.io ?? []) {
      if (io.readBps !== undefined)
        w('blkio', 'blkio.throttle.read_bps_device', `${io.major}:${io.minor} ${io.readBps}`);
      if (io.writeBps !== undefined) {
        w('blkio', 'blkio.throttle.write_bps_device', `${io.major}:${io.minor} ${io.writeBps}`);
      }
    }
  }

  addProcess(pid: number): void {
    // Every hierarchy separately: a process can sit in different places in each.
    for (const d of this.uniqueDirs()) this.fs.write(join(d, 'cgroup.procs'), String(pid));
  }

  procs(): number[] {
    return [...new Set(this.uniqueDirs().flatMap((d) => readPids(this.fs, join(d, 'cgroup.procs'))))];
  }

  private has(c: V1Controller): boolean {
    return this.dirs[c] !== undefined && this.fs.exists(this.dirs[c]);
  }

  oomKills(): number {
    if (!this.has('memory')) return 0;
    // oom_kill is in memory.oom_control since Linux 4.13.
    return readKeyed(this.fs.read(this.file('memory', 'memory.oom_control')))['oom_kill'] ?? 0;
  }

  stats(): CgroupStats {
    const r = (c: V1Controller, name: string): string => this.fs.read(this.file(c, name));
    const s: CgroupStats = { frozen: this.frozen() };
    if (this.has('memory')) {
      s.memory = {
        usage: Number(r('memory', 'memory.usage_in_bytes')),
        limit: readLimit(r('memory', 'memory.limit_in_bytes')),
        peak: Number(r('memory', 'memory.max_usage_in_bytes')),
        oomKills: this.oomKills(),
      };
    }
    if (this.has('cpuacct') || this.has('cpu')) {
      const stat = this.has('cpu') ? readKeyed(r('cpu', 'cpu.stat')) : {};
      s.cpu = {
        // nanoseconds in v1; µs here, as v2 counts.
        usageUsec: this.has('cpuacct') ? Math.floor(Number(r('cpuacct', 'cpuacct.usage')) / 1000) : 0,
        periods: stat['nr_periods'] ?? 0,
        throttledPeriods: stat['nr_throttled'] ?? 0,
        throttledUsec: Math.floor((stat['throttled_time'] ?? 0) / 1000),
      };
    }
    if (this.has('pids')) {
      s.pids = {
        current: Number(r('pids', 'pids.current')),
        limit: readLimit(r('pids', 'pids.max')),
        refused: readKeyed(r('pids', 'pids.events'))['max'] ?? 0,
      };
    }
    if (this.has('blkio')) {
      // "7:0 Read 0", "7:0 Write 2097152", …, "Total N"
      const io = new Map<string, { device: string; readBytes: number; writeBytes: number }>();
      for (const line of r('blkio', 'blkio.throttle.io_service_bytes').split('\n')) {
        const [device, op, n] = line.trim().split(/\s+/);
        if (!device || !n || !/^\d+:\d+$/.test(device)) continue;
        const e = io.get(device) ?? { device, readBytes: 0, writeBytes: 0 };
        if (op === 'Read') e.readBytes = Number(n);
        if (op === 'Write') e.writeBytes = Number(n);
        io.set(device, e);
      }
      s.io = [...io.values()];
    }
    return s;
  }

  frozen(): boolean {
    return this.has('freezer') && this.fs.read(this.file('freezer', 'freezer.state')).trim() === 'FROZEN';
  }

  async freeze(): Promise<void> {
    this.fs.write(this.file('freezer', 'freezer.state'), 'FROZEN');
    // FREEZING until every task has stopped in the kernel's refrigerator.
    await waitFor(
      () => this.frozen(),
      5000,
      () => new CgroupError(`${this.dirs['freezer']} did not reach FROZEN within 5 s`, 'ETIMEDOUT'),
    );
  }

  async thaw(): Promise<void> {
    this.fs.write(this.file('freezer', 'freezer.state'), 'THAWED');
    await waitFor(
      () => !this.frozen(),
      5000,
      () => new CgroupError(`${this.dirs['freezer']} did not thaw within 5 s`, 'ETIMEDOUT'),
    );
  }

  async destroy(): Promise<void> {
    // v1 frozen tasks do not die, even from SIGKILL, until thawed — in every
    // hierarchy at once, or the first rmdir would wait for them in vain.
    if (this.exists() && this.has('freezer') && this.frozen()) await this.thaw();
    for (const d of this.uniqueDirs()) if (this.fs.exists(d)) await removeCgroupDir(this.fs, d);
    if (this.keepParents) return;
    // A pod's cgroup first, then the workshop's: each goes once nothing is below it, in any hierarchy.
    for (const level of levels(this.parent)) {
      const parents = [...new Set(Object.values(this.mounts).map((m) => join(m, level)))];
      removeParentIfUnused(this.fs, parents, (d) => this.capped(d));
      if (parents.some((d) => this.fs.exists(d))) return;
    }
  }
}
