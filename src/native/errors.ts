/**
 * Typed errors for the native layer.
 *
 * Every failing libc call becomes a SyscallError carrying what a learner (and a
 * grader's log) needs to act on it: the errno name (`code`, e.g. 'EPERM'), the
 * number, the syscall, the path involved, and — for the failures people hit
 * over and over — a one-line hint on how to fix it.
 */
import { constants } from 'node:os';

const ERRNO_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(constants.errno)) {
  // os.constants.errno has aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first.
  if (!(value in ERRNO_NAMES)) ERRNO_NAMES[value] = name;
}

/** 'EPERM' for 1, 'E123' for an errno this Node build does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * Fix hints for the common failures, keyed by `syscall:code` first, then by code alone.
 * They are phrased as actions: what to do, not what went wrong.
 */
const HINTS: Record<string, string> = {
  EPERM: 'needs root (CAP_SYS_ADMIN): run as root, e.g. `sudo cellblock …`',
  EACCES: 'permission denied: run as root and check the file modes on the path',
  'unshare:EINVAL':
    'a flag is unknown to this kernel, or CLONE_NEWUSER was asked for in a multithreaded process (Node always is)',
  'setns:EINVAL':
    'the fd is not a namespace of the requested type, or (mount ns) the thread shares its fs state: unshare(CLONE_NEWNS) first',
  'pivot_root:EINVAL':
    'new_root must be a mount point (bind-mount it onto itself), put_old must be under new_root, and new_root must not be on a shared mount (mount("", "/", "", MS_REC|MS_PRIVATE) first)',
  'pivot_root:EBUSY': 'new_root or put_old is the current root, or already has something mounted on it',
  'mount:ENOENT': 'the mount point (target) does not exist: create it first',
  'mount:ENODEV': 'the kernel does not know this filesystem type: check /proc/filesystems',
  'mount:EBUSY': 'something is already mounted there, or the source is busy',
  'mount:EINVAL':
    'the flags or the options do not fit this filesystem type (overlay: every lowerdir, upperdir and workdir must exist, upper and work on one filesystem — `dmesg | tail` names the problem)',
  'sethostname:EINVAL': 'hostnames are at most 64 bytes (HOST_NAME_MAX)',
  'execve:ENOENT': 'no such file in the container: is the command in the rootfs, and on its PATH?',
  'execve:EACCES': 'the file is not executable (chmod +x) or sits on a noexec mount',
  'chdir:ENOENT': 'the working directory does not exist in the container: create it in the rootfs, or pick another -w',
  'umount2:EINVAL': 'the target is not a mount point',
  'mknod:EEXIST': 'the node exists already: mknod into a fresh tmpfs (mount one on /dev first)',
  'mknod:EPERM':
    'needs CAP_MKNOD: run as root (inside a user namespace it is never granted: bind-mount the host’s node instead)',
  'chroot:EPERM': 'needs CAP_SYS_CHROOT: run as root',
};

export function hintFor(syscall: string, code: string): string | undefined {
  return HINTS[`${syscall}:${code}`] ?? HINTS[code];
}

/** A failed system call, as C would report it: `syscall(path): CODE (strerror)`. */
export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string | undefined;
  readonly hint: string | undefined;

  constructor(syscall: string, errno: number, path?: string) {
    const code = errnoName(errno);
    const hint = hintFor(syscall, code);
    super(`${syscall}${path !== undefined ? `(${path})` : ''}: ${code}${hint ? ` — ${hint}` : ''}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
    this.hint = hint;
  }

  /** Plain data, to send across a pipe (init → host) and rebuild there. */
  toJSON(): SyscallErrorData {
    return { kind: 'syscall', syscall: this.syscall, errno: this.errno, path: this.path };
  }

  static fromJSON(data: SyscallErrorData): SyscallError {
    return new SyscallError(data.syscall, data.errno, data.path);
  }
}

export interface SyscallErrorData {
  kind: 'syscall';
  syscall: string;
  errno: number;
  path?: string | undefined;
}
