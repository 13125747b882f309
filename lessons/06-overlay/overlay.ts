/**
 * Lesson 06 — copy-on-write roots (overlayfs).
 *
 * GOAL: the container's / is an overlay: the image's read-only layers below,
 * a fresh upper directory of its own on top. Its writes land in upper/, its
 * deletions become whiteouts there, and the layers — shared by every
 * container of the image — are never written. The directories go away at the
 * end (all but upper/ with --keep). Check your work with `cellblock verify 06`.
 *
 * This lesson's container-side step is `prepareRootfs`: the init runs it
 * before every lesson's `init`, so lesson 03 then pivots into whatever
 * config.rootfs is when it returns.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { MS_PRIVATE, MS_REC } from '../../src/native/constants.js';
import type { Sys } from '../../src/native/index.js';
import { defineLesson } from '../../src/core/lesson.js';
import {
  keptChanges,
  overlayDirs,
  recordOverlay,
  requireOverlayRoot,
  overlayValidations,
  type OverlayConfig,
  type OverlayDirs,
} from '../../src/core/images/overlay.js';

function createContainerDirs(o: OverlayDirs): void {
  // TODO [container-dirs]: create this container's o.upper, o.work and o.merged directories (their parent o.dir does not exist yet).
  // HINT: which of them must be on the same filesystem, and which must start empty? (man: overlayfs.rst, "Upper and Lower")
}

function makeMountsPrivate(sys: Sys): void {
  // TODO [private]: as lesson 03's first step: this one runs *before* lesson 03's, and the overlay must not reach the host.
}

function mountOverlay(o: OverlayDirs, sys: Sys): void {
  // TODO [mount-overlay]: mount an overlay on o.merged: the layers o.lower (top first), o.upper for the writes, o.work for the kernel.
  // HINT: mount(2) with filesystem type "overlay"; the layers go in the data string: lowerdir=A:B,upperdir=U,workdir=W
}

function removeContainerDirs(o: OverlayDirs, keep: boolean): void {
  // TODO [remove-dirs]: remove o.dir and everything in it — but with --keep (keep === true) leave o.upper
  // and overlay.json (remove only o.work and o.merged), so `cellblock diff` can show what the container changed.
  // HINT: the overlay needs no unmount here: in which mount namespace was it mounted, and is that namespace still alive?
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
    const o = overlayDirs(config); // the paths: <containers>/<id>/{upper,work,merged}, and the layers
    config.overlay = o;
    createContainerDirs(o);
    recordOverlay(config, o); // overlay.json, for `cellblock diff` (once the directory exists)
  },

  prepareRootfs(config, sys) {
    const o = config.overlay!;
    makeMountsPrivate(sys);
    mountOverlay(o, sys);

    // TODO [rootfs-merged]: lesson 03 binds, fills and pivots into config.rootfs: make that the merged view (o.merged).
    requireOverlayRoot(config); // refuses to run an image straight from its layer directories
  },

  async hostCleanup({ config, notes, undo }) {
    await undo({
      'remove the container directories': () =>
        config.overlay && removeContainerDirs(config.overlay, config.keep === true),
      'say where the kept changes are': () => notes.push(...keptChanges(config)), // with --keep, for `cellblock diff`
    });
  },
});
