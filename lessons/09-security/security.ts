/**
 * Lesson 09 — root in a container is a limited root.
 *
 * GOAL: the container's root keeps only Docker's default capabilities (CapEff
 * 00000000a80425fb), cannot gain privileges by execve (no_new_privs), cannot
 * make the system calls a container has no need for (a seccomp filter you
 * assemble), cannot read or write the kernel's sensitive files (masked and
 * read-only paths), and can use only the harmless device nodes. Steps run in
 * the init in this order: masks, capabilities, no_new_privs, seccomp — then
 * the exec. Check your work with `cellblock verify 09`.
 */
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_X86_64,
  BPF_ABS,
  BPF_JEQ,
  BPF_JGE,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_RET,
  BPF_W,
  CAPABILITIES,
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  ENOSYS,
  EPERM,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_SET_MODE_FILTER,
  X32_SYSCALL_BIT,
  type CapabilityName,
} from '../../src/native/constants.js';
import {
  _LINUX_CAPABILITY_VERSION_3,
  PR_SET_DUMPABLE,
  PR_CAP_AMBIENT,
  PR_CAP_AMBIENT_CLEAR_ALL,
  PR_CAPBSET_DROP,
  PR_CAPBSET_READ,
  PR_SET_NO_NEW_PRIVS,
} from '../../src/native/capability.js';
import { BPF_JUMP, BPF_STMT, type SockFilter } from '../../src/native/filter.js';
import { syscallNumberOrUndefined } from '../../src/native/syscalls.js';
import type { Sys } from '../../src/native/index.js';
import { applyDeviceRules, joinDevices, removeDevices, type DeviceRule } from '../../src/core/cgroups/devices.js';
import { defineLesson } from '../../src/core/lesson.js';
import {
  capabilityName,
  securityOpts,
  securityValidations,
  type SecurityConfig,
} from '../../src/core/security/options.js';
import { readSeccompProfile } from '../../src/core/security/profile.js';

/** Docker's default capabilities: CapEff 00000000a80425fb. Everything else is dropped. */
export const DEFAULT_CAPS: CapabilityName[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
];

/** runc's default masked paths: a /dev/null bind on a file, an empty read-only tmpfs on a directory. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
/** runc's default read-only paths: the kernel's knobs, visible but not writable. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Docker's default device allow list: mknod of anything, use of the harmless nodes only. */
export const DEVICE_RULES: DeviceRule[] = [
  { type: 'c', major: '*', minor: '*', access: 'm' },
  { type: 'b', major: '*', minor: '*', access: 'm' },
  ...[
    [1, 3],
    [1, 5],
    [1, 7],
    [1, 8],
    [1, 9],
    [5, 0],
    [5, 1],
    [5, 2],
    [10, 200],
  ].map(([major, minor]): DeviceRule => ({ type: 'c', major: major!, minor: minor!, access: 'rwm' })),
  { type: 'c', major: 136, minor: '*', access: 'rwm' }, // /dev/pts/*
];

/** The deny list, modelled on Docker's default profile (the calls it allows only with a capability added). */
export const DENIED_SYSCALLS = [
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'reboot',
  'swapon',
  'swapoff',
  'mount',
  'umount2',
  'pivot_root',
  'fsopen',
  'fsmount',
  'fsconfig',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'unshare',
  'setns',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'name_to_handle_at',
  'open_by_handle_at',
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'acct',
  'settimeofday',
  'clock_settime',
  'iopl',
  'ioperm',
  'quotactl',
  'syslog',
  'vhangup',
];

const NAMESPACE_FLAGS =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The capabilities the command gets: Docker's default, adjusted by --cap-add / --cap-drop (ALL allowed). */
export function capabilitySet(config: SecurityConfig): Set<CapabilityName> {
  const all = Object.keys(CAPABILITIES) as CapabilityName[];
  const set = new Set<CapabilityName>(DEFAULT_CAPS);
  const names = (v: string | string[] | undefined) => list(v).map((n) => capabilityName(n)!);
  const drop = names(config['cap-drop']);
  const add = names(config['cap-add']);
  // Docker's order: drops first, then adds — so `--cap-drop ALL --cap-add NET_RAW` keeps NET_RAW.
  if (drop.includes('ALL')) set.clear();
  for (const c of drop) if (c !== 'ALL') set.delete(c);
  for (const c of add) if (c === 'ALL') all.forEach((a) => set.add(a));
  for (const c of add) if (c !== 'ALL') set.add(c);
  return set;
}

// ── 1. masked and read-only paths ──────────────────────────────────────────

// TODO [masks]: hide what a container must not read, and freeze what it must not write, as runc does:
// HINT: each of MASKED_PATHS gets /dev/null bound over it — or, when it is a directory (mount says ENOTDIR),
// HINT: an empty read-only tmpfs; each of READONLY_PATHS is bound onto itself and the bind remounted read-only.
// HINT: a path this kernel lacks (ENOENT) is skipped. man 2 mount: MS_BIND, and "Creating a read-only bind mount".
function maskPaths(sys: Sys): void {}

// ── 2. capabilities ───────────────────────────────────────────────────────

/** The capability numbers as the two 32-bit words of a set (data[0]: 0–31, data[1]: 32–63). */
function words(keep: Set<CapabilityName>): [number, number] {
  const w: [number, number] = [0, 0];
  for (const c of keep) w[CAPABILITIES[c] >> 5] = (w[CAPABILITIES[c] >> 5]! | (1 << (CAPABILITIES[c] & 31))) >>> 0;
  return w;
}

function dropCapabilities(keep: Set<CapabilityName>, sys: Sys): void {
  const bits = new Set<number>([...keep].map((c) => CAPABILITIES[c]));

  // TODO [bounding]: take every capability not in `bits` out of the bounding set — the ceiling root gets after execve.
  // HINT: man 2 prctl: PR_CAPBSET_READ answers for a capability number and fails past the kernel's last one;
  // HINT: PR_CAPBSET_DROP removes one. man 7 capabilities, "Capability bounding set".

  // TODO [capset]: set this thread's effective and permitted sets to the kept ones (inheritable: none), and clear the ambient set.
  // HINT: man 2 capset: version 3 takes two 32-bit words per set — words(keep) computes them. capset can only
  // HINT: shrink: keep nothing the thread does not hold (capget tells). man 2 prctl, PR_CAP_AMBIENT.
  void words;
}

// ── 3. no_new_privs ──────────────────────────────────────────────────────

function setNoNewPrivs(sys: Sys): void {
  // TODO [no-new-privs]: make sure execve can never grant this process (or its children) a privilege again.
  // HINT: man 2 prctl, PR_SET_NO_NEW_PRIVS; the kernel's no_new_privs.rst.
}

function setNotDumpable(sys: Sys): void {
  // TODO [dumpable]: keep the container from following /proc/<pid>/exe of the init to the host's node (CVE-2019-5736).
  // HINT: man 2 prctl, PR_SET_DUMPABLE; man 5 proc says who may follow the links of a non-dumpable process.
}

// ── 4. seccomp ───────────────────────────────────────────────────────────

/** The architecture seccomp reports for this Node (struct seccomp_data.arch). */
function auditArch(): number {
  return process.arch === 'arm64' ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
}

function archCheck(): SockFilter[] {
  // TODO [arch]: the filter's first instructions: check the architecture (anything else: kill the process),
  // HINT: then load the syscall number for the rules that follow. On x86_64 also kill numbers with X32_SYSCALL_BIT.
  // HINT: struct seccomp_data fields are at SECCOMP_DATA_*; BPF_STMT / BPF_JUMP are the C macros (native/filter.ts).
  return [];
}

function denyRule(nr: number, ret: number): SockFilter[] {
  // TODO [deny]: the instructions for one rule: when the number in the accumulator is `nr`, return `ret`.
  // HINT: a BPF_JMP | BPF_JEQ | BPF_K compare jumps jt instructions forward when equal, jf when not.
  return [];
}

function cloneRules(): SockFilter[] {
  const clone = syscallNumberOrUndefined('clone')!;
  const clone3 = syscallNumberOrUndefined('clone3')!;
  // TODO [clone]: refuse clone3 with ENOSYS, and clone only when its flags (args[0]) ask for a namespace.
  // HINT: seccomp_filter.rst: a filter cannot read memory, only the six arguments; BPF_JSET tests bits.
  // HINT: NAMESPACE_FLAGS holds every CLONE_NEW* flag. Which errno makes glibc fall back from clone3 to clone?
  void clone;
  void clone3;
  return [];
}

/** The default filter: architecture, the deny list, clone with namespace flags, allow the rest. */
export function defaultFilter(): SockFilter[] {
  const nrs = DENIED_SYSCALLS.map((n) => syscallNumberOrUndefined(n)).filter((n): n is number => n !== undefined);
  return [
    ...archCheck(),
    ...nrs.flatMap((nr) => denyRule(nr, SECCOMP_RET_ERRNO | EPERM)),
    ...cloneRules(),
    // Everything not denied runs — execve included, the very next call.
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  ];
}

/** A --security-opt seccomp=FILE profile, compiled with the same pieces. */
export function profileFilter(profile: NonNullable<SecurityConfig['seccompProfile']>): SockFilter[] {
  return [
    ...archCheck(),
    ...profile.rules.flatMap((r) => r.nrs.flatMap((nr) => denyRule(nr, r.ret))),
    BPF_STMT(BPF_RET | BPF_K, profile.defaultRet),
  ];
}

function installSeccomp(filter: SockFilter[], sys: Sys): void {
  // TODO [install]: give the kernel the program for this thread — execve is next.
  // HINT: man 2 seccomp, SECCOMP_SET_MODE_FILTER, and its struct sock_fprog.
}

export default defineLesson<SecurityConfig>({
  id: '09-security',
  options: {
    'cap-add': { type: 'string', describe: 'add a capability, as Docker names it (NET_ADMIN, ALL; repeatable)' },
    'cap-drop': { type: 'string', describe: 'drop a capability (NET_RAW, ALL; repeatable)' },
    privileged: { type: 'boolean', describe: 'INSECURE: every capability, no seccomp, no masks, every device' },
    'security-opt': {
      type: 'string',
      describe: 'no-new-privileges[=false], seccomp=unconfined, seccomp=FILE (Docker JSON; repeatable)',
    },
  },
  validate: securityValidations,

  hostAfterSpawn({ config }) {
    const opts = securityOpts(config);
    // The init cannot read the host's files once it has pivoted: read the profile here.
    if (typeof opts.seccomp === 'object') config.seccompProfile = readSeccompProfile(opts.seccomp.file);
    // TODO [devices]: before the container runs anything, put DEVICE_RULES in force for its cgroup —
    // or config.deviceRules, when cellblock-oci set it from an OCI config (lesson 11).
    // HINT: src/core/cgroups/devices.ts does it for v1 and v2 (read it: which files, which bpf(2) program?).
    // HINT: --privileged means every device.
  },

  hostBeforeExec({ config, pid }) {
    if (!config.privileged) joinDevices(config.id, pid);
  },

  async hostCleanup({ config, undo }) {
    await undo({ 'remove the device rules': () => removeDevices(config.id) });
  },

  // In beforeExec, not init: after every host step and every earlier lesson's
  // own last steps (the cgroup lesson unshares its namespace and mounts there),
  // right before the exec — the filter and the dropped capabilities would
  // refuse those.
  beforeExec(config, sys) {
    if (config.privileged) return; // Docker's --privileged: none of it
    maskPaths(sys);
    restrict(config, sys);
  },

  // `cellblock exec`: a process joining the container gets the same limits
  // as its command. Not the masks: its mounts are the container's already.
  beforeJoinExec(config, sys) {
    if (!config.privileged) restrict(config, sys);
  },
});

/** What the command (and any process joining it) runs under: steps 2–4 of the top. */
function restrict(config: SecurityConfig, sys: Sys): void {
  const opts = securityOpts(config);
  const filter =
    opts.seccomp === 'unconfined'
      ? undefined
      : config.seccompProfile
        ? profileFilter(config.seccompProfile)
        : defaultFilter();
  setNotDumpable(sys);
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: then it
  // must come before the capabilities are dropped (runc does the same), and
  // the filter must allow capset and prctl.
  if (filter && !opts.noNewPrivs) installSeccomp(filter, sys);
  dropCapabilities(capabilitySet(config), sys);
  if (opts.noNewPrivs) setNoNewPrivs(sys);
  if (filter && opts.noNewPrivs) installSeccomp(filter, sys);
}
