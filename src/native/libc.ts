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

export { syscallNumber } from './syscalls.js';

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
