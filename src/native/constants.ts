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
export const S_IFIFO = 0o010000; // named pipe (a FIFO: mknod with dev 0, as mkfifo(3))

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

// <linux/capability.h> — capability numbers (man 7 capabilities), CAP_ prefix dropped as Docker spells them
export const CAPABILITIES = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  LINUX_IMMUTABLE: 9,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_PACCT: 20,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
  SYS_TIME: 25,
  SYS_TTY_CONFIG: 26,
  MKNOD: 27,
  LEASE: 28,
  AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30,
  SETFCAP: 31,
  MAC_OVERRIDE: 32,
  MAC_ADMIN: 33,
  SYSLOG: 34,
  WAKE_ALARM: 35,
  BLOCK_SUSPEND: 36,
  AUDIT_READ: 37,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const;
export type CapabilityName = keyof typeof CAPABILITIES;

// <linux/seccomp.h> and <linux/filter.h> — seccomp(2) and classic BPF (the kernel's seccomp_filter.rst)
export const SECCOMP_SET_MODE_FILTER = 1;
export const SECCOMP_FILTER_FLAG_TSYNC = 1; // install on every thread of the process (fails if one has another filter)
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000; // | errno in the low 16 bits: the call fails with it, unexecuted
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
// struct seccomp_data, the packet a filter reads: offsets in bytes
export const SECCOMP_DATA_NR = 0; // int nr
export const SECCOMP_DATA_ARCH = 4; // __u32 arch (AUDIT_ARCH_*)
export const SECCOMP_DATA_ARGS = 16; // __u64 args[6]: args[i] at 16 + 8*i; the low 32 bits first (little-endian)
// <linux/audit.h>
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
export const X32_SYSCALL_BIT = 0x40000000; // x86_64: the x32 ABI's numbers, same arch value — refuse them
// classic BPF opcodes (<linux/bpf_common.h>)
export const BPF_LD = 0x00;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_JEQ = 0x10;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_K = 0x00;
// errnos a filter returns
export const EPERM = 1;
export const ENOSYS = 38;
