/**
 * Mounts and the root directory: mount(2), umount2(2), pivot_root(2), chroot(2).
 */
import { check, libc, syscall, syscallNumber } from './libc.js';

const _mount = libc.func(
  'int mount(const char *source, const char *target, const char *filesystemtype, unsigned long mountflags, const char *data)',
);
const _umount2 = libc.func('int umount2(const char *target, int flags)');
const _chroot = libc.func('int chroot(const char *path)');

/**
 * mount(2). Same argument order as C, so `man 2 mount` applies line by line:
 *  - a new filesystem:        mount('proc', '/proc', 'proc', MS_NOSUID|MS_NODEV|MS_NOEXEC, null)
 *  - a bind mount:            mount(dir, dir, null, MS_BIND|MS_REC, null)
 *  - change propagation only: mount(null, '/', null, MS_REC|MS_PRIVATE, null)
 *    (source, fstype and data are ignored; with MS_REC it applies to every mount below)
 *  - a read-only bind needs two calls: MS_BIND, then MS_REMOUNT|MS_BIND|MS_RDONLY.
 */
export function mount(
  source: string | null,
  target: string,
  filesystemtype: string | null,
  mountflags: number,
  data: string | null,
): void {
  check(_mount(source, target, filesystemtype, mountflags, data), 'mount', target);
}

/**
 * umount2(2). MNT_DETACH ("lazy") detaches the mount now and frees it when the
 * last user is gone: the way to drop the old root after pivot_root while
 * something in it may still be open.
 */
export function umount2(target: string, flags: number): void {
  check(_umount2(target, flags), 'umount2', target);
}

/**
 * pivot_root(2): make `new_root` the root mount of the calling process's mount
 * namespace and move the old root to `put_old`. The man page's rules (EINVAL /
 * EBUSY otherwise):
 *  1. new_root and put_old must be directories;
 *  2. new_root and put_old must not be on the same mount as the current root;
 *  3. put_old must be at or underneath new_root;
 *  4. new_root must be a mount point (bind-mount a plain directory onto itself);
 *  5. the propagation type of new_root's parent mount and of the current root
 *     must not be MS_SHARED (on systemd hosts `/` is shared: make it MS_PRIVATE).
 * pivot_root('.', '.') after chdir(new_root) stacks the old root on top of the
 * new one, so umount2('.', MNT_DETACH) removes it without any put_old directory.
 *
 * glibc only gained a wrapper in 2.36, so this goes through syscall(2) with the
 * architecture's number, which works on every glibc a workshop VM may have.
 */
export function pivot_root(new_root: string, put_old: string): void {
  const ret = syscall(syscallNumber('pivot_root'), 'const char *', new_root, 'const char *', put_old);
  check(ret, 'pivot_root', new_root);
}

/**
 * chroot(2): change the calling process's root directory — only that, and only
 * for path lookups. It is not a security boundary: the mounts stay where they
 * were, the current directory is not changed (it may stay outside the new
 * root), and a process with CAP_SYS_CHROOT can chroot again into a
 * subdirectory and walk `..` out of both (see scripts/rootfs/breakout.c).
 * pivot_root plus detaching the old root is what takes the host's tree away.
 * EPERM without CAP_SYS_CHROOT.
 */
export function chroot(path: string): void {
  check(_chroot(path), 'chroot', path);
}
