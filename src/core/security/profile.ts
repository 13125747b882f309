/**
 * A seccomp profile in Docker's JSON format (--security-opt seccomp=FILE), the
 * subset this runtime compiles:
 *
 *   { "defaultAction": "SCMP_ACT_ALLOW",
 *     "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 } ] }
 *
 * Actions: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO (errnoRet, default EPERM),
 * SCMP_ACT_KILL / SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP,
 * SCMP_ACT_LOG. Not supported, and refused by name rather than silently
 * ignored: per-syscall `args`, `includes`/`excludes`, `architectures` other
 * than this machine's. Syscall names must be in native/syscalls.ts; a name
 * with no number on this architecture (mkdir on arm64) is skipped, as
 * libseccomp does.
 */
import { readFileSync } from 'node:fs';
import {
  EPERM,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRAP,
} from '../../native/constants.js';
import { knownSyscalls, syscallNumberOrUndefined } from '../../native/syscalls.js';

/** A rule as the filter needs it: syscall numbers on this architecture, and the SECCOMP_RET_* value. */
export interface SeccompRule {
  names: string[];
  nrs: number[];
  ret: number;
}

export interface SeccompProfile {
  file: string;
  defaultRet: number;
  rules: SeccompRule[];
}

const ACTIONS: Record<string, (errnoRet: number) => number> = {
  SCMP_ACT_ALLOW: () => SECCOMP_RET_ALLOW,
  SCMP_ACT_ERRNO: (e) => SECCOMP_RET_ERRNO | (e & 0xffff),
  SCMP_ACT_KILL: () => SECCOMP_RET_KILL_THREAD,
  SCMP_ACT_KILL_THREAD: () => SECCOMP_RET_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: () => SECCOMP_RET_KILL_PROCESS,
  SCMP_ACT_TRAP: () => SECCOMP_RET_TRAP,
  SCMP_ACT_LOG: () => SECCOMP_RET_LOG,
};

function action(file: string, where: string, value: unknown, errnoRet: unknown): number {
  if (typeof value !== 'string' || !(value in ACTIONS)) {
    throw new Error(
      `seccomp profile ${file}: ${where} ${JSON.stringify(value)} is not an action this runtime knows: use one of ${Object.keys(ACTIONS).join(', ')}`,
    );
  }
  if (
    errnoRet !== undefined &&
    (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 4095)
  ) {
    throw new Error(
      `seccomp profile ${file}: ${where}'s errnoRet ${JSON.stringify(errnoRet)} must be an errno number (0–4095)`,
    );
  }
  return ACTIONS[value]!((errnoRet as number | undefined) ?? EPERM);
}

/** Read and check a profile; throws an Error that names the file and the bad value. */
export function readSeccompProfile(file: string, arch: string = process.arch): SeccompProfile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`seccomp profile ${file} cannot be read as JSON (${why}): pass a Docker seccomp profile file`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`seccomp profile ${file} is not a JSON object with "defaultAction" and "syscalls"`);
  }
  const p = json as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!['defaultAction', 'defaultErrnoRet', 'syscalls', 'architectures', 'archMap'].includes(key)) {
      throw new Error(
        `seccomp profile ${file}: "${key}" is not supported by this runtime (only defaultAction, defaultErrnoRet, syscalls)`,
      );
    }
  }
  const defaultRet = action(file, 'defaultAction', p['defaultAction'], p['defaultErrnoRet']);
  const syscalls = p['syscalls'] ?? [];
  if (!Array.isArray(syscalls)) throw new Error(`seccomp profile ${file}: "syscalls" must be an array`);
  const known = knownSyscalls();
  const rules = syscalls.map((s: unknown, i): SeccompRule => {
    const where = `syscalls[${i}]`;
    if (typeof s !== 'object' || s === null) throw new Error(`seccomp profile ${file}: ${where} is not an object`);
    const r = s as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!['names', 'name', 'action', 'errnoRet', 'comment'].includes(key)) {
        throw new Error(
          `seccomp profile ${file}: ${where}.${key} is not supported by this runtime (only names, action, errnoRet)`,
        );
      }
    }
    const names = r['names'] ?? (r['name'] !== undefined ? [r['name']] : undefined);
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw new Error(`seccomp profile ${file}: ${where}.names must be a non-empty array of syscall names`);
    }
    const unknown = (names as string[]).filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new Error(
        `seccomp profile ${file}: ${where} names ${unknown.join(', ')}, not in this runtime's syscall table (src/native/syscalls.ts): add the numbers there`,
      );
    }
    const nrs = (names as string[])
      .map((n) => syscallNumberOrUndefined(n, arch))
      .filter((n): n is number => n !== undefined);
    return { names: names as string[], nrs, ret: action(file, `${where}.action`, r['action'], r['errnoRet']) };
  });
  return { file, defaultRet, rules };
}
