/**
 * The one place libc is loaded (through koffi, an FFI that installs prebuilt on
 * Node 20; ffi-napi no longer compiles against Node 20's headers).
 *
 * Every binding in this folder follows the same contract, the C one: call the
 * function, and if it returns -1, read errno *immediately* (any other libc call,
 * including ones Node makes on this thread, may overwrite it) and throw a
 * SyscallError. Nothing here retries or hides an error.
 */
import koffi from 'koffi';
import { SyscallError } from './errors.js';

export const libc = koffi.load('libc.so.6');

/**
 * Syscall numbers for calls glibc may not wrap. They differ per architecture,
 * which is why a workshop VM on an arm64 Mac needs its own table.
 */
const SYSCALL_NUMBERS: Record<string, Record<string, number>> = {
  // open_tree, move_mount, mount_setattr are newer than the per-arch split:
  // arm64 (asm-generic) and x86_64 share their numbers.
  x64: { pivot_root: 155, open_tree: 428, move_mount: 429, mount_setattr: 442 },
  arm64: { pivot_root: 41, open_tree: 428, move_mount: 429, mount_setattr: 442 },
};

export function syscallNumber(name: string, arch: string = process.arch): number {
  const nr = SYSCALL_NUMBERS[arch]?.[name];
  if (nr === undefined) throw new Error(`no syscall number for ${name} on ${arch}: add it to SYSCALL_NUMBERS`);
  return nr;
}

/** syscall(2): the raw entry point, for calls without a glibc wrapper. */
export const syscall = libc.func('long syscall(long number, ...)');

/**
 * Turn a C return value into JS: -1 means "read errno and throw".
 * `path` is the file the call was about, so the error names it.
 */
export function check(ret: number | bigint, name: string, path?: string): number {
  if (Number(ret) === -1) throw new SyscallError(name, koffi.errno(), path);
  return Number(ret);
}
