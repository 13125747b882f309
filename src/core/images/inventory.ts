/**
 * The image/overlay area's inventory (core/inventory.ts): what lesson 06 makes
 * for a container — its directory CONTAINERS_DIR/<id> (upper, work, merged,
 * overlay.json) and whatever is mounted below it (the overlay on merged, when
 * a broken lesson mounted it in the host's namespace).
 */
import { join, relative, sep } from 'node:path';
import { STAGE, type Inventory, type InventoryItem, type Kind } from '../inventory.js';
import { isBelow, mountKind, type MountOps } from '../mountinfo.js';
import { listDir, readJson } from '../read.js';

export interface ImageScope {
  mountinfo: string;
  /** Per-container directories (names.ts CONTAINERS_DIR). */
  containersDir: string;
}

export interface DirItem extends InventoryItem {
  kind: 'dir';
  path: string;
}

export interface ImageOps extends MountOps {
  /** `rm -rf`; AlreadyGone when there is nothing. */
  rmrf(path: string): void;
}

const mounts = mountKind<ImageScope>('images', (scope) => (path) => {
  if (!isBelow(path, scope.containersDir)) return undefined;
  // The first directory below is the container's: CONTAINERS_DIR/<id>/merged.
  const containerId = relative(scope.containersDir, path).split(sep)[0]!;
  return { why: 'below the containers directory', containerId };
});

const dirs: Kind<DirItem, ImageScope, ImageOps> = {
  kind: 'dir',
  stage: STAGE.dirs,
  list: (scope) =>
    listDir(scope.containersDir).map((id) => ({
      area: 'images',
      kind: 'dir',
      name: join(scope.containersDir, id),
      path: join(scope.containersDir, id),
      why: 'a container directory (overlay upper/work)',
      containerId: id,
      ...(keptByUser(join(scope.containersDir, id)) ? { userKept: 'kept with run --keep' } : {}),
    })),
  remove: (item, ops) => ops.rmrf(item.path),
};

export const imageInventory: Inventory<ImageScope, ImageOps> = { area: 'images', kinds: [mounts, dirs] };

/** Its overlay.json says `run --keep`. */
function keptByUser(dir: string): boolean {
  return readJson<{ keep?: boolean }>(join(dir, 'overlay.json'))?.keep === true;
}
