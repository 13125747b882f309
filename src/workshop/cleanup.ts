/**
 * `cellblock cleanup`: find everything the workshop ever left in the kernel or
 * on disk, and remove it — nothing else.
 *
 * What counts as ours is decided by the names in core/names.ts and by the state
 * files in RUN_DIR, never by guessing:
 *
 *   processes   the pid of a state file whose runtime is gone (and whose start
 *               time matches, so a recycled pid is never hit); an init of this
 *               checkout whose runtime is gone; members of a cellblock cgroup or
 *               of a cellblock-* netns; and their descendants
 *   mounts      mount points below .cellblock/, CONTAINERS_DIR, RUN_DIR, a dead
 *               container's rootfs, or a <tmpdir>/cellblock-* directory
 *   netns       /run/netns/cellblock-*
 *   leases      NET_DIR/leases/<address> whose runtime is gone (lesson 04)
 *   nat         DNAT rules commented cellblock:<id> of gone containers; the
 *               CELLBLOCK chain and its jumps once no container holds a lease
 *   links       veths named cbv*, the bridge cellblock0
 *   cgroups     <every hierarchy>/cellblock/** (v1: one per controller; v2: one tree)
 *   dirs        CONTAINERS_DIR/<id> (overlay upper/work/merged)
 *   state       RUN_DIR/<id>.json of containers that are gone
 *
 * A container whose runtime process is still alive is *live*: its cgroup, veth,
 * netns, directory and rootfs mounts are kept (and reported as kept), so cleanup
 * is safe to run while another terminal has `cellblock run` open.
 *
 * Finding (plan) and removing (execute) are separate, and every kernel-touching
 * operation goes through `CleanupOps`, so the path logic is unit-tested against a
 * temp directory with a recording implementation (as youki tests its cgroups).
 */
import { parseMountinfo } from '../core/mountinfo.js';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listStates, type ContainerState } from '../core/host/state.js';
import {
  BRIDGE,
  CGROUP_PARENT,
  CONTAINERS_DIR,
  hostVethName,
  NAT_CHAIN,
  natComment,
  NETNS_PREFIX,
  RUN_DIR,
  TMP_PREFIX,
  VETH_PREFIX,
} from '../core/names.js';
import { isStale, LEASES_DIR, readLeases, withNetworkLock, type Lease } from '../core/net/ipam.js';
import { natChainExists, natRules, removeNatChain, removeNatRulesOf } from '../core/net/publish.js';
import { STATE_DIR } from '../core/paths.js';

export type ItemKind = 'process' | 'mount' | 'netns' | 'lease' | 'nat' | 'veth' | 'bridge' | 'cgroup' | 'dir' | 'state';
export type Action = 'removed' | 'gone' | 'kept' | 'failed' | 'would remove';

export interface CleanupItem {
  kind: ItemKind;
  /** What it is: a pid and command, a path, an interface name. */
  name: string;
  /** Why it counts as the workshop's (or why it is kept). */
  why: string;
  keep?: boolean;
}

export interface CleanupResult extends CleanupItem {
  action: Action;
  error?: string;
}

/** Where to look. The defaults are the real machine; tests point them at temp dirs. */
export interface CleanupScope {
  proc: string;
  mountinfo: string;
  netnsDir: string;
  runDir: string;
  containersDir: string;
  stateDir: string;
  tmpDir: string;
  /** The container init script of this checkout (dist/src/core/init/main.js). */
  initScript: string;
  /** Hierarchy roots; default: every cgroup/cgroup2 mount in mountinfo. */
  cgroupRoots?: string[];
  /** Network links; default: `ip -j -d link show`. */
  links?: () => LinkInfo[];
  /** Container state files; default: RUN_DIR. */
  states?: () => ContainerState[];
  /** The network lesson's address leases (core/net/ipam.ts); default: NET_DIR/leases. */
  leases?: () => Lease[];
  /** The rules of the NAT chain as `iptables -S` arguments, and whether the chain exists; default: iptables. */
  nat?: () => { chain: boolean; rules: string[][] };
}

export interface LinkInfo {
  name: string;
  kind: string;
}

export function defaultScope(): CleanupScope {
  return {
    proc: '/proc',
    mountinfo: '/proc/self/mountinfo',
    netnsDir: '/run/netns',
    runDir: RUN_DIR,
    containersDir: CONTAINERS_DIR,
    stateDir: STATE_DIR,
    tmpDir: tmpdir(),
    initScript: fileURLToPath(new URL('../core/init/main.js', import.meta.url)),
  };
}

// ─── reading the machine ──────────────────────────────────────────────────────

interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time, in ms since the epoch. */
  startedMs: number;
  cmdline: string[];
}

let bootMs: number | undefined;
function bootTimeMs(proc: string): number {
  if (bootMs === undefined) {
    const btime = /^btime (\d+)$/m.exec(readFileSync(`${proc}/stat`, 'utf8'));
    bootMs = btime ? Number(btime[1]) * 1000 : 0;
  }
  return bootMs;
}

// USER_HZ is 100 on every Linux architecture Node runs on (it is the ABI value, not CONFIG_HZ).
const CLK_TCK = 100;

export function readProc(proc: string, pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined; // a zombie is already dead
    const cmdline = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return {
      pid,
      ppid: Number(rest[1]),
      startedMs: bootTimeMs(proc) + (Number(rest[19]) / CLK_TCK) * 1000,
      cmdline,
    };
  } catch {
    return undefined;
  }
}

function processes(proc: string): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const name of safeList(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(proc, Number(name));
    if (p) out.set(p.pid, p);
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Mount points, in mountinfo order (a path mounted over twice appears twice). */
export function mountPointsFrom(mountinfo: string): { path: string; fstype: string }[] {
  return parseMountinfo(mountinfo).map((m) => ({ path: m.mountPoint, fstype: m.fstype }));
}

/** Every cgroup hierarchy's mount point: one (v2), or one per v1 controller plus the unified one (hybrid). */
export function cgroupRootsFrom(mountinfo: string): string[] {
  const roots = mountPointsFrom(mountinfo)
    .filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2')
    .map((m) => m.path);
  return [...new Set(roots)];
}

function systemLinks(): LinkInfo[] {
  const r = spawnSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as { ifname: string; linkinfo?: { info_kind?: string } }[]).map((l) => ({
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? '',
    }));
  } catch {
    return [];
  }
}

function systemNat(): { chain: boolean; rules: string[][] } {
  try {
    return { chain: natChainExists(), rules: natRules() };
  } catch {
    return { chain: false, rules: [] }; // no iptables: no published ports either
  }
}

function under(path: string, dir: string): boolean {
  const d = dir.endsWith(sep) ? dir : dir + sep;
  return path.startsWith(d);
}

// ─── the plan ─────────────────────────────────────────────────────────────────

export interface Plan {
  items: CleanupItem[];
  /** Live containers: their runtime still runs. */
  live: ContainerState[];
}

/** One cgroup directory below a `cellblock` parent, with the pids in it. */
export interface CgroupDir {
  path: string;
  /** The container id it belongs to (first level below the parent), or undefined for the parent itself. */
  id?: string;
  pids: number[];
}

/**
 * The cellblock cgroups of each hierarchy, children before parents (the order
 * rmdir needs). Works the same on v1 (roots = one per controller) and v2 (one
 * root): only directories count, and a cgroup is a directory with cgroup.procs.
 */
export function findCgroups(roots: string[]): CgroupDir[] {
  const out: CgroupDir[] = [];
  const seen = new Set<string>();
  const walk = (dir: string, id: string | undefined): void => {
    for (const e of safeList(dir)) {
      const p = join(dir, e);
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        continue;
      }
      if (isDir) walk(p, id ?? e);
    }
    out.push({ path: dir, ...(id !== undefined ? { id } : {}), pids: readPids(dir) });
  };
  for (const root of roots) {
    const parent = join(root, CGROUP_PARENT);
    if (!existsSync(join(parent, 'cgroup.procs'))) continue;
    let real = parent;
    try {
      real = realpathSync(parent);
    } catch {
      // keep the path as given
    }
    if (seen.has(real)) continue; // cpu -> cpu,cpuacct symlinks
    seen.add(real);
    walk(parent, undefined);
  }
  return out;
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function describe(p: ProcInfo): string {
  const cmd = p.cmdline.join(' ');
  return `${p.pid} ${cmd.length > 60 ? `${cmd.slice(0, 57)}…` : cmd}`;
}

/** What cleanup would remove (and keep), without touching anything. */
export function plan(scope: CleanupScope = defaultScope()): Plan {
  const items: CleanupItem[] = [];
  const procs = processes(scope.proc);
  const states = (scope.states ?? (() => listStatesIn(scope.runDir)))();
  const isLive = (s: ContainerState): boolean => {
    const rt = procs.get(s.runtimePid);
    return rt !== undefined && rt.cmdline[0] !== undefined && /node/.test(basename(rt.cmdline[0]));
  };
  const live = states.filter(isLive);
  const dead = states.filter((s) => !isLive(s));
  // Live: a state file whose runtime runs, or an address lease whose runtime runs.
  const liveWhy = new Map(live.map((s) => [s.id, `container ${s.id} is running (runtime pid ${s.runtimePid})`]));
  const leases = (scope.leases ?? readLeases)();
  const staleLeases = leases.filter(isStale);
  for (const l of leases) {
    if (!isStale(l) && !liveWhy.has(l.id)) {
      liveWhy.set(l.id, `container ${l.id} holds a live address lease (runtime pid ${l.runtime.pid})`);
    }
  }
  const liveIds = new Set(liveWhy.keys());
  const liveNote = (id: string): string => liveWhy.get(id)!;

  // Never us, our ancestors, or PID 1.
  const protectedPids = new Set<number>([1, process.pid]);
  for (let p = procs.get(process.pid); p && p.ppid > 0 && !protectedPids.has(p.ppid); p = procs.get(p.ppid)) {
    protectedPids.add(p.ppid);
  }
  const livePids = new Set(live.map((s) => s.pid));

  const strays = new Map<number, string>();
  const addStray = (pid: number, why: string): void => {
    if (!protectedPids.has(pid) && !livePids.has(pid) && procs.has(pid) && !strays.has(pid)) strays.set(pid, why);
  };

  // 1. Containers whose runtime is gone. The start time must match the state
  //    file: a pid recycled by an unrelated process is left alone.
  for (const s of dead) {
    const p = procs.get(s.pid);
    const started = Date.parse(s.startedAt);
    if (p && p.startedMs >= started - 10_000 && p.startedMs <= started + 2_000) {
      addStray(s.pid, `container ${s.id}, whose runtime (pid ${s.runtimePid}) is gone`);
    }
  }
  // 2. An init of this checkout with no runtime above it.
  for (const p of procs.values()) {
    if (p.cmdline[1] !== scope.initScript) continue;
    const parent = procs.get(p.ppid);
    const managed = parent !== undefined && parent.pid !== 1 && /node/.test(basename(parent.cmdline[0] ?? ''));
    if (!managed) addStray(p.pid, 'a container init whose runtime is gone');
  }
  // 3. Members of cellblock cgroups that belong to no live container.
  const cgroups = findCgroups(scope.cgroupRoots ?? cgroupRootsFrom(safeRead(scope.mountinfo)));
  for (const cg of cgroups) {
    if (cg.id !== undefined && liveIds.has(cg.id)) continue;
    for (const pid of cg.pids) addStray(pid, `in cgroup ${cg.path}`);
  }
  // 4. Members of cellblock-* network namespaces that belong to no live container.
  const netns = safeList(scope.netnsDir).filter((n) => n.startsWith(NETNS_PREFIX));
  const deadNetns = netns.filter((n) => !liveIds.has(n.slice(NETNS_PREFIX.length)));
  const deadNetInodes = new Map<string, string>();
  for (const n of deadNetns) {
    try {
      deadNetInodes.set(`net:[${statSync(join(scope.netnsDir, n)).ino}]`, n);
    } catch {
      // gone meanwhile
    }
  }
  if (deadNetInodes.size > 0) {
    for (const p of procs.values()) {
      let link: string | undefined;
      try {
        link = readlinkSync(`${scope.proc}/${p.pid}/ns/net`);
      } catch {
        continue;
      }
      const n = deadNetInodes.get(link);
      if (n) addStray(p.pid, `in network namespace ${n}`);
    }
  }
  // 5. Their descendants are the container's too.
  const children = new Map<number, number[]>();
  for (const p of procs.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  for (const [pid, why] of [...strays]) {
    const stack = [...(children.get(pid) ?? [])];
    while (stack.length > 0) {
      const c = stack.pop()!;
      addStray(c, `child of ${pid} (${why})`);
      stack.push(...(children.get(c) ?? []));
    }
  }
  for (const [pid, why] of strays) items.push({ kind: 'process', name: describe(procs.get(pid)!), why });

  // Mounts, deepest first so a parent is never busy because of a child.
  const liveRoots = live.map((s) => s.rootfs).filter((r) => r && r !== '/');
  const deadRoots = dead.map((s) => s.rootfs).filter((r) => r && r !== '/');
  const tmpOurs = (p: string): boolean => {
    if (!under(p, scope.tmpDir)) return false;
    return p.slice(scope.tmpDir.length).replace(/^\/+/, '').split('/')[0]!.startsWith(TMP_PREFIX);
  };
  const mountWhy = (p: string): string | undefined => {
    if (under(p, scope.containersDir)) return 'below the containers directory';
    if (under(p, scope.stateDir)) return 'below .cellblock/';
    if (under(p, scope.runDir) || p === scope.runDir) return 'below the runtime state directory';
    if (tmpOurs(p)) return `in a ${TMP_PREFIX}* temporary directory`;
    const r = deadRoots.find((root) => under(p, root));
    if (r) return `below the rootfs ${r} of a container that is gone`;
    return undefined;
  };
  const mounts = mountPointsFrom(safeRead(scope.mountinfo));
  const mountItems: CleanupItem[] = [];
  for (const m of mounts) {
    const why = mountWhy(m.path);
    if (!why) continue;
    const liveId = [...liveIds].find((id) => under(m.path, join(scope.containersDir, id)));
    const liveRoot = liveRoots.find((r) => m.path === r || under(m.path, r));
    const keep = liveId ? liveNote(liveId) : liveRoot ? `inside the rootfs ${liveRoot} of a running container` : '';
    mountItems.push({
      kind: 'mount',
      name: m.path,
      why: keep || `${why} (${m.fstype})`,
      ...(keep ? { keep: true } : {}),
    });
  }
  mountItems.sort((a, b) => b.name.split('/').length - a.name.split('/').length);
  items.push(...mountItems);

  for (const n of netns) {
    const id = n.slice(NETNS_PREFIX.length);
    items.push(
      liveIds.has(id)
        ? { kind: 'netns', name: n, why: liveNote(id), keep: true }
        : { kind: 'netns', name: n, why: `named ${NETNS_PREFIX}*` },
    );
  }

  for (const l of staleLeases) {
    items.push({
      kind: 'lease',
      name: `${l.address} ${l.id}`,
      why: `an address lease whose runtime (pid ${l.runtime.pid}) is gone`,
    });
  }
  const nat = (scope.nat ?? systemNat)();
  for (const rule of nat.rules) {
    const id = rule.find((a) => a.startsWith(natComment('')))?.slice(natComment('').length);
    if (id === undefined) continue;
    items.push(
      liveIds.has(id)
        ? { kind: 'nat', name: rule.join(' '), why: liveNote(id), keep: true }
        : { kind: 'nat', name: rule.join(' '), why: `a published port of ${id}, which is gone` },
    );
  }
  if (nat.chain) {
    items.push(
      liveIds.size > 0
        ? { kind: 'nat', name: `chain ${NAT_CHAIN}`, why: `${liveIds.size} container(s) running`, keep: true }
        : { kind: 'nat', name: `chain ${NAT_CHAIN}`, why: 'the published ports’ chain and its jumps' },
    );
  }

  const links = (scope.links ?? systemLinks)();
  const liveVeths = new Map([...liveIds].map((id) => [hostVethName(id), id]));
  for (const l of links) {
    if (l.name.startsWith(VETH_PREFIX) && l.kind === 'veth') {
      const id = liveVeths.get(l.name);
      items.push(
        id
          ? { kind: 'veth', name: l.name, why: liveNote(id), keep: true }
          : { kind: 'veth', name: l.name, why: `a veth named ${VETH_PREFIX}*` },
      );
    } else if (l.name === BRIDGE && l.kind === 'bridge') {
      items.push(
        liveIds.size > 0
          ? { kind: 'bridge', name: l.name, why: `${liveIds.size} container(s) running`, keep: true }
          : { kind: 'bridge', name: l.name, why: 'the workshop bridge' },
      );
    }
  }

  for (const cg of cgroups) {
    const keep =
      cg.id !== undefined
        ? liveIds.has(cg.id)
          ? liveNote(cg.id)
          : ''
        : liveIds.size > 0
          ? 'parent of running containers'
          : '';
    items.push({
      kind: 'cgroup',
      name: cg.path,
      why: keep || (cg.id === undefined ? `the ${CGROUP_PARENT} parent` : `below ${CGROUP_PARENT}/`),
      ...(keep ? { keep: true } : {}),
    });
  }

  for (const d of safeList(scope.containersDir)) {
    const p = join(scope.containersDir, d);
    items.push(
      liveIds.has(d)
        ? { kind: 'dir', name: p, why: liveNote(d), keep: true }
        : { kind: 'dir', name: p, why: 'a container directory (overlay upper/work)' },
    );
  }

  for (const s of dead) {
    items.push({ kind: 'state', name: join(scope.runDir, `${s.id}.json`), why: `container ${s.id} is gone` });
  }
  return { items, live };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function listStatesIn(runDir: string): ContainerState[] {
  if (runDir === RUN_DIR) return listStates();
  return safeList(runDir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(runDir, f), 'utf8')) as ContainerState];
      } catch {
        return [];
      }
    });
}

// ─── removing ─────────────────────────────────────────────────────────────────

/** Every operation that changes the machine. */
export interface CleanupOps {
  kill(pid: number): void;
  /** true while the process exists (and is not a zombie). */
  alive(pid: number): boolean;
  umount(path: string): void;
  deleteNetns(name: string): void;
  /** Remove an address lease and its DNAT rules (under the network lock). */
  removeLease(address: string, id: string): void;
  /** `iptables -t nat -D <rule>`; the chain and its jumps for `chain CELLBLOCK`. */
  deleteNat(rule: string): void;
  deleteLink(name: string): void;
  /** Kill everything in a cgroup (v2 cgroup.kill), if the kernel has it. */
  killCgroup(path: string): void;
  rmdir(path: string): void;
  rmrf(path: string): void;
  exists(path: string): boolean;
  sleep(ms: number): void;
}

/** Thrown by an op when the thing was already gone: reported as "gone", not as a failure. */
export class AlreadyGone extends Error {}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return;
  const msg = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
  if (/Cannot find device|No such file|does not exist|not found/i.test(msg)) throw new AlreadyGone(msg);
  throw new Error(`${cmd} ${args.join(' ')}: ${msg}`);
}

export async function systemOps(): Promise<CleanupOps> {
  // The syscall bindings load koffi: only when something is actually removed.
  const { umount2 } = await import('../native/mount.js');
  const { MNT_DETACH } = await import('../native/constants.js');
  const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
  return {
    kill(pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new AlreadyGone('no such process');
        throw err;
      }
    },
    alive: (pid) => readProc('/proc', pid) !== undefined,
    umount(path) {
      try {
        // Lazy: a leftover mount may still be open by a process we just killed.
        umount2(path, MNT_DETACH);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EINVAL' || code === 'ENOENT') throw new AlreadyGone(String(err));
        throw err;
      }
    },
    deleteNetns: (name) => run('ip', ['netns', 'delete', name]),
    removeLease(address, id) {
      withNetworkLock(() => {
        removeNatRulesOf(id);
        if (!existsSync(join(LEASES_DIR, address))) throw new AlreadyGone('no such lease');
        rmSync(join(LEASES_DIR, address), { force: true });
      });
    },
    deleteNat(rule) {
      withNetworkLock(() => {
        if (rule === `chain ${NAT_CHAIN}`) {
          if (!natChainExists()) throw new AlreadyGone('no such chain');
          return removeNatChain();
        }
        const args = (rule.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, '$1'));
        if (!natRules().some((r) => r.join(' ') === rule)) throw new AlreadyGone('no such rule');
        run('iptables', ['-t', 'nat', '-D', ...args.slice(1)]);
      });
    },
    deleteLink: (name) => run('ip', ['link', 'delete', name]),
    killCgroup(path) {
      if (existsSync(join(path, 'cgroup.kill'))) writeFileSync(join(path, 'cgroup.kill'), '1');
    },
    rmdir(path) {
      try {
        // rmdir(2) exactly: cgroupfs removes a cgroup with its control files, which cannot be unlinked.
        rmdirSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AlreadyGone('no such directory');
        throw err;
      }
    },
    rmrf(path) {
      if (!existsSync(path)) throw new AlreadyGone('no such directory');
      rmSync(path, { recursive: true, force: true });
    },
    exists: (path) => existsSync(path),
    sleep: (ms) => void Atomics.wait(sleepBuf, 0, 0, ms),
  };
}

/** Remove everything the plan found (kept items are reported, not touched). */
export function execute(p: Plan, ops: CleanupOps, opts: { dryRun?: boolean } = {}): CleanupResult[] {
  const results: CleanupResult[] = [];
  const attempt = (item: CleanupItem, fn: () => void): void => {
    if (item.keep) return void results.push({ ...item, action: 'kept' });
    if (opts.dryRun) return void results.push({ ...item, action: 'would remove' });
    try {
      fn();
      results.push({ ...item, action: 'removed' });
    } catch (err) {
      if (err instanceof AlreadyGone) results.push({ ...item, action: 'gone' });
      else results.push({ ...item, action: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  };
  const byKind = (k: ItemKind): CleanupItem[] => p.items.filter((i) => i.kind === k);

  // Processes first: they hold mounts, namespaces and cgroups busy.
  const procs = byKind('process');
  for (const item of procs) attempt(item, () => ops.kill(Number(item.name.split(' ')[0])));
  if (!opts.dryRun) {
    for (const c of byKind('cgroup').filter((c) => !c.keep)) {
      try {
        ops.killCgroup(c.name);
      } catch {
        // the pids were killed one by one above
      }
    }
    waitUntil(ops, () => procs.every((i) => !ops.alive(Number(i.name.split(' ')[0]))));
  }

  for (const item of byKind('mount')) attempt(item, () => ops.umount(item.name));
  for (const item of byKind('netns')) attempt(item, () => ops.deleteNetns(item.name));
  for (const item of byKind('lease')) {
    attempt(item, () => {
      const [address = '', id = ''] = item.name.split(' ');
      ops.removeLease(address, id);
    });
  }
  // Rules before the chain (it is listed last).
  for (const item of byKind('nat')) attempt(item, () => ops.deleteNat(item.name));
  for (const item of [...byKind('veth'), ...byKind('bridge')]) attempt(item, () => ops.deleteLink(item.name));
  for (const item of byKind('cgroup')) {
    attempt(item, () => {
      // EBUSY until the last member has been reaped: retry for a moment.
      for (let i = 0; ; i++) {
        try {
          return ops.rmdir(item.name);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 40) throw err;
          ops.sleep(50);
        }
      }
    });
  }
  for (const item of byKind('dir')) attempt(item, () => ops.rmrf(item.name));
  for (const item of byKind('state')) attempt(item, () => ops.rmrf(item.name));
  return results;
}

function waitUntil(ops: CleanupOps, done: () => boolean, ms = 3000): void {
  for (let waited = 0; waited < ms && !done(); waited += 25) ops.sleep(25);
}

/** plan + execute on the real machine. */
export async function cleanup(opts: { dryRun?: boolean; scope?: CleanupScope } = {}): Promise<CleanupResult[]> {
  const p = plan(opts.scope ?? defaultScope());
  if (p.items.length === 0) return [];
  return execute(p, await systemOps(), opts);
}
