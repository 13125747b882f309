/**
 * Which cgroup version this machine runs, and where its controllers are.
 * Decided once, by looking at /sys/fs/cgroup itself (runc and youki do the same):
 *
 *   v2      /sys/fs/cgroup *is* a cgroup2 filesystem: one tree, every controller
 *           in it (Ubuntu ≥ 21.10, Debian ≥ 11, Fedora ≥ 31 — the workshop VMs)
 *   hybrid  /sys/fs/cgroup is a tmpfs of v1 hierarchies, one per controller, plus
 *           an empty cgroup2 at /sys/fs/cgroup/unified (controllers can be bound
 *           to one version only: they are all v1's here)
 *   v1      the same without the unified mount
 */
import { parseMountinfo } from '../mountinfo.js';
import { readText } from '../read.js';
import { existsSync, statfsSync } from 'node:fs';
import { release } from 'node:os';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const TMPFS_MAGIC = 0x01021994;

export type CgroupMode = 'v2' | 'v1' | 'hybrid' | 'none';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** cgroup v2 when /sys/fs/cgroup itself is cgroup2; v1/hybrid when it is a tmpfs of v1 hierarchies. */
export function cgroupMode(root = CGROUP_ROOT): CgroupMode {
  try {
    const type = statfsSync(root).type;
    if (type === CGROUP2_SUPER_MAGIC) return 'v2';
    if (type === TMPFS_MAGIC) return existsSync(`${root}/unified/cgroup.controllers`) ? 'hybrid' : 'v1';
  } catch {
    // no /sys/fs/cgroup at all
  }
  return 'none';
}

/** The v1 controllers this workshop manages (cpuset and devices need more setup than a limit: not used). */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** The v2 controllers a container's cgroup gets (freezing is a core feature of v2: cgroup.freeze). */
export const V2_CONTROLLERS = ['cpu', 'memory', 'pids', 'io'] as const;

/**
 * v1: where each controller's hierarchy is mounted, from mountinfo. Controllers
 * can share a hierarchy ("cpu,cpuacct" on Ubuntu 20.04): then both map to the
 * same directory. Here (Debian, hybrid) cpu and cpuacct are separate.
 */
export function v1Mounts(mountinfo = '/proc/self/mountinfo'): Partial<Record<V1Controller, string>> {
  const out: Partial<Record<V1Controller, string>> = {};
  for (const { fstype, mountPoint, superOptions } of parseMountinfo(readText(mountinfo))) {
    if (fstype !== 'cgroup') continue;
    for (const opt of superOptions.split(',')) {
      const c = opt as V1Controller;
      if ((V1_CONTROLLERS as readonly string[]).includes(c) && !out[c]) out[c] = mountPoint;
    }
  }
  return out;
}

/**
 * Every cgroup hierarchy's mount point, from mountinfo text: one on v2; one per
 * v1 controller (or group of co-mounted ones) plus the unified one on hybrid.
 */
export function cgroupRoots(mountinfo: string): string[] {
  const roots = parseMountinfo(mountinfo)
    .filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2')
    .map((m) => m.mountPoint);
  return [...new Set(roots)];
}

/** Controllers the kernel offers: v2 from cgroup.controllers, v1 from the mounted hierarchies. */
export function cgroupControllers(mode: CgroupMode, root = CGROUP_ROOT): string[] {
  if (mode === 'v2') return readText(`${root}/cgroup.controllers`).trim().split(/\s+/).filter(Boolean);
  const offered = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio', 'freezer', 'cpuset', 'devices'];
  return parseMountinfo(readText('/proc/self/mountinfo'))
    .filter((m) => m.fstype === 'cgroup')
    .flatMap((m) => m.superOptions.split(','))
    .filter((o) => offered.includes(o))
    .sort();
}

/**
 * The controllers a container's cgroup can actually use, and what is missing.
 * v2: a controller is usable when the root offers it (cgroup.controllers) — the
 * manager enables it down to the workshop's parent through cgroup.subtree_control;
 * freezing needs cgroup.freeze (Linux ≥ 5.2). v1: when its hierarchy is mounted
 * (and swap limits need memory.memsw.*, i.e. swap accounting on).
 */
export function usableControllers(mode = cgroupMode(), root = CGROUP_ROOT): { usable: string[]; missing: string[] } {
  if (mode === 'v2') {
    const offered = new Set(cgroupControllers('v2', root));
    const want = [...V2_CONTROLLERS];
    const usable: string[] = want.filter((c) => offered.has(c));
    const missing: string[] = want.filter((c) => !offered.has(c));
    // The root cgroup has no cgroup.freeze (it cannot be frozen): the kernel version tells.
    const [major = 0, minor = 0] = release().split('.').map(Number);
    (major > 5 || (major === 5 && minor >= 2) ? usable : missing).push('freezer');
    return { usable, missing };
  }
  if (mode === 'none') return { usable: [], missing: [...V1_CONTROLLERS] };
  const mounts = v1Mounts();
  const usable: string[] = V1_CONTROLLERS.filter((c) => mounts[c]);
  const missing: string[] = V1_CONTROLLERS.filter((c) => !mounts[c]);
  if (mounts.memory && !existsSync(`${mounts.memory}/memory.memsw.limit_in_bytes`)) missing.push('memory.memsw (swap)');
  return { usable, missing };
}
