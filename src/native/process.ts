/**
 * Process identity, working directory and image: getpid(2), getppid(2), setsid(2),
 * chdir(2), fchdir(2), execve(2), prctl(2).
 */
import { check, libc } from './libc.js';

const _getpid = libc.func('int getpid(void)');
const _getppid = libc.func('int getppid(void)');
const _setsid = libc.func('int setsid(void)');
const _chdir = libc.func('int chdir(const char *path)');
const _fchdir = libc.func('int fchdir(int fd)');
const _execve = libc.func('int execve(const char *pathname, const char **argv, const char **envp)');

/** getpid(2): the pid in the caller's *own* pid namespace (1 for a container's init). */
export function getpid(): number {
  return _getpid();
}

/** getppid(2): 0 for a pid namespace's init, whose parent lives outside the namespace. */
export function getppid(): number {
  return _getppid();
}

/** setsid(2): a new session and process group, and no controlling terminal yet. */
export function setsid(): number {
  return check(_setsid(), 'setsid');
}

/**
 * chdir(2) of the calling thread. After unshare(CLONE_NEWNS) the thread's fs
 * state (root, cwd) is its own, so this does not move Node's other threads —
 * which is why the runtime never calls it on the host's JS thread outside the
 * namespace window.
 */
export function chdir(path: string): void {
  check(_chdir(path), 'chdir', path);
}

/**
 * fchdir(2): chdir to the directory `fd` refers to — which may lie outside
 * the caller's root, or in another mount namespace (an fd opened before a
 * setns keeps pointing where it pointed): `nsenter --root` works this way.
 */
export function fchdir(fd: number): void {
  check(_fchdir(fd), 'fchdir');
}

/**
 * execve(2): replace this process's image, keeping its pid and namespaces.
 * Returns only on failure (it throws then). From a multithreaded Node process
 * this is safe: the kernel kills the other threads. What survives exec and must
 * be cleaned first (see core/init/exec.ts): fds without FD_CLOEXEC, ignored
 * signals (Node ignores SIGPIPE), the signal mask.
 */
export function execve(pathname: string, argv: string[], envp: string[]): never {
  // The C arrays are NULL-terminated; koffi converts JS strings for us.
  _execve(pathname, [...argv, null], [...envp, null]);
  check(-1, 'execve', pathname);
  throw new Error('unreachable');
}

const _prctl = libc.func(
  'int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)',
);

/** prctl(2) option: signal to receive when the parent (thread) dies. Survives execve. */
export const PR_SET_PDEATHSIG = 1;
/**
 * prctl(2) option: become a "child subreaper": orphaned descendants are
 * re-parented to this process instead of to the PID namespace's init. A PID 1
 * gets them anyway; a supervisor that is not PID 1 needs this to reap them.
 */
export const PR_SET_CHILD_SUBREAPER = 36;
/**
 * prctl(2) option: keep the permitted capabilities when every uid becomes
 * non-zero (setresuid normally clears them); the effective set is cleared
 * anyway. Cleared again by execve. runc sets it to switch user before it
 * applies the container's capabilities.
 */
export const PR_SET_KEEPCAPS = 8;

/** prctl(2) with integer arguments. */
export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  return check(_prctl(option, arg2, arg3, arg4, arg5), 'prctl');
}

/** prctl(2) option: read the parent-death signal (into an int the caller points at). */
export const PR_GET_PDEATHSIG = 2;
// The same prctl(2), declared with the pointer PR_GET_PDEATHSIG writes through.
const _prctlGetInt = libc.func(
  'int prctl(int option, _Out_ int *arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)',
);

/**
 * The calling thread's parent-death signal (0: none). A change of uid or gid
 * clears it (man 2 prctl), so whoever switches the user must set it again.
 */
export function getPdeathsig(): number {
  const out = [0];
  check(_prctlGetInt(PR_GET_PDEATHSIG, out, 0, 0, 0), 'prctl');
  return out[0]!;
}

const _waitpid = libc.func('int waitpid(int pid, _Out_ int *wstatus, int options)');

/** A child's end, decoded from the wait status: exactly one of code and signal is set. */
export interface WaitResult {
  pid: number;
  /** exit(code), when it exited. */
  code: number | undefined;
  /** The signal that killed it, when it was killed. */
  signal: number | undefined;
}

/**
 * waitpid(2): collect a child that has ended, which frees its process table
 * entry. Until someone waits for it, a dead child stays a zombie (`State: Z`).
 * `pid` -1 means any child — including orphans re-parented to this process.
 * Returns undefined when, with WNOHANG, no child has ended yet; throws ECHILD
 * when there are no children at all.
 *
 * Node's child_process only waits for the pids it spawned itself (libuv calls
 * waitpid(pid) per child): a process that calls waitpid(-1) must not also use
 * child_process, or the two would steal each other's statuses.
 */
export function waitpid(pid: number, options: number): WaitResult | undefined {
  const status = [0];
  const ret = check(_waitpid(pid, status, options), 'waitpid');
  if (ret === 0) return undefined;
  const st = status[0]!;
  // <sys/wait.h>: the low 7 bits are the signal (0: exited), bits 8–15 the exit code.
  const signal = st & 0x7f;
  return signal === 0 ? { pid: ret, code: (st >> 8) & 0xff, signal: undefined } : { pid: ret, code: undefined, signal };
}

const _setgroups = libc.func('int setgroups(size_t size, const uint32_t *list)');
const _setresgid = libc.func('int setresgid(uint32_t rgid, uint32_t egid, uint32_t sgid)');
const _setresuid = libc.func('int setresuid(uint32_t ruid, uint32_t euid, uint32_t suid)');

/**
 * setgroups(2), setresgid(2), setresuid(2): become `uid`:`gid` with no
 * supplementary groups — groups first (it needs CAP_SETGID, which the uid
 * change takes away), the uid last. glibc applies each to every thread of the
 * process (its setxid broadcast), as POSIX wants. Changing the uid away from 0
 * clears the permitted and effective capabilities and the parent-death signal.
 */
export function setgroups(groups: number[]): void {
  check(_setgroups(groups.length, groups.length > 0 ? groups : null), 'setgroups');
}
export function setresgid(gid: number): void {
  check(_setresgid(gid, gid, gid), 'setresgid');
}
export function setresuid(uid: number): void {
  check(_setresuid(uid, uid, uid), 'setresuid');
}

const _prlimit = libc.func('int prlimit(int pid, int resource, const uint64_t *new_limit, _Out_ uint64_t *old_limit)');

/**
 * prlimit(2) on this process (pid 0): set `resource` (RLIMIT_*) to soft/hard.
 * Limits are per process and survive execve — what an OCI config's
 * `process.rlimits` asks for. EPERM: raising a hard limit without
 * CAP_SYS_RESOURCE; EINVAL: soft above hard.
 */
export function prlimit(resource: number, soft: bigint, hard: bigint): void {
  check(_prlimit(0, resource, [soft, hard], null), 'prlimit', `resource ${resource}`);
}
