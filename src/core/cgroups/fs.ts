/**
 * The only way the cgroup managers touch the kernel: read, write, mkdir, rmdir
 * on cgroupfs, and SIGKILL for what is left inside at the end. Behind an interface so the managers can be unit-tested against a
 * temporary directory of fixture files, without root (youki does the same).
 *
 * cgroupfs is not an ordinary filesystem, and the real implementation respects
 * that:
 *  - a write is one write(2) with no O_CREAT/O_TRUNC: interface files exist
 *    from mkdir on, and the kernel parses each write on its own (io.max takes
 *    one device per write);
 *  - the errno *is* the answer (EINVAL: a value the kernel refuses; ENOENT: the
 *    controller is not enabled here; EBUSY on rmdir: processes still inside);
 *  - rmdir removes a cgroup although it "contains" files.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import { listDir } from '../read.js';

export interface CgroupFs {
  read(path: string): string;
  /** One write(2) of `value` to an existing file. */
  write(path: string, value: string): void;
  /** mkdir, one level; an existing directory is fine. */
  mkdir(path: string): void;
  rmdir(path: string): void;
  exists(path: string): boolean;
  /** Entries of a directory (sub-cgroups and interface files). */
  list(path: string): string[];
  /** SIGKILL each pid; one that is already gone is fine. */
  kill(pids: number[]): void;
}

/** A cgroup file operation that failed, with the kernel's answer and what to do about it. */
export class CgroupError extends Error {
  override readonly name = 'CgroupError';
  constructor(
    message: string,
    readonly code?: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message} — ${hint}` : message);
  }
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/** Hints for the answers people meet on cgroupfs, keyed `op:CODE` or `op:CODE:file`. */
function hintFor(op: string, code: string, path: string): string | undefined {
  const file = path.split('/').at(-1) ?? '';
  const controller = file.split('.')[0];
  if (op === 'write' && code === 'ENOENT') {
    return `no such interface file: is the ${controller} controller enabled for this cgroup (v2: the parent's cgroup.subtree_control; v1: is its hierarchy mounted)?`;
  }
  if (op === 'write' && code === 'EINVAL') return `the kernel refused this value for ${file}: check its format`;
  if (op === 'write' && code === 'EBUSY' && file === 'cgroup.subtree_control') {
    return 'a cgroup with processes in it cannot enable controllers for children (v2: "no internal processes")';
  }
  if (op === 'write' && code === 'ESRCH') return 'no such process: it exited before it could be moved';
  if (op === 'write' && code === 'EOPNOTSUPP' && file === 'cgroup.procs') {
    return 'v2 does not let processes join an inner cgroup that has controllers enabled for children: use a leaf';
  }
  if (op === 'rmdir' && code === 'EBUSY') return 'processes are still in it (or sub-cgroups): kill them first';
  if (code === 'EACCES' || code === 'EPERM') return 'needs root: run as root, e.g. `sudo cellblock …`';
  if (op === 'mkdir' && code === 'ENOENT') return 'the hierarchy is not mounted here';
  return undefined;
}

export function cgroupError(op: string, path: string, err: unknown, value?: string): CgroupError {
  const code = codeOf(err);
  const what = value === undefined ? `${op} ${path}` : `write ${JSON.stringify(value)} to ${path}`;
  return new CgroupError(`${what}: ${code}`, code, hintFor(op, code, path));
}

/** The real cgroupfs. */
export const realCgroupFs: CgroupFs = {
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw cgroupError('read', path, err);
    }
  },
  write(path, value) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY);
    } catch (err) {
      throw cgroupError('write', path, err, value);
    }
    try {
      writeSync(fd, value);
    } catch (err) {
      throw cgroupError('write', path, err, value);
    } finally {
      closeSync(fd);
    }
  },
  mkdir(path) {
    try {
      mkdirSync(path);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw cgroupError('mkdir', path, err);
    }
  },
  rmdir(path) {
    try {
      rmdirSync(path);
    } catch (err) {
      throw cgroupError('rmdir', path, err);
    }
  },
  exists: (path) => existsSync(path),
  list: (path) => listDir(path),
  kill(pids) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  },
};
