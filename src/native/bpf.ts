/**
 * bpf(2), the two commands a cgroup-v2 device filter needs: load an eBPF
 * program of type BPF_PROG_TYPE_CGROUP_DEVICE, and attach it to a cgroup.
 *
 * cgroup v2 has no devices.allow/deny files: access to device nodes is decided
 * by eBPF programs attached to the cgroup (runc and systemd do it this way).
 * The kernel runs the program on every open/mknod of a device node by a
 * process in the cgroup, with a `struct bpf_cgroup_dev_ctx` { access_type,
 * major, minor } in r1; it returns 1 to allow, 0 to refuse (EPERM). The
 * program stays attached as long as the cgroup exists: once attached, the
 * program's fd can be closed, and the cgroup's removal frees it — so nothing
 * here can outlive the container's cgroup.
 *
 * glibc has no wrapper: syscall(2) with `union bpf_attr` built in a buffer
 * (the kernel zero-extends a shorter attr; unused fields must be zero).
 */
import koffi from 'koffi';
import { check, syscall, syscallNumber } from './libc.js';

// <linux/bpf.h>
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6; // attach type
export const BPF_F_ALLOW_MULTI = 2; // several programs on one cgroup and its ancestors: all must allow
// struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

/** struct bpf_insn: 8 bytes — opcode, dst/src registers (4 bits each), signed offset, signed immediate. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

koffi.struct('bpf_attr_prog_load', {
  prog_type: 'uint32',
  insn_cnt: 'uint32',
  insns: 'void *',
  license: 'const char *',
  log_level: 'uint32',
  log_size: 'uint32',
  log_buf: 'void *',
  kern_version: 'uint32',
  prog_flags: 'uint32',
  prog_name: 'char[16]',
});

function encode(insns: BpfInsn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    b.writeUInt8(i.code, n * 8);
    b.writeUInt8((i.src << 4) | (i.dst & 0xf), n * 8 + 1);
    b.writeInt16LE(i.off, n * 8 + 2);
    b.writeInt32LE(i.imm | 0, n * 8 + 4);
  });
  return b;
}

/**
 * bpf(BPF_PROG_LOAD) of a cgroup device program: returns its fd. The verifier
 * checks it first (EINVAL/EACCES for a program it cannot prove safe; the
 * verifier log then says why: pass `log` to read it). EPERM without CAP_BPF / CAP_SYS_ADMIN.
 */
export function bpf_prog_load_cgroup_device(insns: BpfInsn[], log?: { text: string }): number {
  const logBuf = log ? Buffer.alloc(64 * 1024) : null;
  const attr = {
    prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
    insn_cnt: insns.length,
    insns: encode(insns),
    license: 'Apache-2.0',
    log_level: log ? 1 : 0,
    log_size: logBuf?.length ?? 0,
    log_buf: logBuf,
    kern_version: 0,
    prog_flags: 0,
    prog_name: 'cellblock_dev',
  };
  const ret = syscall(syscallNumber('bpf'), 'int', BPF_PROG_LOAD, 'bpf_attr_prog_load *', attr, 'unsigned int', 64) as
    number | bigint;
  if (log && logBuf) log.text = logBuf.toString('utf8', 0, Math.max(0, logBuf.indexOf(0)));
  return check(ret, 'bpf(BPF_PROG_LOAD)');
}

/** bpf(BPF_PROG_ATTACH): attach program `progFd` to the cgroup whose directory is open as `targetFd`. */
export function bpf_prog_attach(targetFd: number, progFd: number, attachType: number, flags: number): void {
  const attr = Buffer.alloc(20);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(flags, 12);
  const ret = syscall(syscallNumber('bpf'), 'int', BPF_PROG_ATTACH, 'void *', attr, 'unsigned int', 20) as
    number | bigint;
  check(ret, 'bpf(BPF_PROG_ATTACH)');
}
