/**
 * The cgroup area's inventory (core/inventory.ts): every cgroup the workshop
 * made is below its parent, <hierarchy root>/cellblock (names.ts), in every
 * hierarchy — v1: one per controller, v2: the one tree — and is removed the way
 * a container's own end removes it (removeCgroupDir: kill, then rmdir).
 * A cgroup named like ours anywhere else is not ours: the managers never make one.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { AlreadyGone, STAGE, type Inventory, type InventoryItem, type Kind } from '../inventory.js';
import { CGROUP_PARENT, POD_ID_PREFIX } from '../names.js';
import { readText, subdirsDeepestFirst } from '../read.js';
import { cgroupRoots } from './detect.js';
import type { CgroupError, CgroupFs } from './fs.js';
import { removeCgroupDir } from './manager.js';

export interface CgroupScope {
  /** The mount table the hierarchies are found in. */
  mountinfo: string;
  /** Hierarchy roots; default: every cgroup and cgroup2 mount in `mountinfo`. */
  cgroupRoots?: string[];
}

export interface CgroupItem extends InventoryItem {
  kind: 'cgroup';
  path: string;
  /** Its members when it was listed (host pids). */
  pids: number[];
}

export interface CgroupOps {
  /** The same seam the managers use (fs.ts): the real cgroupfs, or a recording one in tests. */
  cgroupFs: CgroupFs;
}

function members(dir: string): number[] {
  return readText(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

/**
 * The workshop's cgroups, children before parents (the order rmdir needs),
 * each with the container it belongs to — the first level below the parent is
 * named by the container id; a pod's cgroup (cb-pod-NAME) is its pause
 * container's, and each leaf below it the container it names — and its members. The parent comes last in each
 * hierarchy: it is shared by every container.
 */
export function listCgroups(scope: CgroupScope): CgroupItem[] {
  const out: CgroupItem[] = [];
  const seen = new Set<string>();
  for (const root of scope.cgroupRoots ?? cgroupRoots(readText(scope.mountinfo))) {
    const parent = join(root, CGROUP_PARENT);
    // A cgroup is a directory with cgroup.procs: a plain directory of that name is not one.
    if (!existsSync(join(parent, 'cgroup.procs'))) continue;
    let real = parent;
    try {
      real = realpathSync(parent);
    } catch {
      // gone meanwhile: listed as it was given
    }
    if (seen.has(real)) continue; // one hierarchy mounted twice
    seen.add(real);
    for (const dir of [...subdirsDeepestFirst(parent), parent]) {
      // cellblock/<id>, or a pod's: cellblock/cb-pod-NAME (the pause's) and below it cellblock/cb-pod-NAME/<id>.
      const parts = relative(parent, dir).split(sep);
      const id = parts[0]?.startsWith(POD_ID_PREFIX) && parts[1] ? parts[1] : parts[0];
      out.push({
        area: 'cgroups',
        kind: 'cgroup',
        name: dir,
        path: dir,
        pids: members(dir),
        depth: dir.split(sep).length,
        ...(id
          ? { containerId: id, why: `below ${CGROUP_PARENT}/` }
          : { shared: true, why: `the ${CGROUP_PARENT} parent` }),
      });
    }
  }
  return out;
}

const cgroups: Kind<CgroupItem, CgroupScope, CgroupOps> = {
  kind: 'cgroup',
  stage: STAGE.cgroups,
  list: (scope) => listCgroups(scope),
  async remove(item, ops, liveness) {
    if (!ops.cgroupFs.exists(item.path)) throw new AlreadyGone('no such cgroup');
    try {
      await removeCgroupDir(ops.cgroupFs, item.path, liveness.spared);
    } catch (err) {
      if ((err as CgroupError).code === 'ENOENT') throw new AlreadyGone('no such cgroup');
      throw err;
    }
  },
};

export const cgroupInventory: Inventory<CgroupScope, CgroupOps> = { area: 'cgroups', kinds: [cgroups] };
