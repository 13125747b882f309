/**
 * seccomp(2): install a classic-BPF filter that the kernel runs on every
 * system call the thread makes from now on (and its children, and across
 * execve: a filter can never be removed, only more added).
 *
 * glibc has no wrapper: syscall(2) with the architecture's number.
 * SECCOMP_SET_MODE_FILTER needs either no_new_privs (prctl PR_SET_NO_NEW_PRIVS)
 * or CAP_SYS_ADMIN — EACCES otherwise — so that an unprivileged process cannot
 * confuse a setuid program it then runs. EINVAL: a malformed program (a jump
 * past the end, no final return, more than BPF_MAXINSNS instructions).
 * Like capset, it applies to the calling *thread* unless flags has
 * SECCOMP_FILTER_FLAG_TSYNC, which puts it on every thread of the process.
 */
import koffi from 'koffi';
import type { SockFprog } from './filter.js';
import { check, syscall, syscallNumber } from './libc.js';

koffi.struct('sock_filter', { code: 'uint16', jt: 'uint8', jf: 'uint8', k: 'uint32' });
koffi.struct('sock_fprog', { len: 'uint16', filter: 'sock_filter *' });

/** seccomp(2) with SECCOMP_SET_MODE_FILTER: `args` is the program. Returns 0 (or, with TSYNC, a tid on conflict). */
export function seccomp(operation: number, flags: number, args: SockFprog): number {
  const ret = syscall(
    syscallNumber('seccomp'),
    'unsigned int',
    operation,
    'unsigned int',
    flags,
    'sock_fprog *',
    args,
  ) as number | bigint;
  return check(ret, 'seccomp');
}
