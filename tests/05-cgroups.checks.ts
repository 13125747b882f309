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
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupMode, openCgroup } from '../src/core/cgroups/index.js';
import { v1Mounts, CGROUP_ROOT, type V1Controller } from '../src/core/cgroups/detect.js';
import { readKeyed } from '../src/core/cgroups/manager.js';
import { CGROUP_PARENT, TMP_PREFIX } from '../src/core/names.js';
import type { RunningContainer } from '../src/core/host/run.js';
import {
  defineChecks,
  expectThat,
  skipCheck,
  startFailure,
  type CheckEnv,
  type CheckResult,
} from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';

const MODE = cgroupMode();
const V2 = MODE === 'v2';
/** Timeouts grow on a slow machine (the test suite's emulated v2 VM sets CELLBLOCK_SLOW). */
const SLOW = Number(process.env['CELLBLOCK_SLOW'] ?? 1) || 1;
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
}

function placement(pid: number, id: string, paths = cgroupsOf(pid) ?? {}): Placement {
  const want = `/${CGROUP_PARENT}/${id}`;
  const mounts = v1Mounts();
  const dirs: Record<string, string> = {};
  for (const c of expectedControllers()) {
    const p = paths[c];
    if (p !== undefined) dirs[c] = join(V2 ? CGROUP_ROOT : (mounts[c as V1Controller] ?? '/nonexistent'), p);
  }
  return { paths, want, wrong: expectedControllers().filter((c) => paths[c] !== want), dirs };
}

function describePaths(p: Placement): string {
  const shown = expectedControllers().map((c) => `${c || '0:'}:${p.paths[c] ?? '?'}`);
  return [...new Set(shown)].join(' ');
}

/** Why the process is not where it should be, from where it is and what exists. */
function placementHint(p: Placement, id: string): string {
  const dir = V2 ? join(CGROUP_ROOT, CGROUP_PARENT, id) : join(v1Mounts().memory ?? CGROUP_ROOT, CGROUP_PARENT, id);
  if (!existsSync(dir)) {
    return `there is no ${dir}: create the container's cgroup in hostAfterSpawn (the manager is cgroupOf(config)), before the init is released`;
  }
  return `${dir} exists but the process is not in it: write its pid into the cgroup (addProcess(pid)) in hostBeforeExec, before the exec`;
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
    hint: anon(placementHint(p, id)),
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

/** Resolves once the container printed `text` on stdout (or after `ms`). */
function outputContains(c: RunningContainer, text: string, ms = 5000 * SLOW): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = '';
    const timer = setTimeout(() => resolve(false), ms);
    c.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
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
    name: 'the command is inside it from its first instruction (the process joined before the exec)',
    async run(env) {
      const t = await env.trial({ config: { argv: ['cat', '/proc/self/cgroup'] } });
      const failed = startFailure(t);
      if (failed) return failed;
      const p = placement(0, t.config.id, parseCgroupText(t.stdout));
      const anon = (text: string): string => text.split(t.config.id).join('<id>');
      return expectThat(
        p.wrong.length === 0,
        anon(`\`cat /proc/self/cgroup\`, the container's first command, shows ${p.want}`),
        describePaths(p),
        anon(placementHint(p, t.config.id)),
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
        V2
          ? `${first} holds ${o.values[first!] ?? 'nothing'}: write it in v2Files — one [file, value] pair per limit (the file names are in the README's table)`
          : `${first} holds ${o.values[first!] ?? 'nothing'}: write the limits (set(limitsFromConfig(config))) after create(), in hostAfterSpawn`,
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
          ? 'dd allocated 64 MB in a 32m container: no memory limit was written (and --memory-swap 32m: no swap either)'
          : 'read the memory counters of the container’s cgroup',
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
          ? 'killed, but nobody said why: in hostCleanup read oomKills() — before destroy() — and push a sentence with "OOM-killed" onto notes'
          : 'the 64 MB dd was not killed: the memory limit is not in force',
      );
    },
  },
  {
    name: 'CPU: a busy loop under --cpus 0.25 uses about a quarter of a CPU (the cgroup’s own usage counter)',
    async run(env) {
      const r = await cpuShare(env, '0.25');
      if (!('share' in r)) return r;
      const { share, throttled } = r;
      return expectThat(
        share >= 0.12 && share <= 0.4,
        'between 0.12 and 0.40 CPUs over 1.5 s (quota 25 ms per 100 ms)',
        `${share.toFixed(2)} CPUs${throttled === undefined ? '' : `, throttled in ${throttled} periods (cpu.stat nr_throttled)`}`,
        share > 0.4
          ? `no CPU quota: write the quota and period (${V2 ? 'cpu.max "25000 100000"' : 'cpu.cfs_quota_us 25000, cpu.cfs_period_us 100000'})`
          : 'less than asked for: is the quota in µs, per a 100000 µs period?',
      );
    },
  },
  {
    name: 'CPU: without --cpus the same loop uses about one CPU',
    async run(env) {
      const r = await cpuShare(env, undefined);
      if (!('share' in r)) return r;
      const { share } = r;
      return expectThat(
        share >= 0.5,
        'at least 0.5 CPUs over 1.5 s (one busy process; the machine may be busy too)',
        `${share.toFixed(2)} CPUs`,
        'a limit is applied although none was asked for: write only the limits that were given',
      );
    },
  },
  {
    name: 'pids: with --pids-limit 10 a fork loop hits "Resource temporarily unavailable", and pids.events counts it',
    async run(env) {
      let p: Placement | undefined;
      let current: string | undefined;
      let events: number | undefined;
      const t = await env.trial({
        config: {
          // A failed fork ends a non-interactive busybox shell: the loop runs in a subshell of its own.
          argv: ['sh', '-c', '(i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done); echo forked; read _'],
          'pids-limit': '10',
        },
        whileRunning: async (c) => {
          await outputContains(c, 'forked', 10_000 * SLOW);
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
      const refused = /Resource temporarily unavailable/.test(t.stderr);
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
      const ok = o.frozen === true && (o.whileFrozen ?? 1) < 20_000 && (o.afterThaw ?? 0) > 100_000;
      return expectThat(
        ok,
        'frozen while paused, < 20 ms of CPU in 0.5 s frozen, > 100 ms in 0.5 s after unpause',
        `frozen: ${o.frozen}, state ${o.state ?? '?'}, CPU while frozen ${((o.whileFrozen ?? 0) / 1000).toFixed(0)} ms, after unpause ${((o.afterThaw ?? 0) / 1000).toFixed(0)} ms`,
        'the loop kept running while frozen: are all of the container’s processes in its cgroup?',
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
        const t = await env.trial({
          config: {
            // The node exists on the host's /dev; inside a /dev of the container's own (lesson 03) it is made.
            argv: [
              'sh',
              '-c',
              `[ -b ${dev} ] || mknod ${dev} b 7 ${minor}; read a _ </proc/uptime; ` +
                `dd if=/dev/zero of=${dev} bs=64k count=32 oflag=direct 2>/dev/null || exit; read b _ </proc/uptime; echo "$a $b"`,
            ],
            'device-write-bps': `${dev}:1mb`,
          },
          timeoutMs: 20_000 * SLOW,
        });
        const failed = startFailure(t);
        if (failed) return failed;
        // /proc/uptime before and after the 2 MB: seconds, to 10 ms.
        const m = /^([\d.]+) ([\d.]+)$/m.exec(t.stdout);
        const rate = m ? 2 / (Number(m[2]) - Number(m[1]) || 0.01) : undefined;
        return expectThat(
          t.status === 0 && rate !== undefined && rate >= 0.4 && rate <= 1.6,
          '2 MB written with O_DIRECT at 0.4–1.6 MB/s (limit 1 MB/s)',
          rate === undefined
            ? `dd: ${t.stderr.trim() || `exit ${t.status}`}`
            : rate >= 150
              ? 'over 200 MB/s (done within the 10 ms /proc/uptime can tell)'
              : `${rate.toFixed(2)} MB/s (${m![1]} → ${m![2]} s of uptime)`,
          rate !== undefined && rate > 1.6
            ? `no write limit on ${dev}: write "major:minor" and the rate (${V2 ? 'io.max "7:N wbps=1048576"' : 'blkio.throttle.write_bps_device "7:N 1048576"'})`
            : 'slower than the limit: check the rate is in bytes per second',
        );
      } finally {
        if (dev) spawnSync('losetup', ['--detach', dev]);
        rmSync(dir, { recursive: true, force: true });
      }
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
      return expectThat(
        t.status === 137 && left.length === 0 && dirs.length > 0,
        `SIGKILL → status 137, and none of the ${dirs.length} cgroup directories of this lesson's containers left`,
        `status ${t.status}; left: ${left.length ? left.join(', ') : 'none'}`,
        'remove the cgroup in hostCleanup (destroy()): it runs after every end, also a SIGKILL or an OOM kill',
      );
    },
  },
]);
