/**
 * Device nodes for the container's /dev: mknod(2), makedev(3).
 * (Plain files, directories and symlinks: node:fs does those.)
 */
import { check, libc } from './libc.js';

const _mknod = libc.func('int mknod(const char *pathname, uint32_t mode, uint64_t dev)');

/** makedev(3): glibc's dev_t encoding of a (major, minor) pair, as mknod(2) takes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

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
