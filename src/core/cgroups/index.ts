/**
 * The container's cgroup: `openCgroup(id)` picks the implementation once, by
 * what /sys/fs/cgroup is (detect.ts), and every caller — lesson 05, `cellblock
 * stats/pause/unpause`, the checks — uses the same CgroupManager interface.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_PARENT, POD_ID_PREFIX } from '../names.js';
import { listDir } from '../read.js';
import { readState } from '../host/state.js';
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

/**
 * A container's cgroup, below the workshop's parent: its id, or for a pod's
 * container `<pod's cgroup>/<id>` (Lesson.cgroupParent, set by the runtime):
 * the pod's limits and accounting then cover its members, as a Kubernetes pod's
 * cgroup does. On v2 the pod's cgroup holds no process of its own ("no
 * internal processes": it enables controllers for its children) — the pause
 * container is a leaf below it like every member: cellblock/cb-pod-web/cb-pod-web.
 */
export function cgroupName(config: {
  id: string;
  cgroupParent?: string | undefined;
  cgroupPath?: string | undefined;
}): string {
  // An OCI caller's linux.cgroupsPath (BaseConfig.cgroupPath): absolute, from each hierarchy's root.
  if (config.cgroupPath) return config.cgroupPath;
  return config.cgroupParent ? `${config.cgroupParent}/${config.id}` : config.id;
}

/**
 * The cgroup `name` (cgroupName: an id, or a pod's cgroup and an id). The
 * levels above the leaf are made by create() and go with the last leaf below
 * them (destroy()). A name that starts with "/" is a path from each
 * hierarchy's root (an OCI linux.cgroupsPath, "/default/ID"): its levels are
 * made by create() too, but they are not the workshop's — destroy() leaves
 * them, and whoever asked for the path removes what it made (core/oci).
 */
export function openCgroup(name: string, opts: OpenOptions = {}): CgroupManager {
  const mode = opts.mode ?? cgroupMode();
  const fs = opts.fs ?? realCgroupFs;
  const absolute = name.startsWith('/');
  if (absolute) name = name.replace(/^\/+/, '');
  const slash = name.lastIndexOf('/');
  const id = name.slice(slash + 1);
  const base = absolute ? '' : (opts.parent ?? CGROUP_PARENT);
  const parent = slash < 0 ? base : [base, name.slice(0, slash)].filter(Boolean).join('/');
  const keepParents = absolute;
  if (mode === 'v2') return new V2Cgroup(id, parent, opts.root ?? CGROUP_ROOT, fs, opts.v2Files, keepParents);
  if (mode === 'v1' || mode === 'hybrid') return new V1Cgroup(id, parent, opts.mounts ?? v1Mounts(), fs, keepParents);
  throw new CgroupError(
    'no cgroup filesystem at /sys/fs/cgroup',
    'ENOENT',
    'mount cgroup2 there (systemd does this at boot): `cellblock doctor`',
  );
}

/**
 * The cgroup name of container `id` as it is on this host now: `id`, or
 * `cb-pod-NAME/id` when its cgroup is below a pod's — for callers that know
 * only the id (the device rules, `cellblock stats` on an old state file).
 */
export function findCgroupName(id: string, root: string = CGROUP_ROOT, parent: string = CGROUP_PARENT): string {
  // An OCI container's cgroup is where its caller said (linux.cgroupsPath): its state records it.
  const recorded = root === CGROUP_ROOT ? readState(id)?.cgroupPath : undefined;
  if (typeof recorded === 'string' && recorded.startsWith('/')) return recorded;
  const top = join(root, parent);
  // A pause container's leaf is below the pod's cgroup of the same name: that one holds no process.
  if (id.startsWith(POD_ID_PREFIX) && existsSync(join(top, id, id, 'cgroup.procs'))) return `${id}/${id}`;
  if (existsSync(join(top, id))) return id;
  const pod = listDir(top).find((e) => e.startsWith(POD_ID_PREFIX) && existsSync(join(top, e, id, 'cgroup.procs')));
  return pod === undefined ? id : `${pod}/${id}`;
}

/**
 * v2, a pod's container (`name` has a pod's level): make the levels above the
 * leaf, each enabling our controllers for the one below — the leaf itself is
 * made by whoever asked (lesson 05's createCgroup). Nothing to do otherwise:
 * v1's create() makes every level in each hierarchy itself.
 */
export function makeCgroupParents(name: string, opts: OpenOptions = {}): void {
  if (!name.includes('/')) return;
  const cg = openCgroup(name, opts);
  if (cg instanceof V2Cgroup) cg.ensureParent();
}

export { CgroupError, type CgroupFs } from './fs.js';
export type { CgroupManager, CgroupStats, V2Files } from './manager.js';
export { retryWhileParentVanishes } from './manager.js';
export * from './values.js';
export { cgroupMode, cgroupControllers, usableControllers, type CgroupMode } from './detect.js';
