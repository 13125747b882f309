/**
 * Lesson 05 — limits the kernel enforces (cgroups).
 *
 * Namespaces decide what a container can *see*; control groups decide what it
 * can *use*. A cgroup is a directory in /sys/fs/cgroup: the processes listed in
 * its cgroup.procs — and every child they ever fork — are accounted together,
 * and the limits written into its files are enforced by the kernel on all of
 * them at once: memory (the OOM killer), CPU time (the scheduler), the number
 * of processes (fork fails), disk bandwidth (the block layer).
 *
 * On cgroup v2 (one tree) the cgroup is made here with plain node:fs calls —
 * mkdir, write, read, rmdir: that is all a cgroup is. On v1 (one tree per
 * controller) the provided manager in src/core/cgroups/v1.ts does the same in
 * each hierarchy; the README shows the two side by side.
 *
 * The container's cgroup is made in four steps:
 *   hostAfterSpawn  create it and write the limits, while the init waits
 *   hostBeforeExec  move the init into it, as the very last host step
 *   beforeExec      (inside) a cgroup namespace rooted there, and on v2 a
 *                   read-only view of it at /sys/fs/cgroup
 *   hostCleanup     read the OOM counter, then remove it
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLONE_NEWCGROUP, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '../../src/native/constants.js';
import {
  cgroupMode,
  cgroupName,
  cgroupValidations,
  rootlessCgroupNote,
  limitsFromConfig,
  makeCgroupParents,
  openCgroup,
  retryWhileParentVanishes,
  swapOnly,
  type CgroupConfig,
  type Limits,
} from '../../src/core/cgroups/index.js';
import { CGROUP_ROOT } from '../../src/core/cgroups/detect.js';
import { CGROUP_PARENT } from '../../src/core/names.js';
import { defineLesson } from '../../src/core/lesson.js';

/** v1 or v2, decided once — when the module loads, before the init leaves the host's filesystem. */
const V2 = cgroupMode() === 'v2';

/** The controllers a container's cgroup gets on v2 (freezing needs none: cgroup.freeze is core). */
export const CONTROLLERS = ['cpu', 'memory', 'pids', 'io'];

/** The container's cgroup on v2: a directory below the workshop's parent, `root` being the cgroup2 mount. */
export function cgroupDir(root: string, id: string): string {
  return join(root, CGROUP_PARENT, id);
}

/**
 * The limits as cgroup v2 files, [file, value] in write order. v1 writes the
 * same numbers into other files, one hierarchy per controller
 * (src/core/cgroups/v1.ts, and the README's table).
 */
export function v2Files(l: Limits): [string, string][] {
  // [v2-files] Each file belongs to a controller (the part before the dot): it
  // exists in our cgroup only because createCgroup enabled that controller.
  // memory.max: bytes, page cache included; past it the kernel reclaims, and
  // when nothing more can go, the OOM killer kills a process in the cgroup.
  // memory.swap.max: v2 counts swap on its own (docker's --memory-swap is the
  // total): 0 = no swap. cpu.max: "quota period", both µs. pids.max: processes
  // *and threads*. io.max: "major:minor key=value…", one device per write.
  const files: [string, string][] = [];
  if (l.memory !== undefined) files.push(['memory.max', String(l.memory)]);
  const swap = swapOnly(l);
  if (swap !== undefined) files.push(['memory.swap.max', String(swap)]);
  if (l.cpu) files.push(['cpu.max', `${l.cpu.quota} ${l.cpu.period}`]);
  if (l.pids !== undefined) files.push(['pids.max', String(l.pids)]);
  for (const d of l.io ?? []) {
    files.push(['io.max', `${d.major}:${d.minor} rbps=${d.readBps ?? 'max'} wbps=${d.writeBps ?? 'max'}`]);
  }
  return files;
}

/** The words of a cgroup list file ("cpu io memory pids"), without the +/- some of them carry. */
const words = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => w.replace(/^[+-]/, ''));

/** Make the container's cgroup under the cgroup2 mount `root` (v2); returns its directory. */
export function createCgroup(root: string, id: string): string {
  // [v2-create] Two kernel rules (cgroup-v2.rst) give the order:
  // - top-down: a controller exists in a cgroup only when its *parent* lists it
  //   in cgroup.subtree_control — so enable ours in the root (for `cellblock`)
  //   and in `cellblock` (for the containers), before the leaf is made;
  // - no internal processes: a cgroup that enables controllers for children
  //   holds no process itself (only the root may) — so `cellblock` stays empty
  //   and every container lives in a leaf of its own.
  // Only what the root offers (cgroup.controllers) can be enabled: a write of
  // anything else fails. Writing "+x" again when x is on already is harmless,
  // and the mkdirs tolerate an existing parent (another container made it).
  const parent = join(root, CGROUP_PARENT);
  mkdirSync(parent, { recursive: true });
  const offered = words(join(root, 'cgroup.controllers'));
  const enable = CONTROLLERS.filter((c) => offered.includes(c))
    .map((c) => `+${c}`)
    .join(' ');
  writeFileSync(join(root, 'cgroup.subtree_control'), enable);
  writeFileSync(join(parent, 'cgroup.subtree_control'), enable);
  const dir = join(parent, id);
  mkdirSync(dir);
  return dir;
}

/** Write the limit files into the cgroup directory `dir`. */
export function writeLimits(dir: string, files: [string, string][]): void {
  // [v2-limits] One write per [file, value]: the kernel parses each write on
  // its own (io.max takes one device per write) and answers with an errno —
  // EINVAL for a value it refuses, ENOENT when the controller is not enabled.
  for (const [file, value] of files) writeFileSync(join(dir, file), value);
}

/** Move process `pid` into the cgroup `dir`. */
export function joinCgroup(dir: string, pid: number): void {
  // [v2-join] One write to cgroup.procs moves the whole process, every thread;
  // its future children are born inside. Its past charges stay where they were.
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}

/** How many times the kernel's OOM killer killed a process in the cgroup `dir`. */
export function oomKills(dir: string): number {
  // [v2-oom] memory.events is "key value" lines; oom_kill counts the kills
  // (in this cgroup and below it). The file goes with the cgroup: read it first.
  const line = readFileSync(join(dir, 'memory.events'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('oom_kill '));
  return line ? Number(line.split(' ')[1]) : 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Remove the cgroup `dir`, once the last process in it is gone. */
export async function removeCgroup(dir: string): Promise<void> {
  // [v2-remove] rmdir, not rm -r: the interface files go with the cgroup. It
  // fails with EBUSY while a process is still a member — a killed process
  // stays one until it has exited and been reaped, which takes a moment after
  // the container's end — so try again for a while before giving up.
  for (let attempt = 0; ; attempt++) {
    try {
      return rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt >= 100) throw err;
      await sleep(20);
    }
  }
}

/** The container's cgroup, on this machine's cgroup version. */
function cgroupOf(config: CgroupConfig) {
  // Its id — or, for a pod's container, the pod's cgroup and its id (cb-pod-NAME/<id>).
  const name = cgroupName(config);
  const dir = cgroupDir(CGROUP_ROOT, name);
  // v1 — provided: the same steps in every controller's hierarchy (src/core/cgroups/v1.ts); on
  // either version, a path an OCI caller chose (linux.cgroupsPath, "/default/ID") outside the workshop's.
  const v1 = openCgroup(name);
  const v2 = V2 && !name.startsWith('/');
  return {
    dir,
    create(limits: Limits): void {
      if (!v2) return (v1.create(), v1.set(limits));
      // Another container's end may remove the shared parent between the two
      // mkdirs (ENOENT): make it again. Only the making — an ENOENT while
      // writing a limit means a controller is not enabled.
      let made = '';
      retryWhileParentVanishes(() => {
        makeCgroupParents(name); // a pod's cgroup above the leaf, when there is one (provided)
        made = createCgroup(CGROUP_ROOT, name);
      });
      writeLimits(made, v2Files(limits));
    },
    join: (pid: number): void => (v2 ? joinCgroup(dir, pid) : v1.addProcess(pid)),
    exists: (): boolean => (v2 ? existsSync(dir) : v1.exists()),
    oomKills: (): number => (v2 ? oomKills(dir) : v1.oomKills()),
    remove: (): Promise<void> => (v2 ? removeCgroup(dir) : v1.destroy()),
  };
}

export default defineLesson<CgroupConfig>({
  id: '05-cgroups',
  options: {
    memory: { alias: 'm', type: 'string', describe: 'memory limit, e.g. 256m (b, k, m, g; binary units)' },
    'memory-swap': { type: 'string', describe: 'memory + swap limit: equal to --memory for no swap, -1 for unlimited' },
    cpus: { type: 'string', describe: 'CPU time, in CPUs: 0.5 is half of one CPU' },
    'pids-limit': { type: 'string', describe: 'most processes and threads at once (-1: no limit)' },
    'device-read-bps': { type: 'string', describe: 'DEVICE:RATE read limit, e.g. /dev/sda:1mb (repeatable)' },
    'device-write-bps': { type: 'string', describe: 'DEVICE:RATE write limit, e.g. /dev/sda:1mb (repeatable)' },
  },
  // Every value checked before anything exists: a bad limit creates nothing.
  validate: cgroupValidations,
  // Rootless (an ordinary user runs cellblock): no cgroup can be made; the runtime skips the host steps and says so.
  withoutRoot: () => rootlessCgroupNote(),

  hostAfterSpawn({ config }) {
    // [create] The cgroup and its limits exist before the container runs
    // anything — also when no limit was asked for: `cellblock stats` and
    // `pause` need it. The init is not in it yet (see hostBeforeExec).
    cgroupOf(config).create(limitsFromConfig(config));
  },

  hostBeforeExec({ config, pid }) {
    // [join] Here, and not right after the spawn: until now the init is a
    // Node process starting up, and what it uses after the join is charged
    // to the container — tens of ms of CPU and MBs of memory, how much
    // depending on a race with the host. Now its steps are done and the exec
    // is next; what it used before stays charged where it was (charges do not
    // move with a process). It has no children yet, so everything the command
    // ever forks is born inside.
    cgroupOf(config).join(pid);
  },

  beforeExec(config, sys) {
    // [cgroupns] A cgroup namespace's root is the cgroup its creator is in
    // *when it unshares*: so only now, after the host's join — unshared before
    // the spawn, its root would be the runtime's own cgroup, and inside
    // /proc/self/cgroup would show the host's path (or "/../…"). From now on
    // /proc/self/cgroup shows "/", and on v2 a cgroup2 mount made from inside
    // shows only this subtree: /sys/fs/cgroup/memory.max is the container's
    // limit — what a JVM sizes its heap by, while `free` (/proc/meminfo)
    // still shows the host's memory. Read-only, as docker mounts it: the
    // container must not raise its own limits. (On v1 the namespace applies to
    // every hierarchy; a v1 view would need one mount per controller.)
    sys.unshare(CLONE_NEWCGROUP);
    if (V2 && existsSync('/sys/fs/cgroup')) {
      sys.mount('cgroup2', '/sys/fs/cgroup', 'cgroup2', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
    }
  },

  // After the end, always (also after a failed start or a SIGKILL). Each undo
  // step runs whatever the others did: a failure is reported, never a leak.
  async hostCleanup({ config, notes, undo }) {
    const cg = cgroupOf(config);
    await undo({
      // [report-oom] The OOM counter lives in the cgroup: read it before the
      // cgroup is gone. The user sees SIGKILL (137) — this says who sent it.
      'read the OOM counter': () => {
        const kills = cg.exists() ? cg.oomKills() : 0;
        if (kills === 0) return;
        const what = kills === 1 ? 'a process' : `${kills} processes`;
        const limit = config.memory === undefined ? 'a parent cgroup’s memory limit' : `--memory ${config.memory}`;
        notes.push(`OOM-killed: the kernel killed ${what} in the container for going over ${limit}`);
      },

      'remove the cgroup': async () => {
        if (cg.exists()) await cg.remove();
      },

      // Provided: whatever is still there goes — the runtime's own remover kills
      // what is left inside, and takes the workshop's parent once it is unused.
      'remove what is left': async () => {
        if (V2 && existsSync(cg.dir))
          notes.push(`cgroup: ${cg.dir} was still there after removeCgroup(); the runtime removed it`);
        await openCgroup(cgroupName(config)).destroy();
      },
    });
  },
});
