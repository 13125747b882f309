/**
 * Device nodes for the container's /dev: mknod(2), and makedev(3) from the
 * koffi-free sysmacros.ts; extended attributes (overlayfs' opaque
 * directories): lgetxattr(2).
 * (Plain files, directories and symlinks: node:fs does those.)
 */
import { constants } from 'node:os';
import koffi from 'koffi';
import { SyscallError } from './errors.js';
import { check, libc } from './libc.js';

export { makedev } from './sysmacros.js';

const _mknod = libc.func('int mknod(const char *pathname, uint32_t mode, uint64_t dev)');

/**
 * mknod(2): create a device node — `mode` is the type (S_IFCHR, S_IFBLK) OR-ed
 * with the permission bits, `dev` comes from makedev(major, minor). The kernel
 * applies the umask to the permissions (chmod afterwards for exact modes).
 * Needs CAP_MKNOD (EPERM otherwise, and always inside a user namespace: there,
 * bind-mount the host's nodes instead). EEXIST if the path exists.
 */
export function mknod(pathname: string, mode: number, dev: bigint): void {
  check(_mknod(pathname, mode, dev), 'mknod', pathname);
}

const _lgetxattr = libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)');

/**
 * lgetxattr(2): the value of one extended attribute of `path` itself (a
 * symlink is not followed), or null when the file does not have it (ENODATA).
 * overlayfs keeps its own bookkeeping in the `trusted.overlay.*` namespace of
 * the upper directory — `trusted.overlay.opaque = "y"` on a directory means
 * "hide everything the lower layers have here" (man: Documentation/filesystems/
 * overlayfs.rst, "whiteouts and opaque directories"). Reading trusted.* needs
 * CAP_SYS_ADMIN. Values up to 4 KiB (ERANGE beyond).
 */
export function lgetxattr(path: string, name: string): Buffer | null {
  const buf = Buffer.alloc(4096);
  const n = Number(_lgetxattr(path, name, buf, buf.length));
  if (n === -1) {
    const errno = koffi.errno();
    if (errno === constants.errno.ENODATA) return null;
    throw new SyscallError('lgetxattr', errno, path);
  }
  return buf.subarray(0, n);
}
