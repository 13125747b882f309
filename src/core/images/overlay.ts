/**
 * What lesson 06 needs from the shared code: where a container's overlay
 * directories are, which layers go below, and a record of both for
 * `cellblock diff`. The lesson does the kernel work (create, mount, remove).
 */
import { readMountinfo } from '../mountinfo.js';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerConfig } from '../config.js';
import type { Validation } from '../lesson.js';
import { containerDir } from '../names.js';
import type { OverlayRecord } from './store.js';

/** The config fields lesson 06 reads. */
export interface OverlayFields {
  /** The image's name, when the container runs one (`cellblock run IMAGE`); for the record only. */
  image?: string;
  /** Lower layer directories, top first (what lowerdir= takes). Default: [config.rootfs]. */
  layers?: string[];
  /** Leave the upper directory (the container's changes) after the end: `run --keep`. */
  keep?: boolean;
  /** Filled in on the host by lesson 06's hostAfterSpawn, read by its container-side step. */
  overlay?: OverlayDirs;
}

export type OverlayConfig = ContainerConfig & OverlayFields;

export interface OverlayDirs {
  /** <CONTAINERS_DIR>/<id>: everything of this container's on disk. */
  dir: string;
  /** Read-only layers, top first. Shared by every container of the image: never written. */
  lower: string[];
  /** The container's own writes (and whiteouts for its deletions). */
  upper: string;
  /** overlayfs' scratch space: an empty directory on the same filesystem as upper. */
  work: string;
  /** Where the overlay is mounted, inside the container's mount namespace only. */
  merged: string;
}

/** The paths for this container (nothing is created here). */
export function overlayDirs(config: OverlayConfig): OverlayDirs {
  const dir = containerDir(config.id);
  return {
    dir,
    lower: config.layers && config.layers.length > 0 ? config.layers : [config.rootfs],
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'merged'),
  };
}

/**
 * <dir>/overlay.json: the layers this container stacks, so `cellblock diff`
 * can tell a changed file from an added one, and `rmi` keeps layers in use.
 * Written only once the lesson has created the directory.
 */
export function recordOverlay(config: OverlayConfig, o: OverlayDirs): void {
  if (!existsSync(o.dir)) return;
  const record: OverlayRecord = {
    id: config.id,
    ...(config.image ? { image: config.image } : {}),
    lower: o.lower,
    upper: o.upper,
    work: o.work,
    merged: o.merged,
    ...(config.keep === true ? { keep: true } : {}),
  };
  writeFileSync(join(o.dir, 'overlay.json'), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Whether the calling process is in a user namespace other than the host's:
 * its /proc/self/uid_map is then anything but the identity map of every id.
 * Inside one, overlayfs may not set trusted.* xattrs — which it needs to
 * remove or rename a directory of a lower layer (an opaque or redirect mark):
 * the option `userxattr` makes it use user.overlay.* instead (kernel ≥ 5.11,
 * Documentation/filesystems/overlayfs.rst).
 */
export function inUserNamespace(): boolean {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
  } catch {
    return false;
  }
}

/** lowerdir=…,upperdir=…,workdir=… — the data argument of mount(2) for an overlay. */
export function overlayOptions(o: OverlayDirs): string {
  return `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}`;
}

/**
 * A safety rail (given code in the lesson, like the guarded `sys`): a
 * container of an image must never run on a layer directory itself — it would
 * write into the image. If the lesson has not made the overlay the root yet,
 * the container stops here.
 */
export function requireOverlayRoot(config: OverlayConfig): void {
  const o = config.overlay;
  if (!config.layers || !o || config.rootfs === o.merged) return;
  const what = config.image ? `image ${config.image}` : 'this container';
  throw new Error(
    isMountPoint(o.merged)
      ? `TODO: the overlay lesson — the overlay is mounted on ${o.merged}, but config.rootfs still says ${config.rootfs}: point it at the merged view (${what} would otherwise write into its layers)`
      : `TODO: the overlay lesson — nothing is mounted on ${o.merged}: ${what} needs its layers mounted as an overlay there, and config.rootfs pointed at it (it would otherwise write into its layers)`,
  );
}

/**
 * After the end, with --keep: where the container's changes are, as a note for
 * the user (HostContext.notes; `cellblock run` prints it). None if nothing was kept.
 */
export function keptChanges(config: OverlayConfig): string[] {
  const upper = config.overlay?.upper;
  if (config.keep !== true || !upper || !existsSync(upper)) return [];
  return [`kept ${config.id}'s changes in ${upper}: \`cellblock diff ${config.id}\` lists them`];
}

/** Is `path` a mount point in this process's mount namespace? (The init still sees the host's /proc here.) */
function isMountPoint(path: string): boolean {
  return readMountinfo('self').some((m) => m.mountPoint === path);
}

/** mount(2)'s data argument is one page: this many bytes of options at most. */
const MOUNT_DATA_MAX = 4095;

export const overlayValidations: Validation<OverlayConfig>[] = [
  // A directory left by `run --keep` (or a killed runtime): reusing it would
  // stack on the old changes, and the cleanup would then delete them.
  ({ id }) =>
    existsSync(containerDir(id))
      ? `container id ${id} already has a directory, ${containerDir(id)} (kept with --keep, or left by a killed run): look with \`cellblock diff ${id}\`, then remove it with \`cellblock cleanup\`, or choose another --id`
      : undefined,
  ({ layers }) => {
    const missing = (layers ?? []).find((l) => !existsSync(l));
    return missing === undefined
      ? undefined
      : `layer directory ${missing} does not exist: is the image damaged? (\`cellblock images\`)`;
  },
  ({ layers }) =>
    (layers ?? []).some((l) => l.includes(':') || l.includes(','))
      ? 'a layer path contains ":" or ",", which overlayfs options cannot carry: move the image store (CELLBLOCK_IMAGES_DIR)'
      : undefined,
  (config) => {
    const bytes = overlayOptions(overlayDirs(config)).length;
    return bytes <= MOUNT_DATA_MAX
      ? undefined
      : `${config.layers?.length} layers make ${bytes} bytes of overlay options, more than mount(2) takes (${MOUNT_DATA_MAX}): use an image with fewer layers`;
  },
];
