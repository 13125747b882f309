/**
 * The container's cgroup: `openCgroup(id)` picks the implementation once, by
 * what /sys/fs/cgroup is (detect.ts), and every caller — lesson 05, `cellblock
 * stats/pause/unpause`, the checks — uses the same CgroupManager interface.
 */
import { CGROUP_PARENT } from '../names.js';
import { CGROUP_ROOT, cgroupMode, v1Mounts, type CgroupMode, type V1Controller } from './detect.js';
import { CgroupError, realCgroupFs, type CgroupFs } from './fs.js';
import type { CgroupManager, V2Files } from './manager.js';
import { V1Cgroup } from './v1.js';
import { V2Cgroup } from './v2.js';

export interface OpenOptions {
  /** v2's limit files (lesson 05 provides them); only `set()` needs it. */
  v2Files?: V2Files;
  /** The rest is for tests: a fixture tree instead of the kernel's. */
  mode?: CgroupMode;
  fs?: CgroupFs;
  /** v2: the cgroup2 mount (default /sys/fs/cgroup). */
  root?: string;
  /** v1: controller → where its hierarchy is mounted (default: from /proc/self/mountinfo). */
  mounts?: Partial<Record<V1Controller, string>>;
  parent?: string;
}

export function openCgroup(id: string, opts: OpenOptions = {}): CgroupManager {
  const mode = opts.mode ?? cgroupMode();
  const fs = opts.fs ?? realCgroupFs;
  const parent = opts.parent ?? CGROUP_PARENT;
  if (mode === 'v2') return new V2Cgroup(id, parent, opts.root ?? CGROUP_ROOT, fs, opts.v2Files);
  if (mode === 'v1' || mode === 'hybrid') return new V1Cgroup(id, parent, opts.mounts ?? v1Mounts(), fs);
  throw new CgroupError(
    'no cgroup filesystem at /sys/fs/cgroup',
    'ENOENT',
    'mount cgroup2 there (systemd does this at boot): `cellblock doctor`',
  );
}

export { CgroupError, type CgroupFs } from './fs.js';
export type { CgroupManager, CgroupStats, V2Files } from './manager.js';
export { retryWhileParentVanishes } from './manager.js';
export * from './values.js';
export { cgroupMode, cgroupControllers, usableControllers, type CgroupMode } from './detect.js';
