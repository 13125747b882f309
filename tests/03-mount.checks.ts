/**
 * Lesson 03 checks: a mount namespace and a root of its own.
 *
 * Everything is looked at from the host: the container's mount table
 * (/proc/<pid>/mountinfo), its root directory (/proc/<pid>/root), its device
 * nodes through that root, and the host's own mount table before, during and
 * after. A marker file on the host's / tells whether the host's tree is still
 * reachable — by path, or by the classic chroot escape.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, MS_BIND, MS_SHARED } from '../src/native/constants.js';
import { sys } from '../src/native/index.js';
import { defaultRootfs } from '../src/core/paths.js';
import { defineChecks, expectThat, startFailure, type CheckEnv, type CheckResult } from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { mountPoints, namespacesOf } from '../src/workshop/probe.js';

interface MountEntry {
  point: string;
  options: string;
  fstype: string;
}

function parseMountinfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const dash = f.indexOf('-');
      return { point: f[4]!.replace(/\\040/g, ' '), options: f[5]!, fstype: f[dash + 1]! };
    });
}

function mountinfoOf(pid: number | 'self'): string {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return '';
  }
}

/** Lines in `b` that are not in `a`, and the other way round, as "+ line" / "- line" (mount point and type only). */
function mountDiff(a: string, b: string): string[] {
  const short = (l: string): string => {
    const [e] = parseMountinfo(l);
    return e ? `${e.point} (${e.fstype})` : l;
  };
  const as = new Set(a.split('\n').filter(Boolean));
  const bs = new Set(b.split('\n').filter(Boolean));
  return [
    ...[...bs].filter((l) => !as.has(l)).map((l) => `+ ${short(l)}`),
    ...[...as].filter((l) => !bs.has(l)).map((l) => `- ${short(l)}`),
  ];
}

// glibc's dev_t encoding (see makedev in src/native/fs.ts), for numbers below 2^32.
const major = (rdev: number): number => (rdev >>> 8) & 0xfff;
const minor = (rdev: number): number => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);

/** A file on the host's /, which the container must not see; removed afterwards. */
async function withMarker<T>(fn: (path: string, content: string) => Promise<T>): Promise<T> {
  const path = `/cellblock-host-marker-${randomBytes(4).toString('hex')}`;
  const content = `host secret ${path}\n`;
  writeFileSync(path, content, { flag: 'wx' });
  try {
    return await fn(path, content);
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * The rootfs, bind-mounted at a test-owned place and made *shared*, as every
 * mount is on a systemd host (here / is private, so without this a missing
 * MS_PRIVATE would go unnoticed). Unmounted afterwards, stacked mounts and all.
 */
async function onSharedMount<T>(fn: (rootfs: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync('/tmp/cellblock-shared-rootfs-');
  try {
    sys.mount(defaultRootfs(), dir, null, MS_BIND, null);
    sys.mount(null, dir, null, MS_SHARED, null);
    return await fn(dir);
  } finally {
    // Our bind, plus whatever a container propagated on top of it.
    for (let i = 0; i < 32; i++) {
      try {
        sys.umount2(dir, MNT_DETACH);
      } catch {
        break;
      }
    }
    rmdirSync(dir);
  }
}

interface Inside {
  t: TrialResult;
  marker: string;
  markerContent: string;
  /** The container's mount table, read from the host. */
  mounts: MountEntry[];
  /** Is /proc/<pid>/root the rootfs directory (same device and inode)? */
  rootIsRootfs: boolean;
  rootIsHostRoot: boolean;
  /** /dev entries seen through /proc/<pid>/root: name → "c 1:3", "l", "d", or "missing". */
  dev: Record<string, string>;
  hostBefore: string;
  hostDuring: string;
  hostAfter: string;
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function devEntry(path: string): string {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return 'missing';
    if (st.isCharacterDevice()) return `c ${major(st.rdev)}:${minor(st.rdev)}`;
    return st.isDirectory() ? 'd' : 'f';
  } catch {
    return 'missing';
  }
}

/** One container, looked at in every way the checks need: `ps`, the marker, then it waits on stdin. */
function inside(env: CheckEnv): Promise<Inside> {
  return env.once('inside', () =>
    withMarker(async (marker, markerContent) => {
      const rootfs = defaultRootfs();
      const dev: Record<string, string> = {};
      const o: Partial<Inside> = { marker, markerContent, mounts: [], dev };
      o.hostBefore = mountinfoOf('self');
      o.hostDuring = o.hostBefore; // if it never runs
      o.t = await env.trial({
        config: { argv: ['sh', '-c', `ps -o pid,comm; echo --; cat ${marker} 2>&1; echo --; read _`], rootfs },
        whileRunning: (c) => {
          o.hostDuring = mountinfoOf('self');
          o.mounts = parseMountinfo(mountinfoOf(c.pid));
          o.rootIsRootfs = sameFile(`/proc/${c.pid}/root/`, rootfs);
          o.rootIsHostRoot = sameFile(`/proc/${c.pid}/root/`, '/');
          for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'fd', 'stdin']) {
            dev[name] = devEntry(`/proc/${c.pid}/root/dev/${name}`);
          }
        },
      });
      o.hostAfter = mountinfoOf('self');
      return o as Inside;
    }),
  );
}

/** The hint steps of lesson 03's checks: found and concept first, then more precise (the `cellblock hint` counter). */
const steps = (...s: string[]): string => hintSteps('03-mount', ...s);

const NO_NEWNS = (): string =>
  steps(
    "no mount namespace yet: the container shares the host's mount table, so every mount it made would be the host's (man 7 mount_namespaces)",
    "no mount namespace yet: cloneFlags' flags go to unshare(2) before the init is spawned — the flag for mounts is the oldest one, without 'MNT' in its name",
  );

/** A start failure, with the hint for the mistakes this lesson's steps make. */
function failedStart(t: TrialResult, rootfs: string): CheckResult | undefined {
  const r = startFailure(t);
  if (!r || !t.error) return r;
  const msg = t.error.message;
  if (/refused/.test(msg) && /mnt namespace/.test(msg)) r.hint = NO_NEWNS();
  else if (/pivot_root/.test(msg) && /EINVAL|EBUSY/.test(msg) && !mountPoints('self').includes(rootfs))
    r.hint = steps(
      `pivot_root failed (${/EBUSY/.test(msg) ? 'EBUSY' : 'EINVAL'}) and the rootfs is a plain directory: new_root must be a mount point (man 2 pivot_root, ERRORS)`,
      'a directory becomes a mount point when something is mounted on it — a bind mount may have the same source and target (man 8 mount, "Bind mount operation")',
    );
  else if (/pivot_root/.test(msg) && /EINVAL/.test(msg))
    r.hint = steps(
      'pivot_root failed with EINVAL on a rootfs that is a mount point: it refuses when new_root or its parent has shared propagation (man 2 pivot_root, ERRORS)',
      'propagation is changed by mount(2) with only flags — applied to "/" and, recursively, everything below (man 7 mount_namespaces, "shared subtrees")',
    );
  return r;
}

/**
 * What is wrong with the container's root, as the next step to take — or
 * undefined when / is the rootfs and the host's tree is gone. Checks of the
 * details (/dev, /sys, ps) show this first: those cannot be right before it is.
 */
function rootProblem(o: Inside): string | undefined {
  if (o.t.namespaces.mnt === namespacesOf('self').mnt) return NO_NEWNS();
  if (o.mounts.filter((m) => m.point === '/').length > 1)
    return steps(
      "two mounts on /: after pivot_root the old root sits stacked on the new one, still holding the host's tree (man 2 pivot_root, NOTES)",
      'the old root has to be let go once the new one is in place: umount2(2) has a flag that detaches a busy mount lazily',
    );
  if (!o.rootIsRootfs)
    return o.rootIsHostRoot
      ? steps(
          "the container's / is still the host's: its root never changed (man 2 pivot_root)",
          "pivotRoot: pivot_root(2) makes the rootfs the namespace's root; its NOTES show the '.' form, after a chdir into the rootfs",
        )
      : "the container's / is some other directory: the root must become the rootfs itself, and the old root be detached (man 2 pivot_root)";
  return undefined;
}

const REQUIRED = ['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/sys'];

function summarize(list: string[], what: string, max = 8): string {
  return list.length <= max ? list.join(', ') : `${list.length} ${what}: ${list.slice(0, max).join(', ')}, …`;
}

/** The outcome of running `breakout MARKER`, for the two escape checks. */
function breakoutFailure(t: TrialResult, rootfs: string): CheckResult | undefined {
  if (!t.error) return undefined;
  const r = failedStart(t, rootfs)!;
  if (!existsSync(join(rootfs, 'usr/local/bin/breakout'))) {
    r.hint = 'the rootfs has no /usr/local/bin/breakout: rebuild it with `bash scripts/setup.sh`';
  } else if (/breakout/.test(t.error.message) && /ENOENT/.test(t.error.message)) {
    r.hint =
      "breakout was looked up on the host's PATH: the command still runs with the host's / as its root (man 2 pivot_root)";
  } else if (/refused chroot/.test(t.error.message)) {
    r.hint = `--chroot only runs inside a mount namespace of its own: ${NO_NEWNS()}`;
  }
  return r;
}

export default defineChecks('03-mount', [
  {
    name: 'the container has its own mount namespace',
    async run(env) {
      const o = await inside(env);
      const host = namespacesOf('self').mnt;
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          o.t.namespaces.mnt !== undefined && o.t.namespaces.mnt !== host,
          `a mnt inode other than the host's ${host}`,
          `${o.t.namespaces.mnt}`,
          NO_NEWNS(),
        )
      );
    },
  },
  {
    name: '`/` inside is the busybox rootfs (/proc/<pid>/root is the rootfs directory)',
    async run(env) {
      const o = await inside(env);
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          o.rootIsRootfs,
          `the directory ${o.t.config.rootfs}`,
          o.rootIsHostRoot ? "the host's /" : 'another directory',
          rootProblem(o),
        )
      );
    },
  },
  {
    name: '/proc/<pid>/mountinfo lists only the container’s mounts',
    async run(env) {
      const o = await inside(env);
      const found = o.mounts.map((m) => m.point);
      const hostOnly = mountPoints('self').filter((p) => !REQUIRED.includes(p));
      const leaked = found.filter((p) => hostOnly.includes(p));
      const missing = REQUIRED.filter((p) => !found.includes(p));
      const roots = found.filter((p) => p === '/').length;
      const hint =
        rootProblem(o) ??
        (leaked.length > 0
          ? "the host's mounts are still in the container's table: the old root (the host's tree) is still attached (man 2 pivot_root, man 2 umount2)"
          : `missing ${missing.join(', ')}: each is a filesystem of its own, mounted under the rootfs while it is still reachable by its host path — before the roots are swapped`);
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          missing.length === 0 && leaked.length === 0 && roots === 1,
          REQUIRED.join(', '),
          summarize(found, 'mounts'),
          hint,
        )
      );
    },
  },
  {
    name: '`ps` inside lists only the container’s processes',
    async run(env) {
      const o = await inside(env);
      const lines = (o.t.stdout.split('--')[0] ?? '').trim().split('\n').slice(1);
      const procs = lines.map((l) => l.trim().replace(/\s+/, ' '));
      const ok = procs.length === 2 && procs.some((p) => p === '1 sh') && procs.some((p) => p.endsWith(' ps'));
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          ok,
          'two processes: 1 sh, and ps itself',
          procs.length === 0
            ? 'no process listed (nothing in /proc)'
            : procs.length <= 4
              ? procs.join('; ')
              : `${procs.length} processes: ${procs.slice(0, 4).join('; ')}; …`,
          rootProblem(o) ??
            steps(
              "ps reads /proc, and this /proc is not the container's: a proc instance shows the PID namespace of the process that mounted it (man 5 proc)",
              'mountProc runs in the init — PID 1 of the new namespace: a proc it mounts shows that namespace',
            ),
        )
      );
    },
  },
  {
    name: 'a marker file placed in the host’s / is not visible inside',
    async run(env) {
      const o = await inside(env);
      const seen = (o.t.stdout.split('--')[1] ?? '').trim();
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          !seen.includes(o.markerContent.trim()),
          `cat ${o.marker}: No such file or directory`,
          seen || '(nothing)',
          rootProblem(o) ??
            "the host's / is still reachable from inside: its tree must leave the container's mount namespace (man 2 pivot_root)",
        )
      );
    },
  },
  {
    name: '/dev/null is a character device 1:3, on a /dev of the container’s own',
    async run(env) {
      const o = await inside(env);
      const devFs = o.mounts.find((m) => m.point === '/dev')?.fstype;
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          o.dev['null'] === 'c 1:3' && devFs === 'tmpfs',
          '/dev on a tmpfs, /dev/null: c 1:3',
          `${devFs ? `/dev on ${devFs}` : 'no mount on /dev'}, /dev/null: ${o.dev['null']}`,
          rootProblem(o) ??
            (devFs !== 'tmpfs'
              ? steps(
                  `${devFs ? `/dev is ${devFs}` : 'nothing is mounted on /dev'}: the container needs a /dev of its own — the host's holds every disk of the machine (man 5 tmpfs)`,
                  'a tmpfs on <rootfs>/dev, mounted from the init, then the nodes made in it',
                )
              : steps(
                  `/dev/null is ${o.dev['null']}: a device node is a file with a type (character) and two numbers, made by mknod(2)`,
                  "the numbers of /dev/null are 1:3 (the kernel's Documentation/admin-guide/devices.txt); makedev(3) packs them, and the umask trims the mode mknod is given",
                )),
        )
      );
    },
  },
  {
    name: 'the minimal /dev: zero, full, random, urandom, tty, pts, shm and the fd links',
    async run(env) {
      const o = await inside(env);
      const want: Record<string, string> = {
        zero: 'c 1:5',
        full: 'c 1:7',
        random: 'c 1:8',
        urandom: 'c 1:9',
        tty: 'c 5:0',
        pts: 'd',
        shm: 'd',
        fd: 'd',
        stdin: 'f', // a link into /proc/self/fd: stat follows it to whatever fd 0 is
      };
      const wrong = Object.entries(want)
        .filter(([name, kind]) => (kind === 'f' ? o.dev[name] === 'missing' : o.dev[name] !== kind))
        .map(([name]) => `${name}: ${o.dev[name]}`);
      const fs = (p: string): string | undefined => o.mounts.find((m) => m.point === p)?.fstype;
      if (fs('/dev') !== 'tmpfs') wrong.unshift(fs('/dev') ? `/dev on ${fs('/dev')}: the host’s` : 'no mount on /dev');
      if (fs('/dev/pts') !== 'devpts') wrong.push(`/dev/pts on ${fs('/dev/pts') ?? 'nothing'}`);
      if (fs('/dev/shm') !== 'tmpfs') wrong.push(`/dev/shm on ${fs('/dev/shm') ?? 'nothing'}`);
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          wrong.length === 0,
          'each node, a devpts on /dev/pts, a tmpfs on /dev/shm, fd → /proc/self/fd',
          wrong.length === 0 ? 'all there' : wrong.join(', '),
          rootProblem(o) ??
            steps(
              "each missing entry is one piece of the minimal /dev: device nodes (man 2 mknod), a devpts instance of the container's own on pts (man 5 devpts), a tmpfs on shm (man 7 shm_overview), the links",
              'DEVICES and DEV_LINKS in the lesson file list what belongs there; pts/ and shm/ are directories to create before mounting on them',
            ),
        )
      );
    },
  },
  {
    name: '/sys is sysfs, mounted read-only',
    async run(env) {
      const o = await inside(env);
      const s = o.mounts.find((m) => m.point === '/sys');
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        expectThat(
          s?.fstype === 'sysfs' && s.options.split(',').includes('ro'),
          '/sys: sysfs, ro',
          s ? `/sys: ${s.fstype}, ${s.options}` : 'no mount on /sys',
          rootProblem(o) ??
            steps(
              `${s ? `/sys is ${s.fstype} (${s.options})` : 'nothing is mounted on /sys'}: a container may read the kernel's sysfs, never write it (man 5 sysfs)`,
              'a read-only mount is a mount flag (man 2 mount: MS_RDONLY), given when sysfs is mounted on <rootfs>/sys',
            ),
        )
      );
    },
  },
  {
    name: 'a rootfs that is not a mount point works: the lesson binds it onto itself',
    async run(env) {
      const o = await inside(env);
      const isMount = mountPoints('self').includes(o.t.config.rootfs);
      if (o.t.error) return failedStart(o.t, o.t.config.rootfs)!;
      return expectThat(
        !isMount && o.rootIsRootfs,
        `${o.t.config.rootfs} (a plain directory) becomes the container's /`,
        isMount
          ? `${o.t.config.rootfs} is a mount point on this host: the check proves nothing here`
          : `the container's / is ${o.rootIsRootfs ? 'the rootfs' : o.rootIsHostRoot ? "the host's /" : 'another directory'}`,
        rootProblem(o),
      );
    },
  },
  {
    name: 'the container mounts /proc of its own, and the host’s mountinfo is identical before, during and after — even from a shared mount',
    async run(env) {
      const o = await inside(env);
      // Only a container that mounts something can leak a mount: one that is
      // still on the host's / with the host's /proc (no mount namespace, no
      // mounts, no pivot yet) proves nothing.
      const ownProc =
        o.rootIsRootfs === true && (o.mounts?.some((m) => m.point === '/proc' && m.fstype === 'proc') ?? false);
      if (!ownProc) {
        return (
          failedStart(o.t, o.t.config.rootfs) ??
          expectThat(
            false,
            'the container’s own / with its own /proc, and no change on the host',
            o.rootIsRootfs
              ? `no proc mounted on the container’s /proc (${o.mounts?.length ?? 0} mounts in its table)`
              : 'the container’s / is not its rootfs yet',
            'this check needs a container that makes its own mounts: a mount namespace, then /proc inside the rootfs (man 7 mount_namespaces, man 5 proc)',
          )
        );
      }
      // The rootfs on a shared mount, as under systemd: any mount the
      // container makes before MS_PRIVATE propagates back to the host.
      const shared = await onSharedMount(async (rootfs) => {
        const before = mountinfoOf('self');
        let during = before;
        const t = await env.trial({
          config: { argv: ['sh', '-c', 'read _'], rootfs },
          whileRunning: () => {
            during = mountinfoOf('self');
          },
        });
        return { t, before, during, after: mountinfoOf('self') };
      });
      const changes = [
        ...mountDiff(o.hostBefore, o.hostDuring).map((d) => `during: ${d}`),
        ...mountDiff(o.hostBefore, o.hostAfter).map((d) => `after: ${d}`),
        ...mountDiff(shared.before, shared.during).map((d) => `during (shared): ${d}`),
        ...mountDiff(shared.before, shared.after).map((d) => `after (shared): ${d}`),
      ];
      if (changes.length > 0) {
        return expectThat(
          false,
          'no change',
          summarize(changes, 'changes', 6),
          steps(
            'mounts made inside reached the host: a copied mount table keeps each mount\'s propagation, and a shared mount passes new mounts on to its peers — the host\'s (man 7 mount_namespaces, "shared subtrees")',
            'before any other mount, the propagation of "/" and of every mount below it has to change: mount(2) with only flags does that',
          ),
        );
      }
      return (
        failedStart(o.t, o.t.config.rootfs) ??
        startFailure(shared.t) ??
        expectThat(true, 'no change', 'no change (plain and shared rootfs)')
      );
    },
  },
  {
    name: 'with --chroot, `breakout` escapes and reads the host’s marker: chroot alone is not a jail',
    async run(env) {
      return withMarker(async (marker, content) => {
        const t = await env.trial({ config: { argv: ['breakout', marker], chroot: true } });
        return (
          breakoutFailure(t, t.config.rootfs) ??
          expectThat(
            t.status === 0 && t.stdout === content,
            `status 0, prints ${JSON.stringify(content.trim())}`,
            `status ${t.status}, ${t.stdout.trim() || t.stderr.trim() || 'no output'}`,
            'the --chroot demo escapes only when the command runs in the chroot with the host’s tree still mounted: leave chrootInto as it is',
          )
        );
      });
    },
  },
  {
    name: 'after pivot_root, `breakout` stays jailed: the host’s marker is out of reach',
    async run(env) {
      return withMarker(async (marker, content) => {
        const t = await env.trial({ config: { argv: ['breakout', marker] } });
        return (
          breakoutFailure(t, t.config.rootfs) ??
          expectThat(
            t.status === 1 && !t.stdout.includes(content.trim()),
            'status 1, "breakout: still jailed: …"',
            `status ${t.status}, ${t.stdout.trim() || t.stderr.trim() || 'no output'}`,
            t.stdout.includes(content.trim())
              ? steps(
                  "it climbed out with `..`: the host's tree is still attached to the namespace, and chroot(2) changes only where path lookups start",
                  'pivot_root(2) swaps the roots; the old one must then be detached (man 2 umount2)',
                )
              : undefined,
          )
        );
      });
    },
  },
  {
    name: 'a missing rootfs is rejected before anything is created, naming the path',
    provided: true,
    async run(env) {
      const rootfs = `/nonexistent/cellblock-rootfs-${randomBytes(3).toString('hex')}`;
      const t = await env.trial({ config: { argv: ['true'], rootfs } });
      return expectThat(
        t.error?.name === 'ConfigError' && t.error.message.includes(rootfs) && t.spawned === 0,
        `a ConfigError naming ${rootfs}, and no process spawned`,
        t.error
          ? `${t.error.name}: ${t.error.message} (spawned ${t.spawned})`
          : `status ${t.status}, spawned ${t.spawned}`,
        'the rootfs check is in src/core/validate.ts: it must run before anything is created',
      );
    },
  },
  {
    name: 'a rootfs that is not a directory is rejected before anything is created, naming the path',
    provided: true,
    async run(env) {
      const dir = mkdtempSync('/tmp/cellblock-check-');
      const rootfs = join(dir, 'not-a-directory');
      writeFileSync(rootfs, 'a file\n');
      try {
        const t = await env.trial({ config: { argv: ['true'], rootfs } });
        return expectThat(
          t.error?.name === 'ConfigError' && t.error.message.includes(rootfs) && t.spawned === 0,
          `a ConfigError naming ${rootfs}, and no process spawned`,
          t.error
            ? `${t.error.name}: ${t.error.message} (spawned ${t.spawned})`
            : `status ${t.status}, spawned ${t.spawned}`,
          'the rootfs check is in src/core/validate.ts: it must run before anything is created',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
]);
