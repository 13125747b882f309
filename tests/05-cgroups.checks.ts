/**
 * Lesson 05 checks: the container's cgroup, and the limits the kernel enforces
 * through it — on cgroup v1 and v2 alike.
 *
 * Everything is looked at from the host, the way a grader would: which cgroup
 * /proc/<pid>/cgroup names, the limit files and counters *in that cgroup's
 * directory* (memory.events, cpu.stat / cpuacct.usage, pids.events), and what
 * the processes inside experience (a fork that fails, a dd that is killed, a
 * write that crawls). The probes are busybox applets run inside the container,
 * as crun's tests use small probe programs: `dd bs=64M` touches 64 MB of
 * memory, a shell `while :` loop burns CPU, `sleep &` forks.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Lesson } from '../src/core/lesson.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupMode, openCgroup, type Limits } from '../src/core/cgroups/index.js';
import { v1Mounts, CGROUP_ROOT, type V1Controller } from '../src/core/cgroups/detect.js';
import { readKeyed } from '../src/core/cgroups/manager.js';
import { CGROUP_PARENT, TMP_PREFIX } from '../src/core/names.js';
import {
  defineChecks,
  outputContains,
  SLOW,
  expectThat,
  skipCheck,
  startFailure,
  type CheckEnv,
  type CheckResult,
} from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';

/** The probe lesson (tests/support/cgroup-probe-lesson.ts), built next to this file. */
const PROBE_FILE = new URL('./support/cgroup-probe-lesson.js', import.meta.url).href;

const MODE = cgroupMode();
const V2 = MODE === 'v2';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The v1 controllers the container must be in (those mounted here), or v2's one tree. */
const V1_EXPECTED: V1Controller[] = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

/** /proc/<pid>/cgroup as controller → path ('' for v2's "0::/path"); undefined once the process is gone. */
function cgroupsOf(pid: number | 'self'): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  return parseCgroupText(text);
}

/** The text of a /proc/<pid>/cgroup file: "4:memory:/cellblock/x", "0::/cellblock/x" (v2). */
function parseCgroupText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const [, controllers = '', path = ''] = line.split(':');
    for (const c of controllers.split(',')) out[c] = path;
  }
  return out;
}

/** Which controllers this machine's checks look at: v2's one tree (''), or the v1 hierarchies. */
function expectedControllers(): string[] {
  if (V2) return [''];
  const mounts = v1Mounts();
  return V1_EXPECTED.filter((c) => mounts[c]);
}

/** The container's cgroup as the kernel reports it, and the directory of each controller. */
interface Placement {
  /** Where /proc/<pid>/cgroup puts it, per controller. */
  paths: Record<string, string>;
  /** The cgroup the container should be in: /cellblock/<id>. */
  want: string;
  /** Controllers not in `want`. */
  wrong: string[];
  /** controller → directory on the host ('' for v2). */
  dirs: Record<string, string>;
  /** Whether the container's cgroup directory existed when this was looked at. */
  existed: boolean;
}

function placement(pid: number, id: string, paths = cgroupsOf(pid) ?? {}): Placement {
  const existed = existsSync(
    V2 ? join(CGROUP_ROOT, CGROUP_PARENT, id) : join(v1Mounts().memory ?? CGROUP_ROOT, CGROUP_PARENT, id),
  );
  const want = `/${CGROUP_PARENT}/${id}`;
  const mounts = v1Mounts();
  const dirs: Record<string, string> = {};
  for (const c of expectedControllers()) {
    const p = paths[c];
    if (p !== undefined) dirs[c] = join(V2 ? CGROUP_ROOT : (mounts[c as V1Controller] ?? '/nonexistent'), p);
  }
  return { paths, want, wrong: expectedControllers().filter((c) => paths[c] !== want), dirs, existed };
}

function describePaths(p: Placement): string {
  const shown = expectedControllers().map((c) => `${c || '0:'}:${p.paths[c] ?? '?'}`);
  return [...new Set(shown)].join(' ');
}

/**
 * Why the process is not where it should be, from where it is and what
 * existed while it ran (`existed`: the cgroup directory, looked at then —
 * after the run it is gone either way).
 */
function placementHint(p: Placement, id: string, existed: boolean): string {
  const dir = V2 ? join(CGROUP_ROOT, CGROUP_PARENT, id) : join(v1Mounts().memory ?? CGROUP_ROOT, CGROUP_PARENT, id);
  if (Object.keys(p.paths).length === 0) {
    return 'the container had ended before its cgroup could be read: did its start fail? (the lines above say)';
  }
  if (!existed) {
    return `there was no ${dir} while the container ran: a cgroup is a directory that someone makes before the process is released (man 7 cgroups: "Creating cgroups and moving processes")`;
  }
  return `${dir} existed, but the process was not in it: a process joins a cgroup when its pid is written into that cgroup's cgroup.procs (man 7 cgroups)`;
}

/** The trial's container is in its cgroup: the same for every check that reads a cgroup file. */
function notPlaced(p: Placement, id: string): CheckResult | undefined {
  if (p.wrong.length === 0) return undefined;
  // Said with "<id>", the same for every container: `verify` prints one cause once.
  const anon = (s: string): string => s.split(id).join('<id>');
  return {
    ok: false,
    expected: anon(`the container's process in ${p.want}`),
    found: anon(`it is in ${describePaths(p)}`),
    hint: anon(placementHint(p, id, p.existed)),
  };
}

/** A cgroup file of the container, by controller (v2: any file in the one directory). */
function readIn(p: Placement, controller: string, file: string): string | undefined {
  const dir = p.dirs[V2 ? '' : controller];
  if (!dir) return undefined;
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** CPU time used by the container's cgroup, in µs (v2 cpu.stat usage_usec; v1 cpuacct.usage in ns). */
function cpuUsageUsec(p: Placement): number | undefined {
  if (V2) {
    const stat = readIn(p, '', 'cpu.stat');
    return stat === undefined ? undefined : readKeyed(stat)['usage_usec'];
  }
  const ns = readIn(p, 'cpuacct', 'cpuacct.usage');
  return ns === undefined ? undefined : Number(ns) / 1000;
}

function oomKillsIn(p: Placement): number | undefined {
  const text = V2 ? readIn(p, '', 'memory.events') : readIn(p, 'memory', 'memory.oom_control');
  return text === undefined ? undefined : (readKeyed(text)['oom_kill'] ?? 0);
}

/** The cgroup directories each environment's containers had: the last check proves they are gone. */
const seenDirs = new WeakMap<CheckEnv, Set<string>>();
function remember(env: CheckEnv, p: Placement): void {
  const set = seenDirs.get(env) ?? new Set<string>();
  for (const c of expectedControllers()) if (p.paths[c] === p.want && p.dirs[c]) set.add(p.dirs[c]);
  seenDirs.set(env, set);
}

// -m 50m → 52428800 bytes; 0.5 CPU → 50 ms per 100 ms; 10 tasks.
const LIMITS = { memory: '50m', cpus: '0.5', 'pids-limit': '10' };
const WAIT = ['sh', '-c', 'echo ready; read _'];

interface Observed {
  t: TrialResult;
  p?: Placement;
  values: Record<string, string | undefined>;
}

/** One container with LIMITS, looked at while it waits on stdin. */
function limitsTrial(env: CheckEnv): Promise<Observed> {
  return env.once('limits', () => startLimitsTrial(env));
}
function startLimitsTrial(env: CheckEnv): Promise<Observed> {
  const o: Observed = { t: undefined as unknown as TrialResult, values: {} };
  return env
    .trial({
      config: { argv: WAIT, ...LIMITS },
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        o.p = placement(c.pid, c.config.id);
        remember(env, o.p);
        if (V2) {
          for (const f of ['memory.max', 'cpu.max', 'pids.max']) o.values[f] = readIn(o.p, '', f);
        } else {
          o.values['memory.limit_in_bytes'] = readIn(o.p, 'memory', 'memory.limit_in_bytes');
          o.values['cpu.cfs_quota_us'] = readIn(o.p, 'cpu', 'cpu.cfs_quota_us');
          o.values['cpu.cfs_period_us'] = readIn(o.p, 'cpu', 'cpu.cfs_period_us');
          o.values['pids.max'] = readIn(o.p, 'pids', 'pids.max');
        }
      },
    })
    .then((t) => ({ ...o, t }));
}

/** One container that prints what it sees of its cgroup from inside, looked at from the host meanwhile. */
interface NsObserved {
  t: TrialResult;
  p?: Placement;
  /** Inside: /proc/self/cgroup, `cat /sys/fs/cgroup/memory.max`, a write to it, MemTotal. */
  inside?: string;
  memoryMax?: string;
  write?: string;
  memTotalKb?: number;
  /** ns/cgroup of the container and of this process. */
  ns?: string;
  hostNs?: string;
}
const NS_SCRIPT = [
  'cat /proc/self/cgroup',
  'echo ---',
  'cat /sys/fs/cgroup/memory.max 2>&1',
  'echo ---',
  '(echo max > /sys/fs/cgroup/memory.max) 2>&1',
  'echo ---',
  'grep MemTotal /proc/meminfo',
  'echo ---ready',
  'read _',
].join('; ');
function nsTrial(env: CheckEnv): Promise<NsObserved> {
  return env.once('cgroupns', async () => {
    const o: NsObserved = { t: undefined as unknown as TrialResult };
    o.t = await env.trial({
      config: { argv: ['sh', '-c', NS_SCRIPT], memory: '50m' },
      whileRunning: async (c) => {
        // The output is read while the command is alive, up to its last line:
        // nothing depends on the pipe's end-of-file after the container is gone.
        let out = '';
        c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        if (!(await outputContains(c, '---ready', 10_000 * SLOW))) return;
        o.p = placement(c.pid, c.config.id);
        remember(env, o.p);
        try {
          o.ns = readlinkSync(`/proc/${c.pid}/ns/cgroup`);
          o.hostNs = readlinkSync('/proc/self/ns/cgroup');
        } catch {
          // gone: o.ns stays undefined
        }
        const [cg = '', max, write, mem] = out.split(/^---.*$/m).map((x) => x.trim());
        o.inside = cg;
        o.memoryMax = max;
        o.write = write;
        o.memTotalKb = Number(/MemTotal:\s*(\d+)/.exec(mem ?? '')?.[1] ?? 0);
      },
    });
    return o;
  });
}

const REFUSED = /Resource temporarily unavailable/;

const EXPECTED_VALUES: Record<string, string> = V2
  ? { 'memory.max': '52428800', 'cpu.max': '50000 100000', 'pids.max': '10' }
  : {
      'memory.limit_in_bytes': '52428800',
      'cpu.cfs_quota_us': '50000',
      'cpu.cfs_period_us': '100000',
      'pids.max': '10',
    };

/** A busy loop for `ms`, measured by the cgroup's own CPU counter: CPUs used (1.0 = one CPU all the time). */
async function cpuShare(
  env: CheckEnv,
  cpus: string | undefined,
  ms = 1500,
): Promise<CheckResult | { share: number; throttled: number | undefined }> {
  let share: number | undefined;
  let p: Placement | undefined;
  let throttled: number | undefined;
  const t = await env.trial({
    config: { argv: ['sh', '-c', 'echo ready; while :; do :; done'], ...(cpus ? { cpus } : {}) },
    whileRunning: async (c) => {
      try {
        await outputContains(c, 'ready');
        p = placement(c.pid, c.config.id);
        remember(env, p);
        if (p.wrong.length > 0) return;
        await sleep(200); // past the start
        const u0 = cpuUsageUsec(p);
        const t0 = performance.now();
        await sleep(ms);
        const u1 = cpuUsageUsec(p);
        const t1 = performance.now();
        if (u0 !== undefined && u1 !== undefined) share = (u1 - u0) / 1000 / (t1 - t0);
        const stat = readIn(p, 'cpu', 'cpu.stat');
        throttled = stat === undefined ? undefined : readKeyed(stat)['nr_throttled'];
      } finally {
        c.kill('SIGKILL'); // the loop never ends by itself
      }
    },
  });
  const failed = startFailure(t);
  if (failed) return failed;
  if (!p) return { ok: false, expected: 'the container prints "ready"', found: t.stdout + t.stderr };
  const np = notPlaced(p, t.config.id);
  if (np) return np;
  if (share === undefined) {
    return {
      ok: false,
      expected: 'a CPU usage counter in the container’s cgroup',
      found: 'none readable',
      hint: 'is the cpu/cpuacct controller there? `cellblock doctor` lists what is usable',
    };
  }
  return { share, throttled };
}

/**
 * The learner's v2 functions, run against a fixture: a directory that looks
 * like a cgroup2 root (cgroup.controllers, cgroup.subtree_control) — so the
 * v2 code is checked on a v1 machine too. What the kernel would do is done by
 * this check: it reads what was written, plays an OOM kill into
 * memory.events, and holds the cgroup busy (a bind mount on it: rmdir answers
 * EBUSY, as the kernel does while a process is still leaving) for a moment.
 */
interface FixturePart {
  name: string;
  ok: boolean;
  found: string;
  hint?: string;
}
type V2Module = {
  v2Files?: (l: Limits) => [string, string][];
  createCgroup?: (root: string, id: string) => string;
  writeLimits?: (dir: string, files: [string, string][]) => void;
  joinCgroup?: (dir: string, pid: number) => void;
  oomKills?: (dir: string) => number;
  removeCgroup?: (dir: string) => Promise<void>;
};
const FIXTURE_LIMITS: Limits = {
  memory: 52428800,
  memorySwap: 52428800,
  cpu: { quota: 50000, period: 100000 },
  pids: 10,
  io: [{ device: '/dev/loop7', major: 7, minor: 7, writeBps: 1048576 }],
};
const FIXTURE_FILES: Record<string, string> = {
  'memory.max': '52428800',
  'memory.swap.max': '0',
  'cpu.max': '50000 100000',
  'pids.max': '10',
  'io.max': '7:7 wbps=1048576',
};
/** "7:7 rbps=max wbps=1048576" and "7:7 wbps=1048576" say the same: compare as key=value sets, max dropped. */
const canon = (file: string, v: string): string =>
  file === 'io.max'
    ? v
        .trim()
        .split(/\s+/)
        .filter((w) => !w.endsWith('=max'))
        .sort()
        .join(' ')
    : v.trim();

async function fixtureRun(env: CheckEnv): Promise<{ parts: FixturePart[] }> {
  return env.once('fixture', async () => {
    const parts: FixturePart[] = [];
    const lesson = env.lessons.find((l) => l.id === '05-cgroups');
    const mod = (lesson ? await import(pathToFileURL(lesson.file).href) : {}) as V2Module;
    const root = mkdtempSync(join(tmpdir(), TMP_PREFIX));
    const id = 'fixture';
    const dir = join(root, CGROUP_PARENT, id);
    let mounted = false;
    const part = async (
      name: string,
      f: () => Promise<Omit<FixturePart, 'name'>> | Omit<FixturePart, 'name'>,
    ): Promise<void> => {
      try {
        parts.push({ name, ...(await f()) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        parts.push({
          name,
          ok: false,
          found: `threw ${e.code ?? e.name}: ${e.message.split(root).join('<root>')}`,
          hint: `${name} threw ${e.code ?? e.name}${e.code === 'ENOENT' ? ': a file or directory it needs is not there yet — in what order must a cgroup be made? (man 7 cgroups)' : ''}`,
        });
      }
    };
    const read = (f: string): string | undefined => {
      try {
        return readFileSync(join(root, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    try {
      writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids\n');
      writeFileSync(join(root, 'cgroup.subtree_control'), '\n');
      writeFileSync(join(root, 'cgroup.procs'), '1\n');
      const enabled = (f: string): string[] => (read(f) ?? '').split(/\s+/).map((w) => w.replace(/^\+/, ''));
      const want = ['cpu', 'memory', 'pids', 'io'];

      await part('createCgroup', () => {
        const got = mod.createCgroup?.(root, id);
        const inRoot = want.filter((c) => !enabled('cgroup.subtree_control').includes(c));
        const inParent = want.filter((c) => !enabled(`${CGROUP_PARENT}/cgroup.subtree_control`).includes(c));
        const made = existsSync(dir);
        const ok = got === dir && made && inRoot.length === 0 && inParent.length === 0;
        return {
          ok,
          found: `${made ? 'made' : 'no'} <root>/${CGROUP_PARENT}/${id}; not enabled: in the root ${inRoot.join(' ') || 'none'}, in ${CGROUP_PARENT} ${inParent.join(' ') || 'none'}`,
          hint: !made
            ? 'createCgroup made no cgroup: a cgroup is a directory, made with mkdir below its parent (man 7 cgroups)'
            : got !== dir
              ? `createCgroup returned ${String(got)}, not the directory it made`
              : `controllers not enabled for the cgroup (${[...new Set([...inRoot, ...inParent])].join(' ')}): v2 is top-down — a controller exists in a cgroup only when its parent lists it in cgroup.subtree_control, and the parent's parent for the parent (cgroup-v2.rst: "Top-down Constraint")`,
        };
      });
      mkdirSync(dir, { recursive: true }); // the next parts each start from a cgroup that exists

      await part('v2Files', () => {
        const got = Object.fromEntries((mod.v2Files?.(FIXTURE_LIMITS) ?? []).map(([f, v]) => [f, canon(f, v)]));
        const wrong = Object.entries(FIXTURE_FILES).filter(([f, v]) => got[f] !== canon(f, v));
        return {
          ok: wrong.length === 0,
          found:
            wrong.length === 0
              ? 'all five'
              : `-m 50m --memory-swap 50m --cpus 0.5 --pids-limit 10 --device-write-bps 7:7:1mb gave ${wrong.map(([f]) => `${f}=${got[f] ?? '(none)'}`).join(', ')}`,
          hint: `v2Files: ${wrong.map(([f]) => f).join(', ')} not as the kernel expects — the README's table, and each file in cgroup-v2.rst (swap counts apart from memory on v2)`,
        };
      });

      await part('writeLimits', () => {
        mod.writeLimits?.(dir, [
          ['memory.max', '52428800'],
          ['pids.max', '10'],
        ]);
        const got = ['memory.max', 'pids.max'].map((f) => read(`${CGROUP_PARENT}/${id}/${f}`)?.trim());
        const ok = got[0] === '52428800' && got[1] === '10';
        return {
          ok,
          found: `memory.max ${got[0] ?? '(not written)'}, pids.max ${got[1] ?? '(not written)'}`,
          hint: 'writeLimits wrote nothing into the cgroup’s files: each [file, value] is one write to a file in the cgroup’s directory',
        };
      });

      await part('joinCgroup', () => {
        mod.joinCgroup?.(dir, 4242);
        const procs = read(`${CGROUP_PARENT}/${id}/cgroup.procs`)?.trim();
        return {
          ok: procs === '4242',
          found: `cgroup.procs ${procs ?? '(not written)'}`,
          hint: 'joinCgroup did not write the pid where the kernel looks for it: which file lists a cgroup’s processes? (man 7 cgroups)',
        };
      });

      await part('oomKills', () => {
        writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n');
        const n = mod.oomKills?.(dir);
        return {
          ok: n === 2,
          found: `${String(n)} for "oom_kill 2"`,
          hint: 'oomKills: memory.events has one "key value" per line — oom_kill is the kills (oom counts OOM events, max the times the limit was hit)',
        };
      });

      await part('removeCgroup', async () => {
        // The kernel's rmdir removes a cgroup with its interface files; a plain
        // directory must be empty: empty it, then hold it busy for 150 ms.
        for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
        mounted = spawnSync('mount', ['--bind', dir, dir]).status === 0;
        const t0 = performance.now();
        const release = sleep(150).then(() => {
          if (mounted && spawnSync('umount', [dir]).status === 0) mounted = false;
        });
        let err: NodeJS.ErrnoException | undefined;
        await Promise.race([mod.removeCgroup?.(dir), sleep(5000)]).catch(
          (e: unknown) => (err = e as NodeJS.ErrnoException),
        );
        await release;
        const gone = !existsSync(dir);
        const ms = performance.now() - t0;
        return {
          ok: gone && !err && mounted === false,
          found: err
            ? `gave up: ${err.code ?? err.message} after ${ms.toFixed(0)} ms (the cgroup was busy for 150 ms)`
            : gone
              ? `removed after ${ms.toFixed(0)} ms (busy for the first 150)`
              : 'the directory is still there',
          hint: err
            ? `removeCgroup gave up on ${err.code}: rmdir of a cgroup fails with EBUSY while a process is still in it — a killed process stays a member until it has exited; the answer is to try again for a while (man 2 rmdir; man 7 cgroups)`
            : 'removeCgroup left the cgroup there: a cgroup is removed with rmdir(2) — its interface files go with it',
        };
      });
    } finally {
      if (mounted) spawnSync('umount', ['-l', dir]);
      rmSync(root, { recursive: true, force: true });
    }
    return { parts };
  });
}

export default defineChecks('05-cgroups', [
  {
    name: 'the container’s /proc/<pid>/cgroup points at its own cgroup, /cellblock/<id>',
    async run(env) {
      const o = await limitsTrial(env);
      const failed = startFailure(o.t);
      if (failed) return failed;
      if (!o.p) return { ok: false, expected: 'the container prints "ready"', found: o.t.stdout + o.t.stderr };
      return (
        notPlaced(o.p, o.t.config.id) ?? {
          ok: true,
          expected: `every controller at ${o.p.want}`,
          found: describePaths(o.p),
        }
      );
    },
  },
  {
    name: 'the command starts in a cgroup namespace rooted at its cgroup: inside, /proc/self/cgroup shows "/"; from the host, its own ns/cgroup and /cellblock/<id>',
    async run(env) {
      const o = await nsTrial(env);
      const failed = startFailure(o.t);
      if (failed) return failed;
      if (!o.p || o.inside === undefined) {
        return { ok: false, expected: 'the container prints its /proc/self/cgroup', found: o.t.stdout + o.t.stderr };
      }
      const np = notPlaced(o.p, o.t.config.id);
      if (np) return np;
      const anon = (text: string): string => text.split(o.t.config.id).join('<id>');
      const paths = [...new Set(Object.values(parseCgroupText(o.inside)))];
      const rooted = paths.length > 0 && paths.every((x) => x === '/');
      const own = o.ns !== undefined && o.ns !== o.hostNs;
      return expectThat(
        rooted && own,
        'inside: every line of /proc/self/cgroup ends in ":/"; from the host: a cgroup namespace other than its own',
        anon(
          `inside: ${paths.join(' ') || '(nothing)'}; ns/cgroup ${own ? `its own (${o.ns})` : `the host's (${o.ns ?? '?'})`}`,
        ),
        !own
          ? 'the command runs in the host’s cgroup namespace, so it sees the host’s cgroup paths: a cgroup namespace is made with unshare(2) and CLONE_NEWCGROUP (man 7 cgroup_namespaces)'
          : anon(
              `a cgroup namespace of its own, but rooted elsewhere: inside it shows ${paths.join(' ')}. Its root is the cgroup the process was in when the namespace was made (man 7 cgroup_namespaces) — was it in /cellblock/<id> yet?`,
            ),
      );
    },
  },
  {
    name: 'v2: inside, /sys/fs/cgroup is the container’s own cgroup, read-only: memory.max shows -m 50m (52428800) while /proc/meminfo shows the host’s memory',
    async run(env) {
      if (!V2) {
        return skipCheck(
          'this machine is cgroup v1: the container gets no cgroup2 view inside (the cgroup namespace is checked above); this check runs on cgroup v2 — the workshop VM, or tests/v2vm here',
          'a read-only cgroup2 mount of the container’s own cgroup at /sys/fs/cgroup',
        );
      }
      const o = await nsTrial(env);
      const failed = startFailure(o.t);
      if (failed) return failed;
      const limit = o.memoryMax?.trim();
      const ro = /Read-only file system/i.test(o.write ?? '');
      const hostKb = o.memTotalKb ?? 0;
      return expectThat(
        limit === '52428800' && ro && hostKb * 1024 > 52428800,
        '`cat /sys/fs/cgroup/memory.max` inside: 52428800; a write to it: "Read-only file system"; MemTotal: the host’s',
        `memory.max: ${limit ?? '?'}; write: ${o.write?.trim() || 'no error'}; MemTotal ${hostKb} kB`,
        limit === undefined || /No such file/.test(limit)
          ? 'inside there is no /sys/fs/cgroup/memory.max: nothing of type cgroup2 is mounted there. A cgroup2 mount made inside a cgroup namespace shows that namespace’s root (man 7 cgroup_namespaces; man 2 mount)'
          : !ro
            ? 'the container can write its own limits: the view must be mounted read-only (MS_RDONLY, man 2 mount)'
            : `inside, memory.max shows ${limit}: that is not the container’s cgroup. The mount shows the root of the cgroup namespace of whoever mounted it (man 7 cgroup_namespaces)`,
      );
    },
  },
  {
    name: 'the init’s own start-up is not charged to the container: while its steps run, it is not in /cellblock/<id> yet (it joins right before the exec)',
    async run(env) {
      // A probe lesson after every other prints the init's /proc/self/cgroup
      // from inside, after the last lesson step and before "ready": an order
      // of events, not an amount — what the init allocates after a join
      // depends on when V8 collects garbage (measured here: early join 2.5–2.9
      // MiB of peak memory, late 0.3–0.5; in the v2 VM the late join alone
      // reached 4.2 MiB), so no threshold on memory or CPU could tell them apart.
      const probe = (await import(PROBE_FILE)) as { default: Lesson; PROBE_MARK: string };
      let out = '';
      let p: Placement | undefined;
      const t = await env.trial({
        config: { argv: WAIT },
        lessons: (ls) => [...ls, { id: '05-cgroups-probe', file: fileURLToPath(PROBE_FILE), lesson: probe.default }],
        whileRunning: async (c) => {
          c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          if (!(await outputContains(c, 'ready'))) return;
          p = placement(c.pid, c.config.id);
          remember(env, p);
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      if (!p) return { ok: false, expected: 'the container prints "ready"', found: t.stdout + t.stderr };
      const np = notPlaced(p, t.config.id);
      if (np) return np;
      const line = out.split('\n').find((l) => l.startsWith(probe.PROBE_MARK));
      if (!line) return { ok: false, expected: 'the probe step’s line', found: out || '(no output)' };
      const during = line.slice(probe.PROBE_MARK.length).split('|');
      const want = `/${CGROUP_PARENT}/${t.config.id}`;
      const early = during.filter((l) => l.endsWith(want));
      const anon = (text: string): string => text.split(t.config.id).join('<id>');
      return expectThat(
        early.length === 0,
        anon(`while the init's steps run, /proc/self/cgroup of the init names no ${want}`),
        anon(early.length === 0 ? 'not in it yet' : `already in it: ${early.join(' ')}`),
        'the process was in the container’s cgroup while the init — a Node process loading the lessons — still did its steps: all that is charged to the container, and counts against its limits. A process is charged from the moment it joins; what it used before stays where it was (cgroup-v2.rst: "Memory Ownership"). The README’s "when to join"',
      );
    },
  },
  {
    name: 'the limit files hold exactly the requested values (-m 50m → 52428800, --cpus 0.5, --pids-limit 10)',
    async run(env) {
      const o = await limitsTrial(env);
      const failed = startFailure(o.t);
      if (failed) return failed;
      if (!o.p) return { ok: false, expected: 'the container prints "ready"', found: o.t.stdout + o.t.stderr };
      const np = notPlaced(o.p, o.t.config.id);
      if (np) return np;
      const wrong = Object.entries(EXPECTED_VALUES).filter(([f, v]) => o.values[f] !== v);
      const show = (vals: Record<string, string | undefined>): string =>
        Object.keys(EXPECTED_VALUES)
          .map((f) => `${f}=${vals[f] ?? '(missing)'}`)
          .join(', ');
      const first = wrong[0]?.[0];
      return expectThat(
        wrong.length === 0,
        show(EXPECTED_VALUES),
        show(o.values),
        `${first} holds ${o.values[first!] ?? 'nothing'}, ${o.values[first!] === undefined ? 'no such file' : 'the kernel’s default: nothing was written into it'} — ${V2 ? 'which v2 file holds which limit is the README’s table (cgroup-v2.rst: memory.max, cpu.max, pids.max); v2Files and writeLimits' : 'the limits are written once the cgroup exists, before the init is released (man 7 cgroups)'}`,
      );
    },
  },
  {
    name: 'memory: an allocation under the limit succeeds (16 MB in a 32m container)',
    provided: true,
    async run(env) {
      const t = await env.trial({
        config: {
          argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=16M', 'count=1'],
          memory: '32m',
          'memory-swap': '32m',
        },
      });
      return (
        startFailure(t) ??
        expectThat(
          t.status === 0,
          'dd bs=16M exits 0',
          `exit status ${t.status}${t.notes.length ? `; ${t.notes.join('; ')}` : ''}`,
          'the limit is lower than asked: check the bytes written to the memory limit file',
        )
      );
    },
  },
  {
    name: 'memory: allocating past the limit gets the process OOM-killed, and the cgroup’s OOM counter counts it',
    async run(env) {
      let p: Placement | undefined;
      let kills: number | undefined;
      let ddStatus: string | undefined;
      const t = await env.trial({
        config: {
          // dd's 64 MB buffer is filled from /dev/zero: 64 MB of memory touched.
          argv: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd status $?"; read _'],
          memory: '32m',
          'memory-swap': '32m',
        },
        whileRunning: async (c) => {
          let out = '';
          c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          await outputContains(c, 'dd status', 10_000 * SLOW);
          ddStatus = /dd status (\d+)/.exec(out)?.[1];
          p = placement(c.pid, c.config.id);
          remember(env, p);
          kills = oomKillsIn(p);
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      if (!p) return { ok: false, expected: 'the container runs', found: t.stdout + t.stderr };
      const np = notPlaced(p, t.config.id);
      if (np) return np;
      return expectThat(
        ddStatus === '137' && (kills ?? 0) >= 1,
        `dd killed by SIGKILL (status 137), oom_kill ≥ 1 in ${V2 ? 'memory.events' : 'memory.oom_control'}`,
        `dd status ${ddStatus ?? '?'}, oom_kill ${kills ?? '(no such file)'}`,
        ddStatus === '0'
          ? 'dd allocated 64 MB in a 32m container: no memory limit was in force (and --memory-swap 32m: no swap either) — cgroup-v2.rst: memory.max, memory.swap.max'
          : `dd status ${ddStatus ?? '?'}, oom_kill ${kills ?? '(no such file)'}: the counter is read from the container’s own cgroup (${V2 ? 'memory.events' : 'memory.oom_control'})`,
      );
    },
  },
  {
    name: 'memory: the run exits 137 and says the container was OOM-killed',
    async run(env) {
      const t = await env.trial({
        config: {
          argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
          memory: '32m',
          'memory-swap': '32m',
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      const said = t.notes.some((n) => /OOM-killed/.test(n));
      return expectThat(
        t.status === 137 && said,
        'exit status 137 and a note "OOM-killed: …"',
        `exit status ${t.status}; notes: ${t.notes.length ? t.notes.join('; ') : 'none'}`,
        t.status === 137
          ? 'killed by SIGKILL, and nobody said why: the cgroup counts the OOM killer’s kills (memory.events / memory.oom_control: oom_kill) — the counter goes with the cgroup, so it is read before the cgroup is removed; the sentence goes onto `notes`'
          : 'the 64 MB dd was not killed: the memory limit is not in force',
      );
    },
  },
  {
    name: 'CPU: a busy loop under --cpus 0.25 uses at most about a quarter of a CPU, held back by the quota (the cgroup’s own usage and throttling counters)',
    async run(env) {
      const r = await cpuShare(env, '0.25');
      if (!('share' in r)) return r;
      const { share, throttled } = r;
      return expectThat(
        // At most the quota, and the quota is what held it back (throttled periods) — a busy
        // machine can hold an unlimited loop under 0.4 CPUs, but never throttles it.
        share <= 0.4 && (throttled === undefined ? share >= 0.12 : throttled > 0),
        `at most 0.40 CPUs over 1.5 s (quota 25 ms per 100 ms), held back by the quota: cpu.stat nr_throttled > 0`,
        `${share.toFixed(2)} CPUs${throttled === undefined ? '' : `, throttled in ${throttled} periods (cpu.stat nr_throttled)`}`,
        share > 0.4 || throttled === 0
          ? `no CPU quota in force: the loop got ${share.toFixed(2)} CPUs and was never throttled. The quota is CPU time per period, both in µs (${V2 ? 'cgroup-v2.rst: cpu.max' : 'sched-bwc.rst: cpu.cfs_quota_us, cpu.cfs_period_us'})`
          : 'less than asked for: is the quota in µs, per a 100000 µs period?',
      );
    },
  },
  {
    name: 'CPU: without --cpus the same loop is never throttled (cpu.stat nr_throttled stays 0)',
    async run(env) {
      const r = await cpuShare(env, undefined);
      if (!('share' in r)) return r;
      const { share, throttled } = r;
      // Throttling, not the share: how much CPU one loop gets depends on what
      // else the machine runs; whether the cgroup's quota stopped it does not.
      return expectThat(
        throttled === undefined ? share >= 0.5 : throttled === 0,
        throttled === undefined
          ? 'at least 0.5 CPUs over 1.5 s (no cpu.stat nr_throttled here to read)'
          : 'nr_throttled 0 in cpu.stat: the loop never waited for a quota',
        `${share.toFixed(2)} CPUs, throttled in ${throttled ?? '?'} periods`,
        'a CPU quota is in force although none was asked for: only the limits that were given are written (a limit not set is undefined)',
      );
    },
  },
  {
    name: 'pids: with --pids-limit 10 a fork loop hits "Resource temporarily unavailable", and pids.events counts it',
    async run(env) {
      let p: Placement | undefined;
      let current: string | undefined;
      let events: number | undefined;
      let err = '';
      const t = await env.trial({
        config: {
          // A failed fork ends a non-interactive busybox shell: the loop runs in a subshell of its own.
          argv: ['sh', '-c', '(i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done); echo forked; read _'],
          'pids-limit': '10',
        },
        whileRunning: async (c) => {
          c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
          await outputContains(c, 'forked', 10_000 * SLOW);
          // stderr is another pipe: give the shell's complaint a moment to arrive, read while alive.
          for (let i = 0; i < 100 && !REFUSED.test(err); i++) await sleep(20 * SLOW);
          p = placement(c.pid, c.config.id);
          remember(env, p);
          current = readIn(p, 'pids', 'pids.current');
          const ev = readIn(p, 'pids', 'pids.events');
          events = ev === undefined ? undefined : readKeyed(ev)['max'];
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      if (!p) return { ok: false, expected: 'the container runs', found: t.stdout + t.stderr };
      const np = notPlaced(p, t.config.id);
      if (np) return np;
      const refused = REFUSED.test(err) || REFUSED.test(t.stderr);
      const n = current === undefined ? undefined : Number(current);
      return expectThat(
        refused && n !== undefined && n >= 2 && n <= 10 && (events ?? 0) >= 1,
        'the shell says "can\'t fork: Resource temporarily unavailable", pids.current ≤ 10, pids.events max ≥ 1',
        `${refused ? 'fork refused' : 'no fork refused'}, pids.current ${current ?? '?'}, pids.events max ${events ?? '?'}`,
        refused ? 'read pids.current and pids.events in the container’s cgroup' : 'no pids limit: write pids.max',
      );
    },
  },
  {
    name: 'freeze: a paused container’s processes are frozen and use no CPU; unpause resumes them',
    async run(env) {
      const o: {
        p?: Placement;
        frozen?: boolean;
        state?: string;
        whileFrozen?: number;
        afterThaw?: number;
        error?: string;
      } = {};
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'echo ready; while :; do :; done'] },
        whileRunning: async (c) => {
          try {
            await outputContains(c, 'ready');
            o.p = placement(c.pid, c.config.id);
            remember(env, o.p);
            if (o.p.wrong.length > 0) return;
            // What `cellblock pause` / `unpause` do.
            const cg = openCgroup(c.config.id);
            await cg.freeze();
            o.frozen = V2
              ? readKeyed(readIn(o.p, '', 'cgroup.events') ?? '')['frozen'] === 1
              : readIn(o.p, 'freezer', 'freezer.state') === 'FROZEN';
            o.state = readFileSync(`/proc/${c.pid}/status`, 'utf8').match(/^State:\s*(.*)$/m)?.[1];
            const u0 = cpuUsageUsec(o.p) ?? 0;
            await sleep(500);
            o.whileFrozen = (cpuUsageUsec(o.p) ?? 0) - u0;
            await cg.thaw();
            const u1 = cpuUsageUsec(o.p) ?? 0;
            await sleep(500);
            o.afterThaw = (cpuUsageUsec(o.p) ?? 0) - u1;
          } catch (err) {
            o.error = (err as Error).message;
          } finally {
            c.kill('SIGKILL');
          }
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      if (!o.p) return { ok: false, expected: 'the container runs', found: t.stdout + t.stderr };
      const np = notPlaced(o.p, t.config.id);
      if (np) return np;
      if (o.error) {
        return { ok: false, expected: 'pause and unpause work', found: o.error, hint: 'is the freezer there?' };
      }
      // Resumed: it ran again at all. How much in 0.5 s depends on what else the machine runs.
      const ok = o.frozen === true && (o.whileFrozen ?? 1) < 20_000 && (o.afterThaw ?? 0) > 10_000;
      return expectThat(
        ok,
        'frozen while paused, < 20 ms of CPU in 0.5 s frozen, running again (> 10 ms in 0.5 s) after unpause',
        `frozen: ${o.frozen}, state ${o.state ?? '?'}, CPU while frozen ${((o.whileFrozen ?? 0) / 1000).toFixed(0)} ms, after unpause ${((o.afterThaw ?? 0) / 1000).toFixed(0)} ms`,
        o.frozen !== true
          ? 'the cgroup never reported frozen: is the container’s process in it?'
          : (o.whileFrozen ?? 1) >= 20_000
            ? 'CPU time went on while frozen: are all of the container’s processes in its cgroup? (a freezer freezes its cgroup’s members only)'
            : 'the loop did not run again after unpause',
      );
    },
  },
  {
    name: 'io: --device-write-bps on a loop device holds direct writes to about 1 MB/s',
    async run(env) {
      const dir = mkdtempSync(join(tmpdir(), TMP_PREFIX));
      let dev: string | undefined;
      try {
        const file = join(dir, 'disk.img');
        spawnSync('truncate', ['-s', '16M', file]);
        const r = spawnSync('losetup', ['--find', '--show', file], { encoding: 'utf8' });
        dev = r.status === 0 ? r.stdout.trim() : undefined;
        if (!dev) {
          return skipCheck(
            `no loop device could be made (losetup: ${(r.stderr || r.error?.message || '').trim()}) — the io limit is not shown on this machine`,
            'a loop device to throttle',
          );
        }
        const minor = Number(/(\d+)$/.exec(dev)![1]);
        let p: Placement | undefined;
        let out = '';
        const t = await env.trial({
          config: {
            // The node exists on the host's /dev; inside a /dev of the container's own (lesson 03) it is made.
            // Direct I/O (oflag=direct): v1 throttles only I/O it can attribute to the cgroup when it is
            // issued, and buffered writes reach the disk later, from the kernel's writeback — unthrottled.
            argv: [
              'sh',
              '-c',
              `echo ready; read _; [ -b ${dev} ] || mknod ${dev} b 7 ${minor}; read a _ </proc/uptime; ` +
                `dd if=/dev/zero of=${dev} bs=64k count=32 oflag=direct 2>/dev/null; s=$?; read b _ </proc/uptime; echo "$a $b $s done"; read _`,
            ],
            'device-write-bps': `${dev}:1mb`,
          },
          timeoutMs: 20_000 * SLOW,
          whileRunning: async (c) => {
            c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
            if (!(await outputContains(c, 'ready'))) return;
            p = placement(c.pid, c.config.id);
            remember(env, p);
            c.stdin?.write('\n');
            // Read while the command is alive: nothing depends on the pipe's end after the container.
            await outputContains(c, 'done', 15_000 * SLOW);
          },
        });
        const failed = startFailure(t);
        if (failed) return failed;
        if (!p) return { ok: false, expected: 'the container prints "ready"', found: t.stdout + t.stderr };
        const np = notPlaced(p, t.config.id);
        if (np) return np;
        // /proc/uptime before and after the 2 MB: seconds, to 10 ms.
        const m = /^([\d.]+) ([\d.]+) (\d+) done$/m.exec(out);
        const rate = m && m[3] === '0' ? 2 / (Number(m[2]) - Number(m[1]) || 0.01) : undefined;
        return expectThat(
          rate !== undefined && rate >= 0.4 && rate <= 1.6,
          '2 MB written with O_DIRECT at 0.4–1.6 MB/s (limit 1 MB/s)',
          rate === undefined
            ? `dd: ${m ? `exit ${m[3]}` : 'no result'}${t.stderr.trim() ? `; ${t.stderr.trim()}` : ''}`
            : rate >= 150
              ? 'over 200 MB/s (done within the 10 ms /proc/uptime can tell)'
              : `${rate.toFixed(2)} MB/s (${m![1]} → ${m![2]} s of uptime)`,
          rate !== undefined && rate > 1.6
            ? `no write limit in force on ${dev} (7:${minor}), though the container was in its cgroup: a bandwidth limit names its device as "major:minor" and a rate in bytes per second (${V2 ? 'cgroup-v2.rst: io.max' : 'blkio-controller.rst: blkio.throttle.write_bps_device'})`
            : rate === undefined
              ? 'dd did not finish its 2 MB: see its exit status'
              : 'slower than the limit: is the rate in bytes per second?',
        );
      } finally {
        if (dev) spawnSync('losetup', ['--detach', dev]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'v2, your node:fs code on a fixture cgroup2 tree (on every machine; the real kernel: the checks above, on cgroup v2): mkdir + subtree_control, the limit files, cgroup.procs, memory.events, rmdir retried on EBUSY',
    async run(env) {
      const r = await fixtureRun(env);
      const bad = r.parts.filter((x) => !x.ok);
      const where = V2
        ? 'this machine is cgroup v2: the checks above ran the same code on the real kernel'
        : 'this machine is cgroup v1: ran against a fixture here; on the real kernel in the cgroup v2 VM (tests/v2vm) or on a v2 machine';
      return expectThat(
        bad.length === 0,
        'each function does its part to the fixture tree',
        `${r.parts.map((x) => `${x.name} ${x.ok ? 'ok' : `✗ ${x.found}`}`).join('; ')} — ${where}`,
        bad[0]?.hint,
      );
    },
  },
  {
    name: 'bad limits are rejected before anything exists: 512Q, -5m, 1.5.3G, --cpus 0, a missing device',
    provided: true,
    async run(env) {
      const cases: [Record<string, string>, RegExp][] = [
        [{ memory: '512Q' }, /--memory 512Q: "512Q" is not a size/],
        [{ memory: '-5m' }, /--memory -5m: .*negative/],
        [{ memory: '1.5.3G' }, /--memory 1\.5\.3G: "1\.5\.3G" is not a size/],
        [{ cpus: '0' }, /--cpus 0: 0 must be more than 0/],
        [{ 'device-write-bps': '/dev/cellblock-no-such-disk:1mb' }, /\/dev\/cellblock-no-such-disk does not exist/],
      ];
      const found: string[] = [];
      let ok = true;
      for (const [config, message] of cases) {
        const t = await env.trial({ config: { argv: ['true'], ...config } });
        const good = t.error?.name === 'ConfigError' && message.test(t.error.message) && t.spawned === 0;
        ok &&= good;
        found.push(good ? 'rejected' : `${JSON.stringify(config)} → ${t.error?.message ?? `ran (status ${t.status})`}`);
      }
      return expectThat(
        ok,
        'each: a ConfigError naming the value, and nothing spawned',
        found.join('; '),
        'keep cgroupValidations in the lesson’s validate list',
      );
    },
  },
  {
    name: 'after every run — OOM-killed and SIGKILLed ones too — the container’s cgroup directory is gone',
    async run(env) {
      let p: Placement | undefined;
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'echo ready; sleep 60'], memory: '32m' },
        whileRunning: async (c) => {
          await outputContains(c, 'ready');
          p = placement(c.pid, c.config.id);
          remember(env, p);
          c.kill('SIGKILL');
        },
      });
      const failed = startFailure(t);
      if (failed) return failed;
      if (!p) return { ok: false, expected: 'the container runs', found: t.stdout + t.stderr };
      const np = notPlaced(p, t.config.id);
      if (np) return np;
      const dirs = [...(seenDirs.get(env) ?? [])];
      const left = dirs.filter((d) => existsSync(d));
      // The lesson's provided last step removes what the learner's code left, and says so.
      const netted = t.notes.find((n) => n.startsWith('cgroup: '));
      return expectThat(
        t.status === 137 && left.length === 0 && dirs.length > 0 && !netted,
        `SIGKILL → status 137, and none of the ${dirs.length} cgroup directories of this lesson's containers left`,
        `status ${t.status}; left: ${left.length ? left.join(', ') : 'none'}${netted ? `; ${netted.split(t.config.id).join('<id>')}` : ''}`,
        left.length > 0 || netted
          ? 'a cgroup outlived its container: hostCleanup runs after every end, also a SIGKILL or an OOM kill; a cgroup is removed with rmdir(2) once its last process has left (man 7 cgroups)'
          : 'see the other lines',
      );
    },
  },
]);
