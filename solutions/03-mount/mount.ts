/**
 * Lesson 03 — my own /.
 *
 * A mount namespace gives the container its own copy of the mount table:
 * mounts made inside are invisible to the host. With it the container gets its
 * own root: the rootfs becomes `/`, and the host's tree is detached for good.
 *
 * The steps run in this order (runc's prepareRootfs → pivotRoot), each named
 * after what it asks the kernel:
 *   1. make every mount private      before any mount, or it may reach the host
 *   2. bind the rootfs onto itself   pivot_root wants a mount point
 *   3. mount /proc, /dev, /sys       under the new root, still reachable by path
 *   4. pivot_root, detach old root   the host's tree leaves the namespace
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** The device nodes programs expect in /dev, with their numbers from the kernel's devices.txt. */
const DEVICES = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/** The symlinks every Linux /dev has: name → target. */
const DEV_LINKS = {
  fd: '/proc/self/fd',
  stdin: '/proc/self/fd/0',
  stdout: '/proc/self/fd/1',
  stderr: '/proc/self/fd/2',
  ptmx: 'pts/ptmx',
};

/**
 * 1. Copying the mount table (CLONE_NEWNS) copies each mount's propagation too:
 * a mount that is "shared" (systemd makes / shared) stays in a peer group with
 * the host's, and anything we mount below it would appear on the host as well.
 * MS_PRIVATE cuts those links; MS_REC applies it to every mount under /, not
 * just / itself. Before any other mount, or that one may already have leaked.
 */
function makeMountsPrivate(sys: Sys): void {
  // [private] every mount, recursively, before anything is mounted.
  sys.mount(null, '/', null, MS_REC | MS_PRIVATE, null);
}

/**
 * 2. pivot_root needs new_root to be a mount point; a plain directory (the
 * usual rootfs) is not, and pivot_root would fail with EINVAL. Binding it onto
 * itself makes it one. MS_REC brings along anything already mounted inside it.
 */
function bindRootfs(rootfs: string, sys: Sys): void {
  // [bind-rootfs] the rootfs onto itself: now a mount point.
  sys.mount(rootfs, rootfs, null, MS_BIND | MS_REC, null);
}

/**
 * 3a. A fresh proc, under the new root, before pivot_root. A proc instance
 * shows the PID namespace of the process that mounts it, so it must be
 * mounted by us (PID 1 of the new one): the inherited /proc is the host's,
 * which is why `ps` listed the host's processes in lesson 02. Before
 * pivot_root rather than after: as root both work, but inside a user
 * namespace the kernel allows a new proc only while a full one is still
 * visible in the mount namespace — the host's, which step 4 detaches.
 */
function mountProc(rootfs: string, sys: Sys): void {
  const target = join(rootfs, 'proc');
  mkdirSync(target, { recursive: true });

  // [proc] mounted from inside the new PID namespace: it shows that one.
  sys.mount('proc', target, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
}

/**
 * 3b. A minimal /dev on a tmpfs of its own, as runc makes it: the host's /dev
 * holds every disk of the machine. Device nodes are created with mknod (we are
 * real root; in a user namespace, where mknod is refused, the host's nodes
 * are bind-mounted instead).
 */
function mountDev(rootfs: string, sys: Sys): void {
  const dev = join(rootfs, 'dev');
  mkdirSync(dev, { recursive: true });

  // [dev-tmpfs] No MS_NODEV here: the nodes below must work. MS_STRICTATIME as runc does.
  sys.mount('tmpfs', dev, 'tmpfs', MS_NOSUID | MS_STRICTATIME, 'mode=755,size=65536k');
  for (const d of DEVICES) {
    const path = join(dev, d.name);
    try {
      sys.mknod(path, S_IFCHR | 0o666, sys.makedev(d.major, d.minor));
      chmodSync(path, 0o666); // mknod's mode went through the umask
    } catch (err) {
      // In a user namespace (lesson 08) the kernel refuses mknod (EPERM):
      // a device node made there would bypass the host's device policy. The
      // host's own node, bind-mounted onto an empty file, is the same device.
      if ((err as { code?: string }).code !== 'EPERM') throw err;
      writeFileSync(path, '');
      sys.mount(`/dev/${d.name}`, path, null, MS_BIND, null);
    }
  }

  // [devpts] A devpts instance of the container's own: its ptys are numbered from 0 and
  // the host's are not listed. ptmxmode=0666 so /dev/ptmx (→ pts/ptmx) opens.
  mkdirSync(join(dev, 'pts'));
  sys.mount('devpts', join(dev, 'pts'), 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620');

  // [dev-shm] POSIX shared memory (shm_open) lives in /dev/shm: private, sticky like /tmp.
  mkdirSync(join(dev, 'shm'));
  sys.mount('shm', join(dev, 'shm'), 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=1777,size=65536k');
  for (const [name, target] of Object.entries(DEV_LINKS)) symlinkSync(target, join(dev, name));
}

/**
 * 3c. sysfs, read-only: programs read it (lscpu, udev-less tools), nothing in
 * a container should write the host's kernel settings through it. (In a user
 * namespace sysfs mounts only with a network namespace of its own.)
 */
function mountSys(rootfs: string, sys: Sys): void {
  const target = join(rootfs, 'sys');
  mkdirSync(target, { recursive: true });

  // [sysfs] read-only: looking is all a container needs.
  sys.mount('sysfs', target, 'sysfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
}

/**
 * 4. pivot_root(".", ".") makes the rootfs the namespace's root mount and
 * stacks the old root on top of it, at the same place; umount2(".",
 * MNT_DETACH) then lazily detaches that old root — the host's whole tree —
 * from the namespace. Nothing inside can reach it any more, not even by `..`.
 * Last, chdir("/") so no working directory points into the detached tree.
 */
function pivotRoot(rootfs: string, sys: Sys): void {
  // [pivot-root] swap the roots, then let go of the old one.
  sys.chdir(rootfs);
  sys.pivot_root('.', '.');
  sys.umount2('.', MNT_DETACH);
  sys.chdir('/');
}

/**
 * `--chroot`, for the escape demo only — INSECURE. chroot changes where "/"
 * starts for path lookups and nothing else: the host's tree stays mounted in
 * the namespace, one `..` walk away for a root process (see
 * scripts/rootfs/breakout.c and the README).
 */
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

  // [mnt-flag] The init starts in a copy of the host's mount table, which it alone changes.
  cloneFlags: () => CLONE_NEWNS,

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
