/**
 * `Sys`: the kernel calls a lesson's container-side steps (`prepareRootfs`,
 * `init`) receive as their `sys` parameter — the one interface every such call
 * goes through, as in youki's `Syscall` trait. It has two implementations:
 *
 *   libc       src/native/index.ts: the koffi bindings (`sys satisfies Sys`);
 *              the init hands lessons a guarded copy (core/init/guard.ts)
 *   recording  tests/unit/recording-sys.ts: records each call, can fail any of
 *              them with an errno, answers plausibly — no root, no kernel, no koffi
 *
 * This module is types only, so importing it loads nothing (koffi included).
 * Flags are plain numbers from constants.ts, spelled as in the C headers.
 *
 * The contract both implementations keep, and lessons may rely on:
 *  - C names and C argument order, so `man 2 <name>` reads line by line next
 *    to the code; the only changes are that a buffer and its length become a
 *    string (sethostname, gethostname), and that nothing returns -1:
 *  - a failure throws a SyscallError (errors.ts) whose `syscall` is the C name,
 *    `code` the errno's name ('EINVAL'), and `path` the file the call was
 *    about (the mount target, pivot_root's new_root, …), with a hint for the
 *    common mistakes. The errnos listed below are the ones lessons meet.
 *
 * Members are written as properties (`name: (…) => …`), not methods: TypeScript
 * compares method parameters both ways, so `satisfies Sys` would let a binding
 * narrower than the interface through (a `path: string` for `string | null`).
 *
 * The runtime's own plumbing (execve, waitpid, fcntl, posix_spawn, …) is not
 * here: lessons do not call it, and the core imports it from index.ts directly.
 */
import type { CapUserData, CapUserHeader } from './capability.js';
import type { SockFprog } from './filter.js';

export interface Sys {
  // ── namespaces (man 7 namespaces) ──────────────────────────────────────────

  /**
   * unshare(2): new namespaces of the kinds in `flags` (CLONE_NEWUTS | …) for the
   * calling *thread*. CLONE_NEWPID does not move the caller, only its next child:
   * called in a lesson's init it changes nothing about the init's own pid.
   * EPERM without CAP_SYS_ADMIN; EINVAL for a flag this kernel does not know, or
   * CLONE_NEWUSER in a multithreaded process (Node always is).
   */
  unshare: (flags: number) => void;

  /**
   * setns(2): move the calling thread into the namespace `fd` refers to (an open
   * /proc/<pid>/ns/<type>); `nstype` is the CLONE_NEW* flag it must be, or 0.
   * EINVAL when the fd is another kind of namespace; EPERM without CAP_SYS_ADMIN.
   */
  setns: (fd: number, nstype: number) => void;

  // ── mounts and the root (man 7 mount_namespaces) ──────────────────────────

  /**
   * mount(2). With only propagation flags (MS_REC | MS_PRIVATE) and a null
   * source, fstype and data, it changes propagation and mounts nothing; with
   * MS_BIND, `source` appears again at `target`. ENOENT: the target does not
   * exist; ENODEV: unknown `filesystemtype`; EINVAL: flags or `data` that do not
   * fit the type (or a propagation change on something that is not a mount);
   * EBUSY: already mounted; EPERM without CAP_SYS_ADMIN.
   */
  mount: (
    source: string | null,
    target: string,
    filesystemtype: string | null,
    mountflags: number,
    data: string | null,
  ) => void;

  /**
   * umount2(2): MNT_DETACH detaches now and frees once unused (the way to drop
   * the old root after pivot_root). EINVAL: `target` is not a mount point;
   * EBUSY: still in use (without MNT_DETACH).
   */
  umount2: (target: string, flags: number) => void;

  /**
   * pivot_root(2): `new_root` becomes the mount namespace's root and the old one
   * moves to `put_old`; after chdir(new_root), pivot_root('.', '.') stacks the
   * old root on the new one. EINVAL: new_root is not a mount point, put_old is
   * not under it, or a mount involved is MS_SHARED; EBUSY: one of them is the
   * current root already.
   */
  pivot_root: (new_root: string, put_old: string) => void;

  /**
   * chroot(2): where path lookups start for this process — nothing else: the
   * mounts stay, and root can walk out of it (lesson 03's escape demo).
   * EPERM without CAP_SYS_CHROOT; ENOENT / ENOTDIR for a bad path.
   */
  chroot: (path: string) => void;

  // ── the UTS namespace (man 7 uts_namespaces) ───────────────────────────────

  /**
   * sethostname(2): the C call's `len` is the byte length of `name`, counted for
   * you. Outside a new UTS namespace it renames the machine. EINVAL: longer than
   * HOST_NAME_MAX (64) bytes; EPERM without CAP_SYS_ADMIN.
   */
  sethostname: (name: string) => void;

  /** gethostname(2): the hostname of the caller's UTS namespace (the C buffer becomes the return value). */
  gethostname: () => string;

  // ── the process (man 7 pid_namespaces) ─────────────────────────────────────

  /** getpid(2): the pid in the caller's own PID namespace — 1 for a new namespace's first process. Never fails. */
  getpid: () => number;

  /** getppid(2): 0 for the first process of a PID namespace, whose parent is outside it. Never fails. */
  getppid: () => number;

  /**
   * chdir(2) of the calling thread (whose cwd is its own after CLONE_NEWNS).
   * ENOENT / ENOTDIR: `path` is not a directory there.
   */
  chdir: (path: string) => void;

  // ── device nodes (man 2 mknod) ──────────────────────────────────────────────

  /**
   * mknod(2): `mode` is the file type (S_IFCHR, S_IFBLK) | the permissions, which
   * the umask trims; `dev` comes from makedev. EEXIST: the path exists; EPERM
   * without CAP_MKNOD (always, inside a user namespace).
   */
  mknod: (pathname: string, mode: number, dev: bigint) => void;

  /** makedev(3): glibc's dev_t for (major, minor), as mknod takes it. Arithmetic, not a kernel call. */
  makedev: (major: number, minor: number) => bigint;

  // ── privileges (man 7 capabilities, man 2 prctl, man 2 seccomp) ─────────────
  // Each of these changes the calling *thread* only (seccomp unless
  // SECCOMP_FILTER_FLAG_TSYNC): in a multithreaded Node process the other
  // threads keep their privileges — which is enough right before execve, the
  // call that replaces every thread of the process by the one that made it.

  /**
   * prctl(2) with integer arguments; returns the call's result (PR_CAPBSET_READ:
   * 1 or 0). PR_CAPBSET_DROP: EPERM without CAP_SETPCAP, EINVAL for a capability
   * this kernel does not know (past /proc/sys/kernel/cap_last_cap).
   */
  prctl: (option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number) => number;

  /** capget(2): the thread's effective, permitted and inheritable sets, two 32-bit words each (version 3). */
  capget: (hdrp: CapUserHeader) => [CapUserData, CapUserData];

  /**
   * capset(2): set the thread's effective, permitted and inheritable sets
   * (hdrp.version _LINUX_CAPABILITY_VERSION_3, hdrp.pid 0). data[0] holds
   * capabilities 0–31, data[1] 32–63. EPERM: adding to permitted, or effective
   * not within permitted.
   */
  capset: (hdrp: CapUserHeader, datap: [CapUserData, CapUserData]) => void;

  /**
   * seccomp(2): SECCOMP_SET_MODE_FILTER installs `args` (a classic-BPF program,
   * native/filter.ts). EACCES without no_new_privs or CAP_SYS_ADMIN; EINVAL for
   * a program the kernel's checker refuses (a jump past the end, no return).
   */
  seccomp: (operation: number, flags: number, args: SockFprog) => number;
}
