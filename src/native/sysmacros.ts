/**
 * <sys/sysmacros.h>: makedev(3). Plain arithmetic, no libc and no koffi, so
 * both implementations of Sys (libc and recording) share this one.
 */

/** makedev(3): glibc's dev_t encoding of a (major, minor) pair, as mknod(2) takes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}
