/**
 * Lesson 06 — copy-on-write roots (overlayfs).
 *
 * An image is a stack of read-only layers shared by every container made from
 * it; each container writes only to a thin layer of its own. overlayfs merges
 * them: lookups go top-down through `upperdir` then each `lowerdir`; the
 * first write to a lower file copies it up into `upperdir`; a deletion leaves
 * a *whiteout* (a character device 0:0) in `upperdir` that hides the lower
 * file. The lower layers are never written — which is why starting a
 * container costs one empty directory, not a copy of the image.
 *
 * The steps, and where each runs:
 *   host       create upper/, work/, merged/ for this container   hostAfterSpawn
 *   container  make every mount private, mount the overlay on     prepareRootfs (before
 *              merged/, and make merged/ the root lesson 03         every lesson's init)
 *              pivots into (config.rootfs)
 *   host       remove the directories — all but upper/ with --keep hostCleanup
 */
import { mkdirSync, rmSync } from 'node:fs';
import { MS_PRIVATE, MS_REC } from '../../src/native/constants.js';
import type { Sys } from '../../src/native/index.js';
import { defineLesson } from '../../src/core/lesson.js';
import {
  inUserNamespace,
  keptChanges,
  overlayDirs,
  recordOverlay,
  requireOverlayRoot,
  overlayValidations,
  type OverlayConfig,
  type OverlayDirs,
} from '../../src/core/images/overlay.js';

/**
 * upper/ and work/ must be on the same filesystem (the kernel renames from one
 * into the other while copying up), and work/ must start empty; merged/ is
 * just a mount point. They live on the host's disk, one set per container.
 */
function createContainerDirs(o: OverlayDirs): void {
  // [container-dirs] with their parents: o.dir does not exist yet.
  mkdirSync(o.upper, { recursive: true });
  mkdirSync(o.work, { recursive: true });
  mkdirSync(o.merged, { recursive: true });
}

/**
 * This step runs before lesson 03's, so before its MS_PRIVATE: without it, on
 * a host whose mounts are shared (systemd's default), the overlay mounted
 * below would propagate back into the host's mount table.
 */
function makeMountsPrivate(sys: Sys): void {
  // [private] lesson 03's first step, made earlier.
  sys.mount(null, '/', null, MS_REC | MS_PRIVATE, null);
}

/**
 * mount(2) with filesystem type "overlay" and the layers in its data string.
 * lowerdir lists the layers top first, separated by ':'. The source ("overlay")
 * is only a label in mountinfo.
 */
function mountOverlay(o: OverlayDirs, sys: Sys): void {
  // [mount-overlay] layers top first, then the container's own upper and work.
  // In a user namespace (lesson 08) overlayfs may not write trusted.* xattrs,
  // and removing a lower directory would fail with EIO: userxattr.
  const userxattr = inUserNamespace() ? ',userxattr' : '';
  sys.mount(
    'overlay',
    o.merged,
    'overlay',
    0,
    `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}${userxattr}`,
  );
}

/**
 * The container's writes are in upper/ and nowhere else, so removing the
 * directory removes them; --keep leaves upper/ (and overlay.json, which says
 * which layers it sat on) for `cellblock diff`. The overlay itself needs no
 * unmount: it lived in the container's mount namespace, gone with its last process.
 */
function removeContainerDirs(o: OverlayDirs, keep: boolean): void {
  // [remove-dirs] everything, or everything but the changes.
  if (keep) {
    rmSync(o.work, { recursive: true, force: true });
    rmSync(o.merged, { recursive: true, force: true });
  } else {
    rmSync(o.dir, { recursive: true, force: true });
  }
}

export default defineLesson<OverlayConfig>({
  id: '06-overlay',
  features: ['image-layers'], // `cellblock run IMAGE` and `cellblock build` stack layers through this lesson
  buildStep: { keep: true }, // a build step's upper directory becomes the image's next layer
  options: {
    keep: {
      type: 'boolean',
      describe: "keep the container's upper layer (its changes) after it ends: see `cellblock diff ID`",
    },
  },
  validate: overlayValidations,

  hostAfterSpawn({ config }) {
    const o = overlayDirs(config);
    config.overlay = o;
    createContainerDirs(o);
    recordOverlay(config, o);
  },

  prepareRootfs(config, sys) {
    const o = config.overlay!;
    makeMountsPrivate(sys);
    mountOverlay(o, sys);

    // [rootfs-merged] Lesson 03 binds, fills (/proc, /dev, /sys) and pivots into config.rootfs:
    // from now on that is the merged view, not the image's directory.
    config.rootfs = o.merged;
    requireOverlayRoot(config);
  },

  async hostCleanup({ config, notes, undo }) {
    await undo({
      'remove the container directories': () =>
        config.overlay && removeContainerDirs(config.overlay, config.keep === true),
      'say where the kept changes are': () => notes.push(...keptChanges(config)), // with --keep, for `cellblock diff`
    });
  },
});
