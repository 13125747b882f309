/**
 * File descriptors and terminals: fcntl(2), close_range(2), ioctl(2), pipe2(2),
 * flock(2), openat2(2).
 */
import { check, libc, syscall, syscallNumber } from './libc.js';

const _fcntl = libc.func('int fcntl(int fd, int cmd, ...)');
const _close_range = libc.func('int close_range(unsigned int first, unsigned int last, int flags)');
const _ioctl = libc.func('int ioctl(int fd, unsigned long request, ...)');
const _pipe2 = libc.func('int pipe2(_Out_ int *pipefd, int flags)');
const _close = libc.func('int close(int fd)');
const _dup2 = libc.func('int dup2(int oldfd, int newfd)');
const _flock = libc.func('int flock(int fd, int operation)');

/** fcntl(2) with an int argument (F_GETFD, F_SETFD, …). */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(_fcntl(fd, cmd, 'int', arg), 'fcntl', `fd ${fd}`);
}

/**
 * close_range(2) (Linux 5.9+). With CLOSE_RANGE_CLOEXEC the fds are not closed
 * but marked close-on-exec: the runtime keeps using them, the exec'd program
 * never sees them. Use ~0 >>> 0 (UINT_MAX) as `last` for "all".
 */
export function close_range(first: number, last: number, flags: number): void {
  check(_close_range(first, last, flags), 'close_range');
}

/** ioctl(2) with an int argument, e.g. ioctl(0, TIOCSCTTY, 0). */
export function ioctl(fd: number, request: number, arg = 0): number {
  return check(_ioctl(fd, request, 'int', arg), 'ioctl', `fd ${fd}`);
}

/** ioctl(2) with a pointer argument (a struct passed as a Buffer), e.g. TIOCSWINSZ. */
export function ioctlBuffer(fd: number, request: number, buf: Buffer): number {
  return check(_ioctl(fd, request, 'uint8_t *', buf), 'ioctl', `fd ${fd}`);
}

/** pipe2(2): returns [readEnd, writeEnd]. */
export function pipe2(flags: number): [number, number] {
  const fds = [0, 0];
  check(_pipe2(fds, flags), 'pipe2');
  return [fds[0]!, fds[1]!];
}

/**
 * dup2(2): make `newfd` a copy of `oldfd` (closing what `newfd` was first).
 * The copy does not inherit FD_CLOEXEC: that is how stdio is handed on.
 */
export function dup2(oldfd: number, newfd: number): void {
  check(_dup2(oldfd, newfd), 'dup2', `fd ${oldfd} → ${newfd}`);
}

/** close(2). */
export function close(fd: number): void {
  check(_close(fd), 'close', `fd ${fd}`);
}

/**
 * flock(2): an advisory lock on the open file `fd` refers to (LOCK_EX, LOCK_SH,
 * LOCK_UN; | LOCK_NB to fail with EWOULDBLOCK instead of waiting). The kernel
 * drops it when the last fd of that open file is closed — also when the
 * holder dies, so a crashed process can never leave it held. Two open() calls
 * of the same file, even in one process, are two holders that exclude each other.
 */
export function flock(fd: number, operation: number): void {
  check(_flock(fd, operation), 'flock', `fd ${fd}`);
}

/** openat2(2) `resolve` flags (linux/openat2.h). */
export const RESOLVE_NO_MAGICLINKS = 0x02; // no /proc/<pid>/fd/N-style jumps
export const RESOLVE_IN_ROOT = 0x10; // "/" and ".." stop at dirfd, as if chroot(dirfd)

/**
 * openat2(2): open `path` relative to `dirfd` with `resolve` rules the kernel
 * enforces at every step (Linux 5.6; glibc has no wrapper). With
 * RESOLVE_IN_ROOT a path under /proc/<pid>/root opened by the host cannot be
 * steered out of the container by a symlink the container planted — the
 * absolute target resolves inside it, as it would for the container.
 */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const ret = syscall(syscallNumber('openat2'), 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', 24);
  return check(ret, 'openat2', path);
}
