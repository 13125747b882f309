/**
 * A fake `sys` for unit tests (youki's idea): every call is recorded instead of
 * reaching the kernel, and any call can be made to fail with an errno. Lesson
 * steps take `sys` as a parameter, so they can be tested without root.
 */
import { constants } from 'node:os';
import { sys, type Sys } from '../../src/native/index.js';
import { SyscallError } from '../../src/native/errors.js';

export interface Call {
  name: string;
  args: unknown[];
}

export function recordingSys(fail: Partial<Record<keyof Sys, keyof typeof constants.errno>> = {}): {
  sys: Sys;
  calls: Call[];
} {
  const calls: Call[] = [];
  const fake: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(sys)) {
    if (typeof value !== 'function') {
      fake[name] = value; // constants stay real
      continue;
    }
    fake[name] = (...args: unknown[]) => {
      calls.push({ name, args });
      const code = fail[name as keyof Sys];
      if (code) throw new SyscallError(name, constants.errno[code], typeof args[0] === 'string' ? args[0] : undefined);
      return name === 'gethostname' ? 'recorded' : 0;
    };
  }
  return { sys: fake as Sys, calls };
}
