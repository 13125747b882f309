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
 * The container's cgroup is made in three host steps:
 *   hostAfterSpawn  create it and write the limits, while the init waits
 *   hostBeforeExec  move the init into it, as the very last step before exec
 *   hostCleanup     read the OOM counter, then remove it
 */
import {
  cgroupValidations,
  rootlessCgroupNote,
  limitsFromConfig,
  openCgroup,
  swapOnly,
  type CgroupConfig,
  type Limits,
} from '../../src/core/cgroups/index.js';
import { defineLesson } from '../../src/core/lesson.js';

/**
 * The limits as cgroup v2 files, [file, value] in write order. Each file
 * belongs to a controller (the part before the dot), which exists in our
 * cgroup only because the manager enabled it in the parent's
 * cgroup.subtree_control. v1 writes the same numbers into other files, one
 * hierarchy per controller: src/core/cgroups/v1.ts, and the README's table.
 */
export function v2Files(l: Limits): [string, string][] {
  const files: [string, string][] = [];
  // Bytes, page cache included. Above it the kernel reclaims, and when nothing
  // more can be reclaimed, the OOM killer kills a process in this cgroup.
  if (l.memory !== undefined) files.push(['memory.max', String(l.memory)]);
  // v2 counts swap on its own (docker's --memory-swap is the total): 0 = no swap.
  const swap = swapOnly(l);
  if (swap !== undefined) files.push(['memory.swap.max', String(swap)]);
  // "quota period", both in µs: at most `quota` of CPU time in every `period`.
  if (l.cpu) files.push(['cpu.max', `${l.cpu.quota} ${l.cpu.period}`]);
  // Processes *and threads*: a fork or clone past it fails with EAGAIN.
  if (l.pids !== undefined) files.push(['pids.max', String(l.pids)]);
  // One line per device, "major:minor key=value…", one device per write.
  for (const d of l.io ?? []) {
    files.push(['io.max', `${d.major}:${d.minor} rbps=${d.readBps ?? 'max'} wbps=${d.writeBps ?? 'max'}`]);
  }
  return files;
}

// The same manager in every step: v1 or v2 is decided by what /sys/fs/cgroup is.
const cgroupOf = (config: CgroupConfig) => openCgroup(config.id, { v2Files });

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

  // The cgroup and its limits exist before the container runs anything — also
  // when no limit was asked for: `cellblock stats` and `pause` need it.
  hostAfterSpawn({ config }) {
    const cg = cgroupOf(config);
    cg.create();
    cg.set(limitsFromConfig(config));
  },

  // Joining here, and not right after the spawn: until now the init is a Node
  // process starting up, and what it uses after the join would be charged to
  // the container — tens of ms of CPU (slowed to a crawl under a small --cpus)
  // and MBs of memory, how much depending on how far Node got before the host
  // wrote cgroup.procs: a race. Now its steps are done and the exec is next;
  // what it used before stays charged where it was (charges do not move with a
  // process). It has no children yet, so everything the command ever forks is
  // born inside.
  hostBeforeExec({ config, pid }) {
    cgroupOf(config).addProcess(pid);
  },

  // After the end, always (also after a failed start or a SIGKILL). The OOM
  // counter lives in the cgroup: read it before the cgroup is gone. Two undo
  // steps: a counter that cannot be read must not keep the cgroup.
  async hostCleanup({ config, notes, undo }) {
    const cg = cgroupOf(config);
    if (!cg.exists()) return;
    await undo({
      'read the OOM counter': () => {
        const kills = cg.oomKills();
        if (kills > 0) {
          const what = kills === 1 ? 'a process' : `${kills} processes`;
          const limit = config.memory === undefined ? 'a parent cgroup’s memory limit' : `--memory ${config.memory}`;
          notes.push(`OOM-killed: the kernel killed ${what} in the container for going over ${limit}`);
        }
      },
      'remove the cgroup': () => cg.destroy(),
    });
  },
});
