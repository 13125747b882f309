/**
 * The recording implementation of `Sys` (youki's idea): every call is recorded
 * instead of reaching the kernel, any call can be made to fail with an errno,
 * and the rest answer plausibly. Lesson steps take `sys` as a parameter, so
 * they run here without root and without changing anything.
 *
 * It imports the interface as a type, the errors and makedev's arithmetic:
 * nothing that loads koffi or libc (recording-sys.test.ts proves it in a fresh
 * process), so a test of lesson steps never binds a kernel call by accident.
 */
import { constants } from 'node:os';
import { SyscallError } from '../../src/native/errors.js';
import type { Sys } from '../../src/native/sys.js';
import { makedev } from '../../src/native/sysmacros.js';

export type SysCall = keyof Sys;

export interface Call {
  name: SysCall;
  args: unknown[];
}

export type Errno = keyof typeof constants.errno;

/**
 * Which calls fail: by name (every `pivot_root` fails with EINVAL), or per
 * call — `(call, index) => errno | undefined`, given the call just recorded and
 * its position in `calls` — to fail only the second mount, or the one on /proc.
 */
export type Failures = Partial<Record<SysCall, Errno>> | ((call: Call, index: number) => Errno | undefined);

/**
 * A recording `sys`. `answers` replaces the plausible answer of a call (a
 * getpid that says 7, a mknod that leaves a file behind for a chmod); the call
 * is still recorded, and an injected failure still wins.
 *
 * Plausible answers: getpid 1 (the first process of a new PID namespace),
 * getppid 0 (its parent is outside), gethostname the name last set by
 * sethostname ('recorded' before any), capget a root thread's full sets, prctl
 * and seccomp 0, undefined for the calls that return nothing. makedev is arithmetic, not a kernel call: the real one, unrecorded.
 */
export function recordingSys(failures: Failures = {}, answers: Partial<Sys> = {}): { sys: Sys; calls: Call[] } {
  const calls: Call[] = [];
  const failureOf = typeof failures === 'function' ? failures : (call: Call) => failures[call.name];
  let hostname = 'recorded';

  /** Record; throw as the libc binding would (same syscall name, same path); else answer. */
  function call<K extends SysCall>(
    name: K,
    args: Parameters<Sys[K]>,
    path: string | undefined,
    plausible: () => ReturnType<Sys[K]>,
  ): ReturnType<Sys[K]> {
    const recorded: Call = { name, args };
    calls.push(recorded);
    const code = failureOf(recorded, calls.length - 1);
    if (code !== undefined) throw new SyscallError(name, constants.errno[code], path);
    const answer = answers[name] as ((...a: Parameters<Sys[K]>) => ReturnType<Sys[K]>) | undefined;
    return answer ? answer(...args) : plausible();
  }
  const nothing = (): void => undefined;

  const sys: Sys = {
    unshare: (flags) => call('unshare', [flags], undefined, nothing),
    setns: (fd, nstype) => call('setns', [fd, nstype], undefined, nothing),
    mount: (source, target, filesystemtype, mountflags, data) =>
      call('mount', [source, target, filesystemtype, mountflags, data], target, nothing),
    umount2: (target, flags) => call('umount2', [target, flags], target, nothing),
    pivot_root: (new_root, put_old) => call('pivot_root', [new_root, put_old], new_root, nothing),
    chroot: (path) => call('chroot', [path], path, nothing),
    sethostname: (name) =>
      call('sethostname', [name], name, () => {
        hostname = name;
      }),
    gethostname: () => call('gethostname', [], undefined, () => hostname),
    getpid: () => call('getpid', [], undefined, () => 1),
    getppid: () => call('getppid', [], undefined, () => 0),
    chdir: (path) => call('chdir', [path], path, nothing),
    mknod: (pathname, mode, dev) => call('mknod', [pathname, mode, dev], pathname, nothing),
    makedev,
    prctl: (option, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0) =>
      call('prctl', [option, arg2, arg3, arg4, arg5], undefined, () => 0),
    // A root thread: every capability 0–40 in every set but the ambient one.
    capget: (hdrp) =>
      call('capget', [hdrp], undefined, () => [
        { effective: 0xffffffff, permitted: 0xffffffff, inheritable: 0 },
        { effective: 0x1ff, permitted: 0x1ff, inheritable: 0 },
      ]),
    capset: (hdrp, datap) => call('capset', [hdrp, datap], undefined, nothing),
    seccomp: (operation, flags, args) => call('seccomp', [operation, flags, args], undefined, () => 0),
  };
  return { sys, calls };
}
