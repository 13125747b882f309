/**
 * <linux/filter.h>: classic BPF, the little machine a seccomp filter runs on
 * (the kernel's Documentation/userspace-api/seccomp_filter.rst). One
 * instruction is { code, jt, jf, k }: `code` is an opcode built from BPF_*
 * constants, `k` its operand, and a conditional jump goes `jt` instructions
 * forward when true, `jf` when false — forward only, so every program ends.
 * Pure arithmetic, no kernel call: lessons and unit tests use it freely.
 */

/** struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct sock_fprog: the program seccomp(2) installs. `len` counts instructions (at most BPF_MAXINSNS). */
export interface SockFprog {
  len: number;
  filter: SockFilter[];
}

export const BPF_MAXINSNS = 4096;

/** The C macro BPF_STMT(code, k): an instruction that does not jump. */
export function BPF_STMT(code: number, k: number): SockFilter {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

/** The C macro BPF_JUMP(code, k, jt, jf): compare the accumulator with k, skip jt or jf instructions. */
export function BPF_JUMP(code: number, k: number, jt: number, jf: number): SockFilter {
  return { code, jt, jf, k: k >>> 0 };
}
