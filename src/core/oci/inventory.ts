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
      const s = readOciState(root, id);
      return {
        area: 'oci',
        kind: 'oci-state',
        name: join(root, id),
        dir: join(root, id),
        why: `cellblock-oci state of container ${id}`,
        ...(s ? { containerId: s.cellblockId } : {}),
      };
    });
  },
  remove(item) {
    if (!existsSync(item.dir)) throw new AlreadyGone('no such directory');
    rmSync(item.dir, { recursive: true, force: true });
  },
};

export const ociInventory: Inventory<OciScope, unknown> = {
  area: 'oci',
  kinds: [stateDirs as Kind<InventoryItem, OciScope, unknown>],
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
