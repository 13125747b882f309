/**
 * Lesson 05 — limits the kernel enforces (cgroups).
 *
 * GOAL: every container gets a cgroup of its own — /sys/fs/cgroup/cellblock/<id>
 * on v2, one such directory per controller on v1 — holding the limits given
 * with --memory, --memory-swap, --cpus, --pids-limit, --device-read-bps and
 * --device-write-bps. The container's process is inside it before its command
 * runs, sees it as the root of a cgroup namespace of its own, the user is told
 * when the kernel OOM-killed something, and the cgroup is gone afterwards.
 * On v2 you make the cgroup yourself with node:fs — a cgroup is a directory;
 * v1 is provided (src/core/cgroups/v1.ts): the README shows both side by side.
 * Check your work with `cellblock verify 05`.
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
  // TODO [v2-files]: the limits as cgroup v2 files: one [file, value] pair for each limit that is set.
  // HINT: the README's table, right column; a limit that is not set is undefined (man 7 cgroups; cgroup-v2.rst).
  return [];
}

/** The words of a cgroup list file ("cpu io memory pids"), without the +/- some of them carry. */
const words = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => w.replace(/^[+-]/, ''));

/** Make the container's cgroup under the cgroup2 mount `root` (v2); returns its directory. */
export function createCgroup(root: string, id: string): string {
  // TODO [v2-create]: make the container's cgroup below `root`, with the controllers enabled for it; return its directory.
  // HINT: mkdir, and cgroup.subtree_control — the README's "two v2 rules". What can be enabled: cgroup.controllers.
  return cgroupDir(root, id);
}

/** Write the limit files into the cgroup directory `dir`. */
export function writeLimits(dir: string, files: [string, string][]): void {
  // TODO [v2-limits]: write each [file, value] pair into its file in `dir`.
  // HINT: one write per pair (node:fs); the kernel answers a value it refuses with an error.
}

/** Move process `pid` into the cgroup `dir`. */
export function joinCgroup(dir: string, pid: number): void {
  // TODO [v2-join]: move the process `pid` into the cgroup `dir`.
  // HINT: which file lists a cgroup's processes? (man 7 cgroups)
}

/** How many times the kernel's OOM killer killed a process in the cgroup `dir`. */
export function oomKills(dir: string): number {
  // TODO [v2-oom]: how many processes the OOM killer killed in the cgroup `dir`.
  // HINT: memory.events, "key value" lines (cgroup-v2.rst: memory.events).
  return 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Remove the cgroup `dir`, once the last process in it is gone. */
export async function removeCgroup(dir: string): Promise<void> {
  // TODO [v2-remove]: remove the cgroup `dir`.
  // HINT: rmdir(2) — and what does it answer while the last process is still leaving? (man 7 cgroups)
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
    // TODO [create]: create the container's cgroup and write its limits, while the init waits.
    // HINT: cgroupOf(config) below does it for this machine's version; limitsFromConfig(config) are the limits.
  },

  hostBeforeExec({ config, pid }) {
    // TODO [join]: move the container's process into its cgroup.
    // HINT: when? The README's "when to join": what would the init's own start-up be charged to?
  },

  beforeExec(config, sys) {
    // TODO [cgroupns]: a cgroup namespace of the container's own, and on v2 a read-only view of its cgroup at /sys/fs/cgroup.
    // HINT: man 7 cgroup_namespaces — whose cgroup becomes the namespace's root? The README's "the Java story".
  },

  // After the end, always (also after a failed start or a SIGKILL). Each step
  // runs whatever the others did: a failure is reported, never a leak.
  async hostCleanup({ config, notes, undo }) {
    const cg = cgroupOf(config);
    await undo({
      // TODO [report-oom]: if the kernel OOM-killed a process in the container, push a sentence with "OOM-killed" onto notes.
      // HINT: cg.oomKills() reads the counter; it lives in the cgroup, so read it before the cgroup is removed.
      'read the OOM counter': () => {},

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
