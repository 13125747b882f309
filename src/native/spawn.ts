/**
 * Starting a program as a child without fork: posix_spawn(3).
 *
 * fork() through an FFI crashes the child (V8 marks its heap MADV_DONTFORK, so
 * the child returns into JS with holes in its memory). glibc's posix_spawn
 * never returns into the caller's code in the child: it clones with
 * CLONE_VM|CLONE_VFORK, applies the attributes and execs at once, so it is
 * safe from a multithreaded Node process — and, unlike child_process, the pid
 * is ours alone to wait for (libuv does not know it).
 *
 * What the child inherits and must not (the same list as for execve, see
 * core/init/exec.ts): fds without FD_CLOEXEC — clear it on 0–2 and set it on
 * the rest in the parent first — and ignored signals and the blocked mask,
 * which the attributes below reset.
 */
import { POSIX_SPAWN_SETPGROUP, POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK } from './constants.js';
import { SyscallError } from './errors.js';
import { libc } from './libc.js';

// posix_spawnattr_t is 336 bytes and sigset_t 128 bytes in glibc on x86_64 and
// arm64; the buffers are larger so a libc with bigger structs cannot overflow them.
const ATTR_SIZE = 1024;
const SIGSET_SIZE = 128;
const FILE_ACTIONS_SIZE = 1024; // posix_spawn_file_actions_t: 80 bytes in glibc

const _posix_spawn = libc.func(
  'int posix_spawn(_Out_ int *pid, const char *path, void *file_actions, void *attrp, const char **argv, const char **envp)',
);
const _attr_init = libc.func('int posix_spawnattr_init(void *attr)');
const _attr_destroy = libc.func('int posix_spawnattr_destroy(void *attr)');
const _attr_setflags = libc.func('int posix_spawnattr_setflags(void *attr, short flags)');
const _attr_setsigmask = libc.func('int posix_spawnattr_setsigmask(void *attr, const void *sigmask)');
const _attr_setsigdefault = libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *sigdefault)');
const _attr_setpgroup = libc.func('int posix_spawnattr_setpgroup(void *attr, int pgroup)');
const _actions_init = libc.func('int posix_spawn_file_actions_init(void *file_actions)');
const _actions_destroy = libc.func('int posix_spawn_file_actions_destroy(void *file_actions)');

/** glibc 2.35+ only (Debian 12, Ubuntu 22.04 and later): bound on first use, undefined where missing. */
let _actions_addtcsetpgrp: ((fa: Buffer, tcfd: number) => number) | null | undefined;
function addtcsetpgrp(): ((fa: Buffer, tcfd: number) => number) | undefined {
  if (_actions_addtcsetpgrp === undefined) {
    try {
      _actions_addtcsetpgrp = libc.func('int posix_spawn_file_actions_addtcsetpgrp_np(void *file_actions, int tcfd)');
    } catch {
      _actions_addtcsetpgrp = null;
    }
  }
  return _actions_addtcsetpgrp ?? undefined;
}

/** Whether posix_spawn can make the child's group a terminal's foreground group itself (see `foreground`). */
export function spawn_can_set_foreground(): boolean {
  return addtcsetpgrp() !== undefined;
}

export interface SpawnAttributes {
  /**
   * Put the child in process group `pgroup` (0: a new group led by the child),
   * e.g. so it can become a terminal's foreground group. Unset: the caller's group.
   */
  pgroup?: number;
  /**
   * With `pgroup`: make the child's new group the foreground group of the
   * terminal on this fd, in the child, before the exec. Done from the parent
   * afterwards it would race: an interactive shell checks at once whether it
   * is in the foreground, and stops itself with SIGTTIN if not.
   */
  foreground?: number;
}

/** The posix_spawn* functions return an error number instead of setting errno. */
function ok(ret: number, name: string, path?: string): void {
  if (ret !== 0) throw new SyscallError(name, ret, path);
}

/**
 * posix_spawn(3): start `path` with `argv` and `envp` as a child of the caller
 * and return its pid. The child starts with no signal blocked and every signal
 * at its default action (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), so it
 * does not inherit Node's ignored SIGPIPE. An error of the exec itself
 * (ENOENT, EACCES, ENOEXEC) is returned by this call, as with execve.
 */
export function posix_spawn(path: string, argv: string[], envp: string[], attrs: SpawnAttributes = {}): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  ok(_attr_init(attr), 'posix_spawnattr_init');
  try {
    // Every signal 1..64, spelled as the bits of a sigset_t (signal n is bit
    // n-1). sigfillset(3) would leave out glibc's two internal real-time
    // signals, and posix_spawn would then start the child with them *ignored*.
    const all = Buffer.alloc(SIGSET_SIZE);
    all.fill(0xff, 0, 8);
    const none = Buffer.alloc(SIGSET_SIZE);
    let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (attrs.pgroup !== undefined) {
      flags |= POSIX_SPAWN_SETPGROUP;
      ok(_attr_setpgroup(attr, attrs.pgroup), 'posix_spawnattr_setpgroup');
    }
    ok(_attr_setsigmask(attr, none), 'posix_spawnattr_setsigmask');
    ok(_attr_setsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
    ok(_attr_setflags(attr, flags), 'posix_spawnattr_setflags');
    let actions: Buffer | null = null;
    const tcsetpgrp = attrs.foreground !== undefined ? addtcsetpgrp() : undefined;
    if (tcsetpgrp) {
      actions = Buffer.alloc(FILE_ACTIONS_SIZE);
      ok(_actions_init(actions), 'posix_spawn_file_actions_init');
      ok(tcsetpgrp(actions, attrs.foreground!), 'posix_spawn_file_actions_addtcsetpgrp_np');
    }
    try {
      const pid = [0];
      ok(_posix_spawn(pid, path, actions, attr, [...argv, null], [...envp, null]), 'posix_spawn', path);
      return pid[0]!;
    } finally {
      if (actions) _actions_destroy(actions);
    }
  } finally {
    _attr_destroy(attr);
  }
}
