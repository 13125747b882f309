/**
 * The OCI area: cellblock-oci's state directories (<root>/<id>/, state.ts).
 * A created or running OCI container has no `cellblock run` process behind
 * it — its runtime exited at create — so this area is how the inventories
 * know it is alive: its init (pid and start time from state.json) still runs.
 * While it does, nothing of its is removed; once the init is gone, the
 * directory is a leftover until `cellblock-oci delete` (or `cellblock
 * cleanup`) removes it, after the container's other things.
 */
import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Inventory, InventoryItem, KnownContainer, Kind } from '../inventory.js';
import { AlreadyGone, STAGE } from '../inventory.js';
import { readStat } from '../host/proc.js';
import { listOciIds, readOciState } from './state.js';
import { hierarchyRoots, readCgroupRecord, removeMadeLevels } from './cgroup.js';
import { realCgroupFs } from '../cgroups/fs.js';
import { removeCgroupDir } from '../cgroups/manager.js';

export interface OciScope {
  /** cellblock-oci's --root to look in (state.ts DEFAULT_OCI_ROOT); none: nothing to find. */
  ociRoot?: string;
}

export interface OciItem extends InventoryItem {
  kind: 'oci-state';
  dir: string;
}

/** The init of a state still runs (not a zombie, and the same process: its start time). */
function initAlive(pid: number, start: number): boolean {
  const s = readStat(pid);
  return s !== undefined && s.start === start && s.state !== 'Z' && s.state !== 'X';
}

const stateDirs: Kind<OciItem, OciScope, unknown> = {
  kind: 'oci-state',
  stage: STAGE.stateFiles,
  list(scope) {
    const root = scope.ociRoot;
    if (root === undefined) return [];
    return listOciIds(root).map((id): OciItem => {
      // A create killed before state.json was written: the cgroup record (written first) names the container.
      const owner = readOciState(root, id)?.cellblockId ?? readCgroupRecord(join(root, id))?.cellblockId;
      return {
        area: 'oci',
        kind: 'oci-state',
        name: join(root, id),
        dir: join(root, id),
        why: `cellblock-oci state of container ${id}`,
        ...(owner !== undefined ? { containerId: owner } : {}),
      };
    });
  },
  remove(item) {
    if (!existsSync(item.dir)) throw new AlreadyGone('no such directory');
    rmSync(item.dir, { recursive: true, force: true });
  },
};

export interface OciCgroupItem extends InventoryItem {
  kind: 'oci-cgroup';
  path: string;
  /** The container's own cgroup (removed as its end removes it), or a level above it that create made. */
  leaf: boolean;
}

/**
 * Cgroups made where a caller's linux.cgroupsPath said (cgroup.ts), outside
 * cellblock/: found by the record in the OCI state directory — written before
 * any was made — never by the look of a path. The leaf in every hierarchy,
 * then the levels above it that create made, deepest first.
 */
const cgroupsOfRecords: Kind<OciCgroupItem, OciScope, unknown> = {
  kind: 'oci-cgroup',
  stage: STAGE.cgroups,
  list(scope) {
    const root = scope.ociRoot;
    if (root === undefined) return [];
    return listOciIds(root).flatMap((id) => {
      const r = readCgroupRecord(join(root, id));
      if (!r) return [];
      const leaves = hierarchyRoots()
        .map((h) => join(h, r.path))
        .filter((d) => existsSync(d));
      const item = (path: string, leaf: boolean): OciCgroupItem => ({
        area: 'oci',
        kind: 'oci-cgroup',
        name: path,
        path,
        leaf,
        depth: path.split('/').length,
        containerId: r.cellblockId,
        why: `linux.cgroupsPath of cellblock-oci container ${id} (${join(root, id, 'cgroup.json')})`,
      });
      return [...leaves.map((d) => item(d, true)), ...r.made.filter((d) => existsSync(d)).map((d) => item(d, false))];
    });
  },
  async remove(item, _ops, liveness) {
    if (!existsSync(item.path)) throw new AlreadyGone('no such cgroup');
    if (item.leaf) return removeCgroupDir(realCgroupFs, item.path, liveness.spared);
    // A level above: only once nothing is below it (another container of the caller's may be).
    removeMadeLevels({ path: '/', made: [item.path], cellblockId: '' });
  },
};

export const ociInventory: Inventory<OciScope, unknown> = {
  area: 'oci',
  kinds: [
    cgroupsOfRecords as Kind<InventoryItem, OciScope, unknown>,
    stateDirs as Kind<InventoryItem, OciScope, unknown>,
  ],
  containers(scope): KnownContainer[] {
    const root = scope.ociRoot;
    if (root === undefined) return [];
    return listOciIds(root).flatMap((id) => {
      const s = readOciState(root, id);
      if (!s) return [];
      return [
        {
          id: s.cellblockId,
          ...(initAlive(s.pid, s.startTime)
            ? { running: `OCI container ${id} (cellblock-oci, init pid ${s.pid}) is created or running` }
            : {}),
        },
      ];
    });
  },
};
