/**
 * The native layer: libc through koffi, one module per kernel area, C names and
 * C argument order so the man pages apply directly.
 *
 * `sys` is every binding and constant in one object: the runtime's core uses
 * all of it. Lessons do not import these modules: they receive `sys` as a
 * parameter typed `Sys` (sys.ts), the part of it a container-side step needs.
 * The compiler checks here that the libc bindings implement that interface
 * (`satisfies`: a binding whose name, arguments or result drift from it is a
 * type error), and the unit tests hand lessons the other implementation, a
 * recording fake that never loads koffi (tests/unit/recording-sys.ts).
 */
import * as bpf from './bpf.js';
import * as capability from './capability.js';
import * as constants from './constants.js';
import * as fd from './fd.js';
import * as fs from './fs.js';
import * as hostname from './hostname.js';
import * as mount from './mount.js';
import * as process from './process.js';
import * as sched from './sched.js';
import * as seccomp from './seccomp.js';
import * as signal from './signal.js';
import * as spawn from './spawn.js';
import type { Sys } from './sys.js';

export const sys = {
  ...constants,
  ...sched,
  ...mount,
  ...hostname,
  ...process,
  ...fd,
  ...signal,
  ...fs,
  ...spawn,
  ...capability,
  ...seccomp,
  ...bpf,
} satisfies Sys;
export type { Sys } from './sys.js';
export { SyscallError } from './errors.js';
export * from './constants.js';
export * from './filter.js';
export type { CapUserData, CapUserHeader } from './capability.js';
