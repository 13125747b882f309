/**
 * A cgroupfs made of ordinary files in a temp directory, for testing the
 * managers without root (youki's fixture-directory idea). It behaves like the
 * kernel where the managers depend on it: mkdir fills a cgroup with the
 * interface files of its controllers, a write to a file that does not exist
 * fails with ENOENT, "+memory" in cgroup.subtree_control adds a controller for
 * children, freezing reports frozen, rmdir removes a cgroup with its files.
 * Every write is recorded, in order.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { cgroupError, type CgroupFs } from '../../src/core/cgroups/fs.js';

export interface Write {
  /** Relative to the fixture root. */
  path: string;
  value: string;
}

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712',
    'memory.memsw.limit_in_bytes': '9223372036854771712',
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  },
  cpu: {
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
  },
  cpuacct: { 'cpuacct.usage': '0' },
  pids: { 'pids.max': 'max', 'pids.current': '0', 'pids.events': 'max 0\n' },
  blkio: {
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.io_service_bytes': 'Total 0\n',
  },
  freezer: { 'freezer.state': 'THAWED\n' },
};

const V2_FILES: Record<string, Record<string, string>> = {
  '': {
    'cgroup.procs': '',
    'cgroup.subtree_control': '',
    'cgroup.events': 'populated 0\nfrozen 0\n',
    'cgroup.freeze': '0',
    'cgroup.kill': '',
    'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  },
  memory: {
    'memory.current': '0',
    'memory.max': 'max',
    'memory.peak': '0',
    'memory.swap.max': 'max',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  },
  cpu: { 'cpu.max': 'max 100000' },
  pids: { 'pids.max': 'max', 'pids.current': '0', 'pids.events': 'max 0\n' },
  io: { 'io.max': '', 'io.stat': '' },
};

export class FakeCgroupFs implements CgroupFs {
  readonly root: string;
  readonly writes: Write[] = [];
  readonly killed: number[] = [];

  private constructor(readonly version: 'v1' | 'v2') {
    this.root = mkdtempSync(join(tmpdir(), 'cellblock-cgfixture-'));
  }

  /** v1: one directory per controller, like /sys/fs/cgroup/<controller>. */
  static v1(controllers = Object.keys(V1_FILES)): FakeCgroupFs {
    const fs = new FakeCgroupFs('v1');
    for (const c of controllers) {
      mkdirSync(join(fs.root, c));
      fs.populate(join(fs.root, c));
    }
    return fs;
  }

  /** v2: one tree whose root offers `offered` and enables `enabled` for its children. */
  static v2(offered = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'], enabled: string[] = []): FakeCgroupFs {
    const fs = new FakeCgroupFs('v2');
    writeFileSync(join(fs.root, 'cgroup.controllers'), `${offered.join(' ')}\n`);
    writeFileSync(join(fs.root, 'cgroup.subtree_control'), `${enabled.join(' ')}\n`);
    writeFileSync(join(fs.root, 'cgroup.procs'), '1\n');
    writeFileSync(join(fs.root, 'cpu.stat'), 'usage_usec 0\n');
    return fs;
  }

  mounts(): Record<string, string> {
    return Object.fromEntries(readdirSync(this.root).map((c) => [c, join(this.root, c)]));
  }

  /** Pretend the kernel changed a file (a process's usage, an OOM kill). */
  set(path: string, value: string): void {
    writeFileSync(join(this.root, path), value);
  }

  get(path: string): string {
    return readFileSync(join(this.root, path), 'utf8');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  private populate(dir: string): void {
    if (this.version === 'v1') {
      const controller = relative(this.root, dir).split('/')[0]!;
      writeFileSync(join(dir, 'cgroup.procs'), '');
      for (const [f, v] of Object.entries(V1_FILES[controller] ?? {})) writeFileSync(join(dir, f), v);
      return;
    }
    const parentEnabled = readFileSync(join(dirname(dir), 'cgroup.subtree_control'), 'utf8')
      .trim()
      .split(/\s+/);
    writeFileSync(join(dir, 'cgroup.controllers'), parentEnabled.join(' '));
    for (const c of ['', ...parentEnabled]) {
      for (const [f, v] of Object.entries(V2_FILES[c] ?? {})) writeFileSync(join(dir, f), v);
    }
  }

  read(path: string): string {
    // A child's controllers are whatever its parent enables for it, at any moment.
    if (this.version === 'v2' && basename(path) === 'cgroup.controllers' && dirname(path) !== this.root) {
      path = join(dirname(dirname(path)), 'cgroup.subtree_control');
    }
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw cgroupError('read', path, err);
    }
  }

  write(path: string, value: string): void {
    if (!existsSync(path)) throw cgroupError('write', path, Object.assign(new Error(), { code: 'ENOENT' }), value);
    this.writes.push({ path: relative(this.root, path), value });
    const name = basename(path);
    if (name === 'cgroup.subtree_control') {
      const now = new Set(readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean));
      for (const w of value.split(/\s+/)) {
        if (w.startsWith('+')) now.add(w.slice(1));
        if (w.startsWith('-')) now.delete(w.slice(1));
      }
      writeFileSync(path, [...now].join(' '));
      // The children get the interface files of what was just enabled.
      for (const e of readdirSync(dirname(path), { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        for (const c of now) {
          for (const [f, v] of Object.entries(V2_FILES[c] ?? {})) {
            const file = join(dirname(path), e.name, f);
            if (!existsSync(file)) writeFileSync(file, v);
          }
        }
      }
    } else if (name === 'cgroup.freeze') {
      writeFileSync(path, value);
      writeFileSync(join(dirname(path), 'cgroup.events'), `populated 0\nfrozen ${value.trim()}\n`);
    } else if (name === 'cgroup.procs') {
      writeFileSync(path, `${value}\n`, { flag: 'a' });
    } else if (name === 'cgroup.kill') {
      writeFileSync(join(dirname(path), 'cgroup.procs'), '');
    } else {
      writeFileSync(path, value);
    }
  }

  mkdir(path: string): void {
    if (existsSync(path)) return;
    try {
      mkdirSync(path);
    } catch (err) {
      throw cgroupError('mkdir', path, err);
    }
    this.populate(path);
  }

  rmdir(path: string): void {
    const subdirs = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory());
    const procs = existsSync(join(path, 'cgroup.procs')) ? readFileSync(join(path, 'cgroup.procs'), 'utf8').trim() : '';
    if (subdirs.length > 0 || procs !== '') {
      throw cgroupError('rmdir', path, Object.assign(new Error(), { code: 'EBUSY' }));
    }
    rmSync(path, { recursive: true });
  }

  /** The processes "die": they leave every cgroup.procs of the fixture. */
  kill(pids: number[]): void {
    this.killed.push(...pids);
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name === 'cgroup.procs') {
          const left = readFileSync(p, 'utf8')
            .split('\n')
            .filter((l) => l && !pids.includes(Number(l)));
          writeFileSync(p, left.map((l) => `${l}\n`).join(''));
        }
      }
    };
    walk(this.root);
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  list(path: string): string[] {
    return readdirSync(path);
  }
}
