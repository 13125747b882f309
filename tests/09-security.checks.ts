/**
 * Lesson 09 checks: root in the container is a limited root.
 *
 * Looked at from the host where the kernel shows it — /proc/<pid>/status of the
 * running command (CapEff, CapBnd, CapAmb, NoNewPrivs, Seccomp), its mount
 * table — and by trying, inside, what an attacker would try: each breakout is
 * run twice, once with every lesson but this one (it must work: the check
 * proves it can) and once with it (it must fail). Devices are proved with a
 * loop device the check itself creates over a small image holding a marker
 * file — never one of the host's disks — and detaches afterwards (the host
 * inventory knows such devices by their image's name, should a run die first).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOP_IMAGE_PREFIX } from '../src/core/host/inventory.js';
import { RUNC_ALLOWED_DEVICES } from '../src/core/oci/spec.js';
import type { LoadedLesson } from '../src/core/lesson.js';
import { defineChecks, expectThat, skipCheck, startFailure, type CheckEnv } from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';

const LESSON = '09-security';
const DOCKER_CAPS = '00000000a80425fb';
const without = (lessons: LoadedLesson[]): LoadedLesson[] => lessons.filter((l) => l.id !== LESSON);

/** "Key:\tvalue" lines of a /proc/<pid>/status text. */
function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

interface Seen {
  t: TrialResult;
  /** /proc/<pid>/status of the running command, read from the host. */
  status: Record<string, string>;
  /** /proc/<pid>/mountinfo of the running command: mount point → "fstype options". */
  mounts: Map<string, string>;
}

/** A container that waits on stdin while the host reads its status and mount table. */
function look(env: CheckEnv, key: string, extra: Record<string, unknown> = {}): Promise<Seen> {
  return env.once(key, async () => {
    const seen: Partial<Seen> = { status: {}, mounts: new Map() };
    seen.t = await env.trial({
      config: { argv: ['sh', '-c', 'read _'], ...extra },
      whileRunning: (c) => {
        try {
          seen.status = statusFields(readFileSync(`/proc/${c.pid}/status`, 'utf8'));
          for (const line of readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8').split('\n').filter(Boolean)) {
            const f = line.split(' ');
            const dash = f.indexOf('-');
            seen.mounts!.set(f[4]!, `${f[dash + 1]} ${f[5]}`);
          }
        } catch {
          // it ended already: the fields stay empty and the checks say so
        }
      },
    });
    return seen as Seen;
  });
}

const show = (s: Record<string, string>, keys: string[]): string =>
  keys.map((k) => `${k} ${s[k] ?? '(none)'}`).join(', ');

/** Run `script` in sh, with and without this lesson; both outputs. */
async function both(
  env: CheckEnv,
  script: string,
  extra: Record<string, unknown> = {},
): Promise<{ off: TrialResult; on: TrialResult }> {
  const config = { argv: ['sh', '-c', script], ...extra };
  const off = await env.trial({ config, lessons: without });
  const on = await env.trial({ config });
  return { off, on };
}

const out = (t: TrialResult): string =>
  t.error
    ? `${t.error.name}: ${t.error.message}`
    : `status ${t.status}: ${(t.stdout + t.stderr).trim() || '(no output)'}`;

/** A breakout: works without the lesson (proved), fails with it. */
function breakout(
  name: string,
  script: string,
  worked: (t: TrialResult) => boolean,
  hint: string,
  extra: Record<string, unknown> = {},
) {
  return {
    name,
    async run(env: CheckEnv) {
      const { off, on } = await both(env, script, extra);
      if (off.error || !worked(off)) {
        return expectThat(
          false,
          'the breakout works without this lesson',
          out(off),
          'an earlier lesson changed: re-run its verify',
        );
      }
      return startFailure(on) ?? expectThat(!worked(on), 'refused with this lesson in place', out(on), hint);
    },
  };
}

/** A loop device over a fresh ext2 image holding `marker`; always detached and removed. */
async function withLoopDevice<T>(
  fn: (dev: { major: number; minor: number }, marker: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `${LOOP_IMAGE_PREFIX}src-`));
  const image = join(tmpdir(), `${LOOP_IMAGE_PREFIX}${randomBytes(4).toString('hex')}.img`);
  const marker = `loop marker ${randomBytes(4).toString('hex')}`;
  let device: string | undefined;
  try {
    writeFileSync(join(dir, 'marker'), `${marker}\n`);
    const mk = spawnSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-d', dir, image, '1M'], { encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`mke2fs: ${mk.stderr.trim()}`);
    const lo = spawnSync('losetup', ['--find', '--show', image], { encoding: 'utf8' });
    if (lo.status !== 0) throw new Error(`losetup: ${lo.stderr.trim()}`);
    device = lo.stdout.trim();
    const name = device.replace('/dev/', '');
    const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    return await fn({ major: major!, minor: minor! }, marker);
  } finally {
    if (device) spawnSync('losetup', ['-d', device]);
    rmSync(image, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

const noLoop = (): string | undefined =>
  spawnSync('losetup', ['--version']).status === 0 && spawnSync('mke2fs', ['-V']).status === 0
    ? undefined
    : 'losetup or mke2fs is missing (util-linux, e2fsprogs)';

// The init's own fds at the chdir: the sync socket (3) and what Node opened right after (epoll, eventfd, pipes).
const CVE_FD_RANGE = [3, 4, 5, 6];

export default defineChecks(LESSON, [
  {
    name: `CapEff and CapBnd are Docker's default set ${DOCKER_CAPS}, CapAmb is empty`,
    async run(env) {
      const s = await look(env, 'default');
      const st = s.status;
      return (
        startFailure(s.t) ??
        expectThat(
          st['CapEff'] === DOCKER_CAPS && st['CapBnd'] === DOCKER_CAPS && st['CapAmb'] === '0000000000000000',
          `CapEff ${DOCKER_CAPS}, CapBnd ${DOCKER_CAPS}, CapAmb 0000000000000000`,
          show(st, ['CapEff', 'CapBnd', 'CapAmb']),
          st['CapBnd'] !== DOCKER_CAPS
            ? 'after execve, root gets (inheritable | bounding): what is still in the bounding set comes back — drop it there (man 7 capabilities, "Capability bounding set")'
            : 'the effective set after execve follows the bounding and inheritable sets: keep inheritable empty',
        )
      );
    },
  },
  {
    name: 'NoNewPrivs is 1',
    async run(env) {
      const s = await look(env, 'default');
      return (
        startFailure(s.t) ??
        expectThat(
          s.status['NoNewPrivs'] === '1',
          'NoNewPrivs 1',
          show(s.status, ['NoNewPrivs']),
          'man 2 prctl, PR_SET_NO_NEW_PRIVS',
        )
      );
    },
  },
  {
    name: 'a seccomp filter is in force: Seccomp 2, Seccomp_filters 1',
    async run(env) {
      const s = await look(env, 'default');
      return (
        startFailure(s.t) ??
        expectThat(
          s.status['Seccomp'] === '2' && s.status['Seccomp_filters'] === '1',
          'Seccomp 2, Seccomp_filters 1',
          show(s.status, ['Seccomp', 'Seccomp_filters']),
          s.status['Seccomp'] === '0'
            ? 'no filter was installed: man 2 seccomp, SECCOMP_SET_MODE_FILTER'
            : 'exactly one filter: install it once',
        )
      );
    },
  },
  {
    name: 'masked and read-only paths as runc sets them: /proc/keys, /proc/timer_list, /sys/firmware hidden; /proc/sys read-only',
    async run(env) {
      const s = await look(env, 'default');
      // Only what this kernel has: a masked path that does not exist is skipped.
      const masked = ['/proc/keys', '/proc/timer_list', '/proc/kcore', '/proc/sched_debug', '/sys/firmware'].filter(
        (p) => existsSync(p),
      );
      const wrong = [
        ...masked.filter((p) => !s.mounts.has(p)).map((p) => `${p}: not masked`),
        ...['/proc/sys', '/proc/irq', '/proc/bus']
          .filter((p) => existsSync(p))
          .filter((p) => !(s.mounts.get(p) ?? '').split(' ')[1]?.split(',').includes('ro'))
          .map((p) => `${p}: ${s.mounts.has(p) ? 'not read-only' : 'no mount'}`),
      ];
      return (
        startFailure(s.t) ??
        expectThat(
          wrong.length === 0,
          `a mount on each of ${masked.join(', ')}; /proc/sys, /proc/irq, /proc/bus read-only`,
          wrong.length === 0 ? 'all there' : wrong.join(', '),
          'a /dev/null bind over a file, an empty read-only tmpfs over a directory; a read-only path is a bind of itself, remounted MS_RDONLY (man 2 mount)',
        )
      );
    },
  },
  breakout(
    'breakout: writing a /proc/sys key works without this lesson, and is refused with it (read-only /proc/sys)',
    // kernel.domainname is per UTS namespace: the write changes only the container's own.
    'echo cellblock-breakout > /proc/sys/kernel/domainname && echo WROTE',
    (t) => t.stdout.includes('WROTE'),
    '/proc/sys must be read-only: bind it onto itself and remount the bind MS_RDONLY',
  ),
  breakout(
    'breakout: `mount -o remount,rw /sys` works without this lesson, and is refused with it (no CAP_SYS_ADMIN)',
    'mount -o remount,rw /sys && echo REMOUNTED',
    (t) => t.stdout.includes('REMOUNTED'),
    'remounting needs CAP_SYS_ADMIN: it must not be in the bounding set (it comes back after execve otherwise)',
  ),
  breakout(
    'breakout: `unshare -U` (a user namespace needs no capability) works without this lesson, and is refused with it (seccomp)',
    'unshare -U true && echo UNSHARED',
    (t) => t.stdout.includes('UNSHARED'),
    'no capability guards unshare(CLONE_NEWUSER): only the filter can — unshare is on the deny list',
  ),
  breakout(
    'breakout: `unshare -m` works without this lesson, and is refused with it',
    'unshare -m true && echo UNSHARED',
    (t) => t.stdout.includes('UNSHARED'),
    'unshare needs CAP_SYS_ADMIN for a mount namespace, and the filter refuses it anyway',
  ),
  breakout(
    'breakout: loading a kernel module reaches the module loader without this lesson, and is refused with it',
    // A junk file: the loader rejects it as a module, which proves the call got there. Nothing is loaded.
    'echo junk > /tmp/junk.ko; insmod /tmp/junk.ko',
    (t) => !/not permitted/i.test(t.stderr) && /insmod/.test(t.stderr),
    'init_module / finit_module need CAP_SYS_MODULE, and are on the deny list',
  ),
  {
    name: 'breakout: with CAP_SYS_ADMIN added, `mount` is still refused by the filter — and works with seccomp=unconfined too',
    async run(env) {
      const script = 'mount -t tmpfs x /mnt && echo MOUNTED';
      const filtered = await env.trial({ config: { argv: ['sh', '-c', script], 'cap-add': 'SYS_ADMIN' } });
      const open = await env.trial({
        config: { argv: ['sh', '-c', script], 'cap-add': 'SYS_ADMIN', 'security-opt': 'seccomp=unconfined' },
      });
      return (
        startFailure(filtered) ??
        startFailure(open) ??
        expectThat(
          !filtered.stdout.includes('MOUNTED') && open.stdout.includes('MOUNTED'),
          '--cap-add SYS_ADMIN: refused; with seccomp=unconfined as well: MOUNTED',
          `--cap-add SYS_ADMIN: ${out(filtered)}; + seccomp=unconfined: ${out(open)}`,
          open.stdout.includes('MOUNTED')
            ? 'the filter must refuse mount(2) (and umount2, pivot_root, the new mount API): look at the deny rule'
            : '--cap-add must put the capability back (bounding set and capset), and seccomp=unconfined must install no filter',
        )
      );
    },
  },
  {
    name: 'breakout: mknod + mount of a loop device holding a marker works without this lesson; with it, even with SYS_ADMIN and no filter, the device cgroup refuses it',
    async run(env) {
      const missing = noLoop();
      if (missing) return skipCheck(missing, 'the device breakout refused');
      return withLoopDevice(async ({ major, minor }, marker) => {
        const script = `mknod /tmp/disk b ${major} ${minor} && mkdir -p /tmp/m && mount -t ext2 /tmp/disk /tmp/m && cat /tmp/m/marker; umount /tmp/m 2>/dev/null; true`;
        const off = await env.trial({ config: { argv: ['sh', '-c', script] }, lessons: without });
        const loose = { 'cap-add': 'SYS_ADMIN', 'security-opt': 'seccomp=unconfined' };
        const on = await env.trial({ config: { argv: ['sh', '-c', script], ...loose } });
        const plain = await env.trial({ config: { argv: ['sh', '-c', script] } });
        if (!off.stdout.includes(marker)) {
          return expectThat(
            false,
            `without this lesson: "${marker}"`,
            out(off),
            'an earlier lesson changed: re-run its verify',
          );
        }
        return (
          startFailure(on) ??
          startFailure(plain) ??
          expectThat(
            !on.stdout.includes(marker) && !plain.stdout.includes(marker),
            'refused by default, and refused with --cap-add SYS_ADMIN --security-opt seccomp=unconfined (the device cgroup)',
            `default: ${out(plain)}; SYS_ADMIN + unconfined: ${out(on)}`,
            'opening a block device must be refused by the container’s cgroup: deny all, then allow DEVICE_RULES, before the command runs',
          )
        );
      });
    },
  },
  {
    name: 'an allow list the runtime hands over (config.deviceRules: cellblock-oci’s, from linux.resources.devices) is the one in force',
    async run(env) {
      // Major 240 is "local/experimental use" (the kernel's devices.txt): no
      // driver has it, so an open the cgroup lets through fails with ENXIO,
      // one it refuses with EPERM — the answer tells which list was in force.
      const script = 'mknod /tmp/dev240 c 240 0 && cat /tmp/dev240';
      const rules = [...RUNC_ALLOWED_DEVICES, { type: 'c' as const, major: 240, minor: 0, access: 'rw' }];
      const given = await env.trial({ config: { argv: ['sh', '-c', script], deviceRules: rules } });
      const plain = await env.trial({ config: { argv: ['sh', '-c', script] } });
      const says = (t: TrialResult): string => (t.stderr.trim().split('\n').pop() ?? '') || out(t);
      return (
        startFailure(given) ??
        startFailure(plain) ??
        expectThat(
          /No such device/i.test(given.stderr) && /not permitted/i.test(plain.stderr),
          'with the given list (c 240:0 rw allowed): "No such device or address" (the cgroup let the open through); with Docker’s: "Operation not permitted"',
          `given: ${says(given)}; default: ${says(plain)}`,
          /not permitted/i.test(given.stderr)
            ? 'the list in force was not the one in config.deviceRules: when the runtime gives one, put that one in force instead of DEVICE_RULES'
            : 'without a list of its own, the container must get DEVICE_RULES: deny all, then allow the list (src/core/cgroups/devices.ts)',
        )
      );
    },
  },
  {
    name: 'clone with CLONE_NEWUSER is refused, clone3 answers ENOSYS, and a plain fork still works',
    async run(env) {
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'secprobe clone-newuser; secprobe clone3; (true) && echo FORKED'] },
      });
      const ok =
        t.stdout.includes('clone(CLONE_NEWUSER): EPERM') &&
        t.stdout.includes('clone3: ENOSYS') &&
        t.stdout.includes('FORKED');
      return (
        startFailure(t) ??
        expectThat(
          ok,
          'clone(CLONE_NEWUSER): EPERM, clone3: ENOSYS, FORKED',
          out(t),
          t.stdout.includes('FORKED')
            ? "test clone's first argument against the CLONE_NEW* flags (BPF_JSET), and answer clone3 with ENOSYS so glibc falls back to clone"
            : 'a plain fork must still work: only namespace flags are refused',
        )
      );
    },
  },
  {
    name: 'a system call through another ABI (x32 on x86_64) kills the process: the filter checks the architecture',
    async run(env) {
      if (process.arch !== 'x64') return skipCheck('the x32 ABI exists only on x86_64', 'SIGSYS (status 159)');
      const t = await env.trial({ config: { argv: ['secprobe', 'x32'] } });
      return (
        startFailure(t) ??
        expectThat(
          t.status === 159,
          'killed by SIGSYS: status 159',
          out(t),
          'seccomp_filter.rst: check seccomp_data.arch first, and on x86_64 refuse numbers with X32_SYSCALL_BIT — they would slip past every rule',
        )
      );
    },
  },
  {
    name: '--cap-drop NET_RAW: CapEff 00000000a80405fb and ping is refused, while the default set pings',
    async run(env) {
      const script = 'grep CapEff /proc/self/status; ping -c1 -W2 127.0.0.1 >/dev/null 2>&1 && echo PINGED';
      const dflt = await env.trial({ config: { argv: ['sh', '-c', script] } });
      const dropped = await env.trial({ config: { argv: ['sh', '-c', script], 'cap-drop': 'NET_RAW' } });
      return (
        startFailure(dflt) ??
        startFailure(dropped) ??
        expectThat(
          dflt.stdout.includes(DOCKER_CAPS) &&
            dflt.stdout.includes('PINGED') &&
            dropped.stdout.includes('00000000a80405fb') &&
            !dropped.stdout.includes('PINGED'),
          `default: ${DOCKER_CAPS}, PINGED; --cap-drop NET_RAW: 00000000a80405fb, no ping`,
          `default: ${out(dflt)}; --cap-drop NET_RAW: ${out(dropped)}`,
          'capabilitySet(config) is the set to keep: drop everything else from the bounding set',
        )
      );
    },
  },
  {
    name: '--privileged restores everything; seccomp=unconfined shows Seccomp 0; no-new-privileges=false shows NoNewPrivs 0 with the filter still on',
    async run(env) {
      const d = await look(env, 'default');
      const p = await look(env, 'privileged', { privileged: true });
      const u = await look(env, 'unconfined', { 'security-opt': 'seccomp=unconfined' });
      const n = await look(env, 'nnp-off', { 'security-opt': 'no-new-privileges=false' });
      const host = statusFields(readFileSync('/proc/self/status', 'utf8'));
      const ok =
        d.status['CapEff'] === DOCKER_CAPS &&
        p.status['CapEff'] === host['CapBnd'] &&
        p.status['Seccomp'] === '0' &&
        u.status['Seccomp'] === '0' &&
        u.status['CapEff'] === DOCKER_CAPS &&
        n.status['NoNewPrivs'] === '0' &&
        n.status['Seccomp'] === '2' &&
        n.status['CapEff'] === DOCKER_CAPS;
      const line = (what: string, s: Seen) =>
        `${what}: ${s.t.error ? s.t.error.message : show(s.status, ['CapEff', 'NoNewPrivs', 'Seccomp'])}`;
      return expectThat(
        ok,
        `default CapEff ${DOCKER_CAPS}; --privileged CapEff ${host['CapBnd']} Seccomp 0; unconfined Seccomp 0; no-new-privileges=false NoNewPrivs 0, Seccomp 2`,
        [line('default', d), line('--privileged', p), line('unconfined', u), line('nnp=false', n)].join('; '),
        n.t.error
          ? 'without no_new_privs, installing a filter needs CAP_SYS_ADMIN: it must happen before the capabilities go'
          : 'see the order in init(): each option turns off exactly one step',
      );
    },
  },
  {
    name: 'a custom profile (--security-opt seccomp=FILE) denying mkdir makes mkdir fail with EPERM',
    async run(env) {
      const dir = mkdtempSync(join(tmpdir(), 'cellblock-profile-'));
      const file = join(dir, 'no-mkdir.json');
      writeFileSync(
        file,
        JSON.stringify({
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
        }),
      );
      try {
        const t = await env.trial({
          config: {
            argv: ['sh', '-c', 'mkdir /tmp/x || echo REFUSED; touch /tmp/y && echo TOUCHED'],
            'security-opt': `seccomp=${file}`,
          },
        });
        return (
          startFailure(t) ??
          expectThat(
            /not permitted/i.test(t.stderr) && t.stdout.includes('REFUSED') && t.stdout.includes('TOUCHED'),
            'mkdir: Operation not permitted, REFUSED, TOUCHED',
            out(t),
            'profileFilter uses your archCheck and denyRule: a rule returns its action when the number matches',
          )
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'with --init, the init that stays PID 1 holds only the default set too',
    async run(env) {
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'grep -E "CapEff|CapPrm" /proc/1/status'], init: true },
      });
      const s = statusFields(t.stdout);
      return (
        startFailure(t) ??
        expectThat(
          s['CapEff'] === DOCKER_CAPS && s['CapPrm'] === DOCKER_CAPS,
          `PID 1: CapEff ${DOCKER_CAPS}, CapPrm ${DOCKER_CAPS}`,
          show(s, ['CapEff', 'CapPrm']),
          'the bounding set only matters at execve: a process that keeps running needs its own sets lowered (man 2 capset)',
        )
      );
    },
  },
  {
    name: 'CVE-2019-5736: the container cannot open the runtime’s binary (/proc/1/exe of the --init init, the host’s node) for writing',
    async run(env) {
      const hash = (): string => createHash('sha256').update(readFileSync(process.execPath)).digest('hex');
      const before = hash();
      const t = await env.trial({
        config: {
          argv: ['sh', '-c', 'secprobe open-write /proc/1/exe; readlink /proc/1/exe || echo NOLINK'],
          init: true,
        },
      });
      const refused = /open O_WRONLY: (EACCES|EPERM)/.test(t.stdout) && t.stdout.includes('NOLINK');
      return (
        startFailure(t) ??
        expectThat(
          refused && hash() === before,
          'open O_WRONLY: EACCES, /proc/1/exe cannot be followed, the host’s node unchanged',
          out(t),
          'ETXTBSY only means "running right now": make the init non-dumpable so nobody without CAP_SYS_PTRACE may follow its /proc links (man 2 prctl, PR_SET_DUMPABLE)',
        )
      );
    },
  },
  {
    name: 'CVE-2024-21626: the command starts with only fds 0, 1, 2, and `-w /proc/self/fd/N` cannot reach the host',
    provided: true,
    async run(env) {
      const fds = await env.trial({ config: { argv: ['sh', '-c', 'ls /proc/$$/fd; :'] } });
      const open = fds.stdout.split(/\s+/).filter(Boolean);
      const escaped: string[] = [];
      for (const n of CVE_FD_RANGE) {
        const t = await env.trial({ config: { argv: ['sh', '-c', 'pwd -P'], cwd: `/proc/self/fd/${n}` } });
        // Outside the container's root, getcwd(3) answers "(unreachable)/…".
        if (!t.error && t.status === 0 && !t.stdout.startsWith('/proc/')) escaped.push(`fd ${n}: ${t.stdout.trim()}`);
      }
      return (
        startFailure(fds) ??
        expectThat(
          open.join(' ') === '0 1 2' && escaped.length === 0,
          'fds 0 1 2; no -w /proc/self/fd/N leads out',
          `fds ${open.join(' ') || '(none)'}${escaped.length ? `; ${escaped.join('; ')}` : ''}`,
          'the core marks every fd ≥ 3 close-on-exec (src/core/init/exec.ts): keep it that way',
        )
      );
    },
  },
  {
    name: 'bad input is rejected before anything exists: an unknown capability, an unknown --security-opt, a malformed or unknown-action profile',
    provided: true,
    async run(env) {
      const dir = mkdtempSync(join(tmpdir(), 'cellblock-profile-'));
      try {
        writeFileSync(join(dir, 'broken.json'), '{ "defaultAction": ');
        writeFileSync(join(dir, 'action.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_PERHAPS' }));
        const cases: [Record<string, unknown>, string][] = [
          [{ 'cap-add': 'CAP_FLY' }, 'CAP_FLY'],
          [{ 'cap-drop': 'NOPE' }, 'NOPE'],
          [{ 'security-opt': 'apparmor=x' }, 'apparmor=x'],
          [{ 'security-opt': `seccomp=${join(dir, 'broken.json')}` }, 'broken.json'],
          [{ 'security-opt': `seccomp=${join(dir, 'action.json')}` }, 'SCMP_ACT_PERHAPS'],
        ];
        const wrong: string[] = [];
        for (const [extra, named] of cases) {
          const t = await env.trial({ config: { argv: ['true'], ...extra } });
          if (t.error?.name !== 'ConfigError' || !t.error.message.includes(named) || t.spawned !== 0) {
            wrong.push(
              `${JSON.stringify(extra)}: ${t.error ? `${t.error.name}: ${t.error.message}` : `status ${t.status}`} (spawned ${t.spawned})`,
            );
          }
        }
        return expectThat(
          wrong.length === 0,
          'a ConfigError naming each bad value, and no process spawned',
          wrong.length === 0 ? 'all five rejected' : wrong.join('; '),
          'the validations are src/core/security/options.ts: they must run before anything is created',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
]);
