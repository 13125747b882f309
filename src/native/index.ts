/**
 * The native layer: libc through koffi, one module per kernel area, C names and
 * C argument order so the man pages apply directly.
 *
 * Lessons do not import these modules: they receive them as `sys` (type Sys).
 * That keeps one copy of the bindings and lets unit tests hand a lesson a
 * recording fake instead (see tests/unit/recording-sys.ts).
 */
import * as constants from './constants.js';
import * as fd from './fd.js';
import * as fs from './fs.js';
import * as hostname from './hostname.js';
import * as mount from './mount.js';
import * as process from './process.js';
import * as sched from './sched.js';
import * as signal from './signal.js';
import * as spawn from './spawn.js';

export const sys = { ...constants, ...sched, ...mount, ...hostname, ...process, ...fd, ...signal, ...fs, ...spawn };
export type Sys = typeof sys;
export { SyscallError } from './errors.js';
export * from './constants.js';
