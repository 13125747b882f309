/**
 * Lesson 03 — my own /.
 *
 * GOAL: the container gets its own mount namespace and its own root: the
 * rootfs becomes `/`, with a fresh /proc (so `ps` shows only the container), a
 * minimal /dev and a read-only /sys, and the host's tree is out of reach.
 * Nothing you mount may appear on the host. Check your work with `cellblock verify 03`.
 */
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLONE_NEWNS,
  MNT_DETACH,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_STRICTATIME,
  S_IFCHR,
} from '../../src/native/constants.js';
import type { Sys } from '../../src/native/index.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

type MountConfig = ContainerConfig & { chroot?: boolean };

const DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

const DEV_LINKS = {
  fd: '/proc/self/fd',
  stdin: '/proc/self/fd/0',
  stdout: '/proc/self/fd/1',
  stderr: '/proc/self/fd/2',
  ptmx: 'pts/ptmx',
};

function makeMountsPrivate(sys: Sys): void {
  // TODO [private]: stop mount propagation between this namespace and the host, for every mount under /.
  // HINT: man 7 mount_namespaces, "shared subtrees"; mount(2) with only flags changes propagation.
}

function bindRootfs(rootfs: string, sys: Sys): void {
  // TODO [bind-rootfs]: make the rootfs directory a mount point, bringing along anything mounted inside it.
  // HINT: man 2 pivot_root says why it must be one; a bind mount can have the same source and target.
}

function mountProc(rootfs: string, sys: Sys): void {
  const target = join(rootfs, 'proc');
  mkdirSync(target, { recursive: true });

  // TODO [proc]: mount a new proc filesystem on `target` (nosuid, nodev, noexec).
  // HINT: man 5 proc — which PID namespace does a proc mount show?
}

function mountDev(rootfs: string, sys: Sys): void {
  const dev = join(rootfs, 'dev');
  mkdirSync(dev, { recursive: true });

  // TODO [dev-tmpfs]: mount a tmpfs of its own on `dev` (nosuid, mode=755), then in it each of
  // DEVICES as a character device node with mode 0666.
  // HINT: man 2 mknod: a node's type and numbers go in (mode, dev) — `sys` has makedev(3) for the numbers.
  // HINT: the umask trims the mode mknod is given (man 2 umask): chmodSync is imported.

  // TODO [devpts]: dev/pts: a devpts instance of the container's own (options newinstance,ptmxmode=0666).
  // HINT: man 5 devpts (or the kernel's filesystems/devpts.rst); mkdirSync is imported — create pts/ first.

  // TODO [dev-shm]: dev/shm: a tmpfs (mode=1777), and the DEV_LINKS symlinks (symlinkSync is imported).
  // HINT: man 7 shm_overview says what lives in /dev/shm.
}

function mountSys(rootfs: string, sys: Sys): void {
  const target = join(rootfs, 'sys');
  mkdirSync(target, { recursive: true });

  // TODO [sysfs]: mount sysfs on `target`, read-only (and nosuid, nodev, noexec).
}

function pivotRoot(rootfs: string, sys: Sys): void {
  // TODO [pivot-root]: make the rootfs the root of this mount namespace, then detach the old root (the host's tree).
  // HINT: man 2 pivot_root, NOTES: after chdir(new_root), both arguments may be '.'; umount2(2) has MNT_DETACH.
  // HINT: end with the working directory at the new '/'.
}

function chrootInto(rootfs: string, sys: Sys): void {
  sys.chdir(rootfs);
  sys.chroot('.');
  sys.chdir('/');
}

export default defineLesson<MountConfig>({
  id: '03-mount',
  options: {
    chroot: {
      type: 'boolean',
      describe: 'INSECURE, for the escape demo: chroot(2) into the rootfs instead of pivot_root(2)',
    },
  },

  // TODO [mnt-flag]: ask the kernel for a new mount namespace for the container.
  cloneFlags: () => 0,

  init(config, sys) {
    makeMountsPrivate(sys);
    bindRootfs(config.rootfs, sys);
    mountProc(config.rootfs, sys);
    mountDev(config.rootfs, sys);
    mountSys(config.rootfs, sys);
    if (config.chroot) chrootInto(config.rootfs, sys);
    else pivotRoot(config.rootfs, sys);
  },
});
