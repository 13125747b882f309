/**
 * Kernel constants, spelled as in the C headers so `man 2 unshare` and this code
 * read side by side. Values are from the Linux UAPI headers; the ones that differ
 * by architecture (syscall numbers) live in libc.ts.
 */

// <sched.h> — clone(2) / unshare(2) namespace flags
export const CLONE_NEWNS = 0x00020000; // mount namespace (the first one: hence not "NEWMNT")
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000; // hostname and NIS domain name
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

// <limits.h> — sethostname(2)
export const HOST_NAME_MAX = 64; // longest hostname the kernel accepts, in bytes, without the NUL

// <sys/mount.h> — mount(2) flags
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_STRICTATIME = 0x1000000;

// umount2(2) flags
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

// <fcntl.h>
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const O_CLOEXEC = 0o2000000;

// flock(2)
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

// close_range(2)
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

// <asm-generic/ioctls.h>
export const TIOCSCTTY = 0x540e;
export const TIOCSWINSZ = 0x5414;
export const TIOCSPGRP = 0x5410; // tcsetpgrp(3): make a process group the terminal's foreground group
export const TIOCGPTN = 0x80045430; // ptsname(3): the number N of a pty master's slave, /dev/pts/N
export const TIOCSPTLCK = 0x40045431; // unlockpt(3) with 0: allow the slave to be opened

// <sys/stat.h> — file types, for mknod(2)
export const S_IFCHR = 0o020000; // character device
export const S_IFBLK = 0o060000; // block device

// <sys/wait.h>
export const WNOHANG = 1; // waitpid(2): return 0 instead of blocking when no child has changed state

// <spawn.h> — posix_spawnattr_setflags(3) (glibc values)
export const POSIX_SPAWN_SETPGROUP = 0x02;
export const POSIX_SPAWN_SETSIGDEF = 0x04;
export const POSIX_SPAWN_SETSIGMASK = 0x08;

// <signal.h>
export const SIG_SETMASK = 2;
export const NSIG = 65; // signals 1..64

/** Every namespace type, with the file name it has under /proc/<pid>/ns/. */
export const NAMESPACES = [
  { flag: CLONE_NEWCGROUP, file: 'cgroup' },
  { flag: CLONE_NEWIPC, file: 'ipc' },
  { flag: CLONE_NEWNET, file: 'net' },
  { flag: CLONE_NEWNS, file: 'mnt' },
  { flag: CLONE_NEWPID, file: 'pid' },
  { flag: CLONE_NEWUSER, file: 'user' },
  { flag: CLONE_NEWUTS, file: 'uts' },
] as const;

export type NamespaceFile = (typeof NAMESPACES)[number]['file'];
