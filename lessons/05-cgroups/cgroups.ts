/**
 * Lesson 05 — limits the kernel enforces (cgroups).
 *
 * GOAL: every container gets a cgroup of its own — /sys/fs/cgroup/cellblock/<id>
 * on v2, one such directory per controller on v1 — holding the limits given
 * with --memory, --memory-swap, --cpus, --pids-limit, --device-read-bps and
 * --device-write-bps. The container's process is inside it before its command
 * runs, the user is told when the kernel OOM-killed something, and the cgroup
 * is gone after the container.
 * Check your work with `cellblock verify 05`.
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

// TODO: the limits as cgroup v2 files: one [file, value] pair for each limit that is set.
// HINT: memory.max, memory.swap.max (swapOnly(l)), cpu.max "QUOTA PERIOD", pids.max, io.max "MAJ:MIN rbps=… wbps=…" — the README's table.
export function v2Files(l: Limits): [string, string][] {
  return [];
}

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
  validate: cgroupValidations,
  // Rootless (an ordinary user runs cellblock): no cgroup can be made; the runtime skips the host steps and says so.
  withoutRoot: () => rootlessCgroupNote(),

  // TODO: create the container's cgroup and write its limits, while the init waits.
  // HINT: cgroupOf(config) is the manager: create(), then set(limitsFromConfig(config)).
  hostAfterSpawn({ config }) {},

  // TODO: move the container's process into its cgroup: the last step before its command runs.
  // HINT: addProcess(pid). Why here, and not right after the spawn? (the README: "when to join")
  hostBeforeExec({ config, pid }) {},

  // TODO: after the end: if the kernel OOM-killed a process, say so; then remove the cgroup.
  // HINT: oomKills() reads the cgroup's counter — before destroy(). Push a sentence with "OOM-killed" onto notes.
  async hostCleanup({ config, notes }) {},
});
