/**
 * Syscall numbers, the one table for every architecture a workshop VM may run
 * (x86_64 hosts, arm64 VMs on Apple silicon). Two users: syscall(2) for calls
 * glibc does not wrap (pivot_root, seccomp, bpf), and seccomp filters, which
 * match the *number* the kernel sees, never a name. This module loads nothing
 * (no koffi), so validation and the recording fake can use it anywhere.
 * The calls the runtime itself names are listed here, with why; every other
 * number comes from syscall-table.ts (the kernel headers, whole).
 */
import { FULL_SYSCALL_NUMBERS } from './syscall-table.js';

const SYSCALL_NUMBERS: Record<string, Record<string, number>> = {
  // x86_64: arch/x86/entry/syscalls/syscall_64.tbl
  x64: {
    pivot_root: 155,
    seccomp: 317,
    bpf: 321,
    // The calls a container's seccomp filter may name (the default filter and --security-opt seccomp=FILE):
    // Docker's default profile denies these unless a capability is added.
    acct: 163,
    add_key: 248,
    clock_settime: 227,
    clone: 56,
    clone3: 435,
    delete_module: 176,
    finit_module: 313,
    fsconfig: 431,
    fsmount: 432,
    fsopen: 430,
    init_module: 175,
    iopl: 172,
    ioperm: 173,
    kexec_file_load: 320,
    kexec_load: 246,
    keyctl: 250,
    mount: 165,
    mount_setattr: 442,
    move_mount: 429,
    name_to_handle_at: 303,
    open_by_handle_at: 304,
    open_tree: 428,
    perf_event_open: 298,
    process_vm_readv: 310,
    process_vm_writev: 311,
    ptrace: 101,
    quotactl: 179,
    reboot: 169,
    request_key: 249,
    setns: 308,
    settimeofday: 164,
    swapoff: 168,
    swapon: 167,
    syslog: 103,
    umount2: 166,
    unshare: 272,
    userfaultfd: 323,
    vhangup: 153,
    // Common ones a custom profile names (the workshop's test profile denies mkdir).
    chmod: 90,
    chown: 92,
    chroot: 161,
    fchmodat: 268,
    mkdir: 83,
    mkdirat: 258,
    rmdir: 84,
    sethostname: 170,
    setdomainname: 171,
    unlink: 87,
    unlinkat: 263,
    uname: 63,
  },
  // arm64: include/uapi/asm-generic/unistd.h — no legacy calls (mkdir, chmod, …), only the *at ones.
  arm64: {
    pivot_root: 41,
    seccomp: 277,
    bpf: 280,
    acct: 89,
    add_key: 217,
    clock_settime: 112,
    clone: 220,
    clone3: 435,
    delete_module: 106,
    finit_module: 273,
    fsconfig: 431,
    fsmount: 432,
    fsopen: 430,
    init_module: 105,
    kexec_file_load: 294,
    kexec_load: 104,
    keyctl: 219,
    mount: 40,
    mount_setattr: 442,
    move_mount: 429,
    name_to_handle_at: 264,
    open_by_handle_at: 265,
    open_tree: 428,
    perf_event_open: 241,
    process_vm_readv: 270,
    process_vm_writev: 271,
    ptrace: 117,
    quotactl: 60,
    reboot: 142,
    request_key: 218,
    setns: 268,
    settimeofday: 170,
    swapoff: 225,
    swapon: 224,
    syslog: 116,
    umount2: 39,
    unshare: 97,
    userfaultfd: 282,
    vhangup: 58,
    chroot: 51,
    fchmodat: 53,
    mkdirat: 34,
    sethostname: 161,
    setdomainname: 162,
    unlinkat: 35,
    uname: 160,
  },
};

/** Every syscall name the tables know, on any architecture (what a seccomp profile may name). */
export function knownSyscalls(): Set<string> {
  return new Set(
    [...Object.values(SYSCALL_NUMBERS), ...Object.values(FULL_SYSCALL_NUMBERS)].flatMap((t) => Object.keys(t)),
  );
}

/** The number of `name` on `arch`, or undefined when the architecture has no such call (mkdir on arm64). */
export function syscallNumberOrUndefined(name: string, arch: string = process.arch): number | undefined {
  return SYSCALL_NUMBERS[arch]?.[name] ?? FULL_SYSCALL_NUMBERS[arch]?.[name];
}

export function syscallNumber(name: string, arch: string = process.arch): number {
  const nr = SYSCALL_NUMBERS[arch]?.[name];
  if (nr === undefined) throw new Error(`no syscall number for ${name} on ${arch}: add it to SYSCALL_NUMBERS`);
  return nr;
}
