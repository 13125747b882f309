/**
 * Lesson 09 — root in a container is a limited root.
 *
 * After lesson 03 the container has its own `/`, but its root still holds every
 * capability, may call any system call, and may open any device node it can
 * mknod. This lesson takes the dangerous part of root away, as Docker does:
 *
 *   host, before the init runs anything   the device allow list (cgroup v1
 *                                          devices.* files, or a v2 eBPF program)
 *   init, after every other step:
 *     1. masked and read-only paths        mounts: they need CAP_SYS_ADMIN
 *     2. capabilities                      bounding set, then capset, ambient cleared
 *     3. no_new_privs                      execve can never grant privileges again
 *     4. seccomp                           last: it would refuse the calls before it
 *   … then the core's execve, which the filter allows.
 *
 * Every one of steps 2–4 changes the calling *thread* only. The init is a
 * multithreaded Node process, so its other threads keep full root — for the
 * few milliseconds until execve, which replaces all threads by the one calling
 * it: the command starts with exactly this thread's credentials and filter.
 * (SECCOMP_FILTER_FLAG_TSYNC would put the filter on every thread, for a
 * process that keeps running its threads; runc's Go init needs it.)
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

// [masks] After the pivot, "/proc/kcore" is the container's own proc. A file is
// covered by a bind of /dev/null, a directory by an empty read-only tmpfs (runc's
// maskPath); a read-only path is bound onto itself, then the bind remounted
// read-only — a bind's flags change only with MS_REMOUNT | MS_BIND. A path this
// kernel does not have is skipped (mount says ENOENT).
function maskPaths(sys: Sys): void {
  for (const path of MASKED_PATHS) {
    try {
      sys.mount('/dev/null', path, null, MS_BIND, null);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') continue;
      if (code !== 'ENOTDIR') throw err;
      sys.mount('tmpfs', path, 'tmpfs', MS_RDONLY, 'size=0');
    }
  }
  for (const path of READONLY_PATHS) {
    try {
      sys.mount(path, path, null, MS_BIND | MS_REC, null);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') continue;
      throw err;
    }
    sys.mount(path, path, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
  }
}

// ── 2. capabilities ───────────────────────────────────────────────────────

/** The capability numbers as the two 32-bit words of a set (data[0]: 0–31, data[1]: 32–63). */
function words(keep: Set<CapabilityName>): [number, number] {
  const w: [number, number] = [0, 0];
  for (const c of keep) w[CAPABILITIES[c] >> 5] = (w[CAPABILITIES[c] >> 5]! | (1 << (CAPABILITIES[c] & 31))) >>> 0;
  return w;
}

function dropCapabilities(keep: Set<CapabilityName>, sys: Sys): void {
  const bits = new Set<number>([...keep].map((c) => CAPABILITIES[c]));

  // [bounding] The bounding set is the ceiling for root after execve: its
  // permitted and effective sets become (inheritable | bounding), whatever
  // capset said before. Drop every capability this kernel knows
  // (PR_CAPBSET_READ fails past the last one) that is not kept. Before capset:
  // dropping needs CAP_SETPCAP in the effective set.
  for (let cap = 0; ; cap++) {
    try {
      sys.prctl(PR_CAPBSET_READ, cap);
    } catch {
      break;
    }
    if (!bits.has(cap)) sys.prctl(PR_CAPBSET_DROP, cap);
  }

  // [capset] Effective and permitted of this thread — what a process that
  // keeps running (the init with --init) holds — the kept set, minus what the
  // thread does not have (capset may only shrink: a sandbox without
  // CAP_SYS_RESOURCE cannot grant it). Inheritable stays empty, runc's fix for
  // CVE-2022-24769. The ambient set, which survives execve of any file, is cleared.
  const [want0, want1] = words(keep);
  const [lo, hi] = sys.capget({ version: _LINUX_CAPABILITY_VERSION_3, pid: 0 });
  sys.capset({ version: _LINUX_CAPABILITY_VERSION_3, pid: 0 }, [
    { effective: (want0 & lo.permitted) >>> 0, permitted: (want0 & lo.permitted) >>> 0, inheritable: 0 },
    { effective: (want1 & hi.permitted) >>> 0, permitted: (want1 & hi.permitted) >>> 0, inheritable: 0 },
  ]);
  sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// ── 3. no_new_privs ──────────────────────────────────────────────────────

function setNoNewPrivs(sys: Sys): void {
  // [no-new-privs] From now on execve cannot raise privileges: setuid/setgid
  // bits and file capabilities are ignored. Irreversible, inherited by children.
  sys.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

function setNotDumpable(sys: Sys): void {
  // [dumpable] CVE-2019-5736: runc's own binary, reached through /proc/<pid>/exe
  // of a runc process inside the container, was overwritten from the container.
  // Our init is such a process while it stays PID 1 (--init): /proc/1/exe is
  // the host's node. A non-dumpable process's /proc files belong to root and
  // need CAP_SYS_PTRACE to follow — which the container does not have. execve
  // resets it for the command itself, so it costs nothing otherwise.
  sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// ── 4. seccomp ───────────────────────────────────────────────────────────

/** The architecture seccomp reports for this Node (struct seccomp_data.arch). */
function auditArch(): number {
  return process.arch === 'arm64' ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
}

function archCheck(): SockFilter[] {
  // [arch] Syscall numbers mean different calls on another ABI (i386 through
  // int 0x80, or x32 on x86_64 with bit 30 set): a call made through one we do
  // not expect would slip past the deny list, so it kills the process.
  const prog = [
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_ARCH),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, auditArch(), 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_NR),
  ];
  if (process.arch === 'x64') {
    prog.push(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
    prog.push(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  }
  return prog;
}

function denyRule(nr: number, ret: number): SockFilter[] {
  // [deny] With the number in the accumulator: equal → return `ret`; else
  // skip that return and test the next rule.
  return [BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1), BPF_STMT(BPF_RET | BPF_K, ret)];
}

function cloneRules(): SockFilter[] {
  const clone = syscallNumberOrUndefined('clone')!;
  const clone3 = syscallNumberOrUndefined('clone3')!;
  // [clone] clone(2) with a CLONE_NEW* flag makes namespaces (a fork does
  // not): test its first argument — args[0], low 32 bits — and refuse only those.
  // clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc
  // fall back to clone, where they can be checked (Docker does the same).
  return [
    ...denyRule(clone3, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, clone, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_ARGS),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NAMESPACE_FLAGS, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  ];
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
  // [install] seccomp(2), this thread only (flags 0): execve is next.
  sys.seccomp(SECCOMP_SET_MODE_FILTER, 0, { len: filter.length, filter });
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
    // [devices] Before the container runs anything: deny every device, then
    // allow the list (v1 devices.deny/allow, v2 an eBPF program on its cgroup)
    // — Docker's, or the one an OCI config gives (cellblock-oci sets deviceRules).
    if (!config.privileged) applyDeviceRules(config.id, config.deviceRules ?? DEVICE_RULES);
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
