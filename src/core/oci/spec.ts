/**
 * An OCI bundle's config.json (the runtime-spec, config.md and
 * config-linux.md) translated into the ContainerConfig the lessons consume —
 * the same fields `cellblock run`'s flags fill: `linux.resources.memory.limit`
 * becomes `memory`, a `network` namespace without a path becomes `net: none`,
 * and so on. What only the OCI runtime has (extra mounts, rlimits, a user, the
 * sysctls) goes into fields of its own that the core's init applies
 * (core/init/oci.ts).
 *
 * Every field is either translated, accepted because cellblock already does
 * what it asks (runc's standard /proc, /dev, /sys mounts: the mount lesson makes
 * them), or refused with an OciSpecError naming the field and its section of
 * the spec. Nothing is silently dropped; where cellblock does *more* than the
 * config asks (it always sets no_new_privs, masks its own list of paths), the
 * translation returns a warning that the CLI writes to its log.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CAPABILITIES } from '../../native/constants.js';
import { knownSyscalls } from '../../native/syscalls.js';
import type { ContainerConfig } from '../config.js';
import type { DeviceRule } from '../cgroups/device-rule.js';
import { ociCgroupPath } from './cgroup.js';
import { DOCKER_DEFAULT_CAPS } from '../security/options.js';
import { CGROUP_PARENT } from '../names.js';

/** RLIM_INFINITY (man 2 getrlimit), as the decimal string prlimit is given. */
const RLIM_INFINITY = '18446744073709551615';

/** A config.json problem: the field, what is wrong, and the spec section that defines it. */
export class OciSpecError extends Error {
  override readonly name = 'OciSpecError';
  constructor(
    readonly field: string,
    readonly section: string,
    problem: string,
  ) {
    super(`config.json: ${field}: ${problem} (runtime-spec ${section})`);
  }
}

/** One hook (config.md#posix-platform-hooks). */
export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The hooks: most run on the host, in the runtime's namespaces; createContainer and startContainer in the container's (core/init/oci.ts). */
export interface OciHooks {
  prestart: OciHook[];
  createRuntime: OciHook[];
  createContainer: OciHook[];
  startContainer: OciHook[];
  poststart: OciHook[];
  poststop: OciHook[];
}

/** What the init needs to run the in-container hooks: them, and the state they read on stdin. */
export interface OciInitHooks {
  createContainer: OciHook[];
  startContainer: OciHook[];
  state: { ociVersion: string; id: string; bundle: string; annotations: Record<string, string> };
}

/** A mount the core's init makes after the lessons' steps (core/init/oci.ts). */
export interface OciMount {
  destination: string;
  type: 'bind' | 'tmpfs';
  /** bind: the host path (absolute); tmpfs: "tmpfs". */
  source: string;
  /** MS_* flags for the (re)mount, and the tmpfs data string. */
  flags: number;
  recursive: boolean;
  data: string;
}

/** One linux.devices entry (config-linux.md#devices), checked: a node the init creates. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  /** Permission bits (the file type comes from `type`). */
  fileMode: number;
  uid: number;
  gid: number;
}

/**
 * runc's AllowedDevices (libcontainer/specconv): appended after the config's
 * own rules, so that every container can use the nodes every container has —
 * whatever the client sent (Podman sends only "deny all"). The same list as
 * Docker's default, which the security lesson applies to `cellblock run`.
 */
export const RUNC_ALLOWED_DEVICES: DeviceRule[] = [
  { type: 'c', major: '*', minor: '*', access: 'm' },
  { type: 'b', major: '*', minor: '*', access: 'm' },
  ...(
    [
      [1, 3], // /dev/null
      [1, 8], // /dev/random
      [1, 7], // /dev/full
      [5, 0], // /dev/tty
      [1, 5], // /dev/zero
      [1, 9], // /dev/urandom
      [5, 1], // /dev/console
      [5, 2], // /dev/ptmx
      [10, 200], // /dev/net/tun
    ] as const
  ).map(([major, minor]): DeviceRule => ({ type: 'c', major, minor, access: 'rwm' })),
  { type: 'c', major: 136, minor: '*', access: 'rwm' }, // /dev/pts/*
];

/** What the init applies itself for an OCI container (BaseConfig fields are not enough). */
export interface OciFields {
  /** core/init/oci.ts: extra mounts, after the lessons' init steps (after the pivot). */
  ociMounts?: OciMount[];
  /** setrlimit before the exec: [RLIMIT number, soft, hard] (bigint as strings for JSON). */
  ociRlimits?: { resource: number; soft: string; hard: string }[];
  /** process.user: the command runs as this uid/gid, with these supplementary groups. */
  ociUser?: { uid: number; gid: number; additionalGids: number[] };
  /** linux.maskedPaths / linux.readonlyPaths, applied after the lessons' steps (the container's /proc and /sys). */
  ociMaskedPaths?: string[];
  ociReadonlyPaths?: string[];
  /** process.user.umask, set right before the exec. */
  ociUmask?: number;
  /** process.capabilities.ambient of a non-root user: raised right before the exec (CAP_* names without CAP_). */
  ociAmbient?: string[];
  /** root.readonly: the container's / remounted read-only once every mount under it is made (core/init/oci.ts). */
  ociReadonlyRoot?: boolean;
  /** core/init/oci.ts: hooks.createContainer (before pivot_root) and startContainer (before the exec). */
  ociInitHooks?: OciInitHooks;
  /** linux.devices: nodes the init makes in the container's /dev (core/init/oci.ts), after the lessons' steps. */
  ociDevices?: OciDevice[];
  /** linux.sysctl, written in the container's namespaces before its root changes. */
  ociSysctl?: Record<string, string>;
  /** linux.namespaces entries with a path: joined (setns) instead of created. */
  namespacePaths?: { kind: string; path: string }[];
  /** The FIFO the created init waits on (the create/start split). */
  execFifo?: string;
}

export type OciConfig = ContainerConfig & OciFields;

export interface Translation {
  config: OciConfig;
  hooks: OciHooks;
  annotations: Record<string, string>;
  /** linux.cgroupsPath as given (config.cgroupPath: where the cgroup is). */
  cgroupsPath?: string;
  oomScoreAdj?: number;
  /** Where cellblock does something else than asked, one sentence each (to the log). */
  warnings: string[];
}

/** Docker's default capability set (the security lesson gives exactly this when no --cap-add/--cap-drop). */
export const DEFAULT_CAPS: string[] = DOCKER_DEFAULT_CAPS;

/** The cellblock-only settings, as annotations (the OCI lesson's README lists them). */
export const ANNOTATIONS = {
  'io.cellblock.net': 'net',
  'io.cellblock.name': 'name',
  'io.cellblock.publish': 'publish',
  'io.cellblock.ip': 'ip',
  'io.cellblock.subnet': 'subnet',
  'io.cellblock.image': 'image',
  'io.cellblock.keep': 'keep',
  'io.cellblock.init': 'init',
} as const;

// The mounts the mount, IPC and cgroup lessons make in every container: accepted, made the lessons' way.
const STANDARD_MOUNTS: Record<string, string[]> = {
  '/proc': ['proc'],
  '/dev': ['tmpfs'],
  '/dev/pts': ['devpts'],
  '/dev/shm': ['tmpfs', 'bind'],
  '/dev/mqueue': ['mqueue'],
  '/sys': ['sysfs'],
  '/sys/fs/cgroup': ['cgroup', 'cgroup2'],
};

const MS = {
  ro: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  noatime: 0x400,
  nodiratime: 0x800,
  relatime: 0x200000,
  strictatime: 0x1000000,
} as const;
const NEUTRAL_OPTIONS = new Set([
  'rw',
  'suid',
  'dev',
  'exec',
  'private',
  'rprivate',
  'slave',
  'rslave',
  'bind',
  'rbind',
  'nocopyup',
  'copyup',
  'async',
  'atime',
  'diratime',
  'norelatime',
]);

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

// Namespaced sysctls (what runc accepts without a shared namespace): they act on the container's own.
const NAMESPACED_SYSCTL = /^(net\.|fs\.mqueue\.|kernel\.(shm|msg|sem))/;

/** The runtime-spec versions this runtime reads (config.md#specification-version). */
export const SUPPORTED_VERSIONS = /^1\.[0-2]\.\d+(-[\w.]+)?$/;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Translate `spec` (config.json, parsed) of the bundle in `bundle` for the
 * container `id` (cellblock's id). Throws OciSpecError on the first field it
 * cannot honour — before anything exists.
 */
export function translateSpec(spec: unknown, bundle: string, id: string): Translation {
  const warnings: string[] = [];
  if (!isObject(spec)) throw new OciSpecError('(top level)', 'config.md', 'is not a JSON object');
  const refuse = (field: string, section: string, problem = 'is not implemented by cellblock-oci'): never => {
    throw new OciSpecError(field, section, problem);
  };
  const known = (obj: Json, where: string, section: string, keys: string[]): void => {
    for (const k of Object.keys(obj)) {
      if (!keys.includes(k)) refuse(where ? `${where}.${k}` : k, section);
    }
  };
  known(spec, '', 'config.md', [
    'ociVersion',
    'root',
    'mounts',
    'process',
    'hostname',
    'domainname',
    'hooks',
    'annotations',
    'linux',
  ]);

  // ── ociVersion ──
  const version = spec['ociVersion'];
  if (typeof version !== 'string' || !SUPPORTED_VERSIONS.test(version)) {
    refuse(
      'ociVersion',
      'config.md#specification-version',
      `${JSON.stringify(version)} is not supported: cellblock-oci reads runtime-spec 1.0.x to 1.2.x`,
    );
  }

  // ── root ──
  const root = spec['root'];
  if (!isObject(root) || typeof root['path'] !== 'string' || root['path'] === '') {
    refuse('root.path', 'config.md#root', 'is missing: give the root filesystem directory (relative to the bundle)');
  }
  known(root as Json, 'root', 'config.md#root', ['path', 'readonly']);
  const readonly = (root as Json)['readonly'];
  if (readonly !== undefined && typeof readonly !== 'boolean')
    refuse('root.readonly', 'config.md#root', 'must be true or false');
  const rootfs = resolve(bundle, (root as Json)['path'] as string);
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) refuse('root.path', 'config.md#root', `${rootfs} is not a directory`);

  // ── process ──
  const proc = spec['process'];
  if (!isObject(proc)) return refuse('process', 'config.md#process', 'is missing: cellblock-oci needs a command');
  known(proc, 'process', 'config.md#process', [
    'terminal',
    'consoleSize',
    'cwd',
    'env',
    'args',
    'rlimits',
    'capabilities',
    'noNewPrivileges',
    'oomScoreAdj',
    'user',
    'apparmorProfile',
    'selinuxLabel',
  ]);
  const args = proc['args'];
  if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string')) {
    refuse('process.args', 'config.md#process', 'must be a non-empty array of strings');
  }
  const cwd = proc['cwd'] ?? '/';
  if (typeof cwd !== 'string' || !isAbsolute(cwd)) {
    refuse('process.cwd', 'config.md#process', `${JSON.stringify(cwd)} must be an absolute path`);
  }
  const env = proc['env'] ?? [];
  if (!Array.isArray(env) || env.some((e) => typeof e !== 'string' || !e.includes('='))) {
    refuse('process.env', 'config.md#process', 'must be an array of KEY=VALUE strings');
  }
  for (const f of ['apparmorProfile', 'selinuxLabel']) {
    if (proc[f] !== undefined && proc[f] !== '') refuse(`process.${f}`, 'config.md#linux-process');
  }
  const fields: OciConfig = {
    id,
    rootfs,
    argv: args as string[],
    env: env as string[],
    cwd: cwd as string,
    tty: proc['terminal'] === true,
    ...(readonly === true ? { ociReadonlyRoot: true } : {}),
  };

  // user
  if (proc['user'] !== undefined) {
    const user = proc['user'];
    if (!isObject(user)) return refuse('process.user', 'config.md#user');
    known(user, 'process.user', 'config.md#posix-platform-user', ['uid', 'gid', 'umask', 'additionalGids']);
    if (user['umask'] !== undefined) {
      const umask = user['umask'];
      if (!Number.isInteger(umask) || (umask as number) < 0 || (umask as number) > 0o777) {
        refuse('process.user.umask', 'config.md#posix-platform-user', 'must be a mode from 0 to 0777');
      }
      fields.ociUmask = umask as number;
    }
    const uid = user['uid'] ?? 0;
    const gid = user['gid'] ?? 0;
    const extra = user['additionalGids'] ?? [];
    if (!Number.isInteger(uid) || (uid as number) < 0)
      refuse('process.user.uid', 'config.md#posix-platform-user', 'must be a number ≥ 0');
    if (!Number.isInteger(gid) || (gid as number) < 0)
      refuse('process.user.gid', 'config.md#posix-platform-user', 'must be a number ≥ 0');
    if (!Array.isArray(extra) || extra.some((g) => !Number.isInteger(g) || g < 0)) {
      refuse('process.user.additionalGids', 'config.md#posix-platform-user', 'must be an array of numbers ≥ 0');
    }
    if (uid !== 0 || gid !== 0 || (extra as number[]).length > 0) {
      fields.ociUser = { uid: uid as number, gid: gid as number, additionalGids: extra as number[] };
    }
  }

  // capabilities → the security lesson’s --cap-add / --cap-drop against Docker's default set
  if (proc['capabilities'] !== undefined) {
    const caps = proc['capabilities'];
    if (!isObject(caps)) return refuse('process.capabilities', 'config.md#linux-process');
    known(caps, 'process.capabilities', 'config.md#linux-process', [
      'bounding',
      'effective',
      'permitted',
      'inheritable',
      'ambient',
    ]);
    const set = (k: string): string[] | undefined => {
      const v = caps[k];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.some((c) => typeof c !== 'string' || !/^CAP_[A-Z_]+$/.test(c))) {
        return refuse(`process.capabilities.${k}`, 'config.md#linux-process', 'must be an array of CAP_* names');
      }
      const names = (v as string[]).map((c) => c.slice(4));
      const unknown = names.filter((n) => !(n in CAPABILITIES));
      if (unknown.length > 0) {
        refuse(`process.capabilities.${k}`, 'config.md#linux-process', `unknown capability CAP_${unknown[0]}`);
      }
      return [...new Set(names)].sort();
    };
    const bounding = set('bounding') ?? [];
    const same = (a: string[] | undefined): boolean => a === undefined || a.join() === bounding.join();
    // Lesson 09 gives the command one set in bounding, effective and permitted (as Docker does for root).
    for (const k of ['effective', 'permitted']) {
      if (!same(set(k))) {
        refuse(
          `process.capabilities.${k}`,
          'config.md#linux-process',
          'differs from bounding: cellblock gives one set (bounding = effective = permitted)',
        );
      }
    }
    const inheritable = set('inheritable');
    if (inheritable !== undefined && inheritable.length > 0 && !same(inheritable)) {
      refuse('process.capabilities.inheritable', 'config.md#linux-process', 'must be empty or equal to bounding');
    }
    // Ambient capabilities matter only across the exec of a non-root user's
    // program: without file capabilities, what it keeps through execve is its
    // ambient set, nothing else (man 7 capabilities, "Transformation of
    // capabilities during execve"). The init raises them last (core/init/oci.ts).
    // Root's command gets its bounding set through execve anyway.
    const ambient = set('ambient');
    if (ambient !== undefined && ambient.length > 0) {
      const outside = ambient.filter((c) => !bounding.includes(c));
      if (outside.length > 0) {
        refuse(
          'process.capabilities.ambient',
          'config.md#linux-process',
          `CAP_${outside[0]} is not in bounding: an ambient capability must be in the bounding (and permitted) set`,
        );
      }
      if (fields.ociUser !== undefined && fields.ociUser.uid !== 0) fields.ociAmbient = ambient;
      else
        warnings.push('process.capabilities.ambient: not raised; the root command keeps the bounding set through exec');
    }
    const add = bounding.filter((c) => !DEFAULT_CAPS.includes(c));
    const drop = DEFAULT_CAPS.filter((c) => !bounding.includes(c));
    if (add.length > 0) fields['cap-add'] = add;
    if (drop.length > 0) fields['cap-drop'] = drop;
  } else {
    fields['cap-drop'] = ['ALL']; // no capabilities asked for: none given
  }
  // The security lesson sets no_new_privs unless told otherwise, as `--security-opt no-new-privileges=false` does.
  if (proc['noNewPrivileges'] !== true) fields['security-opt'] = ['no-new-privileges=false'];
  let oomScoreAdj: number | undefined;
  if (proc['oomScoreAdj'] !== undefined) {
    const v = proc['oomScoreAdj'];
    if (!Number.isInteger(v) || (v as number) < -1000 || (v as number) > 1000) {
      refuse('process.oomScoreAdj', 'config.md#linux-process', 'must be an integer from -1000 to 1000');
    }
    oomScoreAdj = v as number;
  }
  if (proc['rlimits'] !== undefined) {
    const list = proc['rlimits'];
    if (!Array.isArray(list)) return refuse('process.rlimits', 'config.md#posix-process');
    fields.ociRlimits = list.map((r: unknown, i) => {
      const where = `process.rlimits[${i}]`;
      if (!isObject(r) || typeof r['type'] !== 'string' || !(r['type'] in RLIMITS)) {
        return refuse(`${where}.type`, 'config.md#posix-process', 'must be an RLIMIT_* name (man 2 getrlimit)');
      }
      const soft = r['soft'];
      const hard = r['hard'];
      // RLIM_INFINITY is 2^64 - 1, which JSON.parse can only read as the
      // float 2^64: that one value means "unlimited" (Podman and CRI-O write
      // it); any other integer past 2^53 has lost digits and is refused.
      const rlimitValue = (v: unknown, at: string): string => {
        if (v === 2 ** 64) return RLIM_INFINITY;
        if (typeof v !== 'number' || v > Number.MAX_SAFE_INTEGER) {
          return refuse(
            at,
            'config.md#posix-process',
            `${String(v)} is not a limit JSON can carry exactly (unlimited: 18446744073709551615)`,
          );
        }
        return String(v);
      };
      if (
        !Number.isInteger(soft) ||
        !Number.isInteger(hard) ||
        (soft as number) < 0 ||
        (soft as number) > (hard as number)
      ) {
        refuse(where, 'config.md#posix-process', 'soft and hard must be integers, soft ≤ hard');
      }
      return { resource: RLIMITS[r['type']]!, soft: rlimitValue(soft, where), hard: rlimitValue(hard, where) };
    });
  }

  // ── hostname ──
  if (spec['hostname'] !== undefined) {
    if (typeof spec['hostname'] !== 'string') refuse('hostname', 'config.md#hostname', 'must be a string');
    if (spec['hostname'] !== '') fields['hostname'] = spec['hostname'];
  }
  if (spec['domainname'] !== undefined && spec['domainname'] !== '') refuse('domainname', 'config.md#domainname');

  // ── annotations (io.cellblock.*) ──
  const annotations: Record<string, string> = {};
  if (spec['annotations'] !== undefined) {
    if (!isObject(spec['annotations'])) refuse('annotations', 'config.md#annotations', 'must be an object');
    for (const [k, v] of Object.entries(spec['annotations'] as Json)) {
      if (typeof v !== 'string') refuse(`annotations.${k}`, 'config.md#annotations', 'values must be strings');
      annotations[k] = v as string;
      if (!k.startsWith('io.cellblock.')) continue;
      const field = (ANNOTATIONS as Record<string, string>)[k];
      if (!field) {
        refuse(
          `annotations.${k}`,
          'config.md#annotations',
          `unknown cellblock annotation: use one of ${Object.keys(ANNOTATIONS).join(', ')}`,
        );
      }
      const value = v as string;
      if (field === 'publish') fields['publish'] = value.split(',').filter(Boolean);
      else if (field === 'keep' || field === 'init') fields[field] = value === 'true';
      else fields[field!] = value;
    }
  }

  // ── linux ──
  const linux = spec['linux'];
  if (!isObject(linux)) return refuse('linux', 'config-linux.md', 'is missing: cellblock-oci runs Linux containers');
  known(linux, 'linux', 'config-linux.md', [
    'namespaces',
    'uidMappings',
    'gidMappings',
    'devices',
    'cgroupsPath',
    'resources',
    'sysctl',
    'seccomp',
    'rootfsPropagation',
    'maskedPaths',
    'readonlyPaths',
    'mountLabel',
  ]);
  // namespaces
  const kinds: Record<string, string> = {
    pid: 'pid',
    network: 'net',
    mount: 'mnt',
    ipc: 'ipc',
    uts: 'uts',
    cgroup: 'cgroup',
    user: 'user',
    time: 'time',
  };
  const nsList = linux['namespaces'] ?? [];
  if (!Array.isArray(nsList)) return refuse('linux.namespaces', 'config-linux.md#namespaces', 'must be an array');
  const ns = new Map<string, string | undefined>();
  nsList.forEach((n: unknown, i) => {
    const where = `linux.namespaces[${i}]`;
    if (!isObject(n) || typeof n['type'] !== 'string' || !(n['type'] in kinds)) {
      refuse(`${where}.type`, 'config-linux.md#namespaces', `must be one of ${Object.keys(kinds).join(', ')}`);
    }
    const type = (n as Json)['type'] as string;
    if (ns.has(type)) refuse(`${where}.type`, 'config-linux.md#namespaces', `"${type}" appears twice`);
    const path = (n as Json)['path'];
    if (path !== undefined && (typeof path !== 'string' || !isAbsolute(path))) {
      refuse(`${where}.path`, 'config-linux.md#namespaces', 'must be an absolute path');
    }
    ns.set(type, path as string | undefined);
  });
  // What the lessons always create: cellblock cannot run without them.
  for (const t of ['pid', 'mount', 'uts', 'ipc']) {
    if (!ns.has(t)) {
      refuse(
        'linux.namespaces',
        'config-linux.md#namespaces',
        `has no "${t}" namespace: cellblock always creates one (sharing the host's is not implemented)`,
      );
    }
    if (ns.get(t) !== undefined && t !== 'ipc' && t !== 'uts') {
      refuse('linux.namespaces', 'config-linux.md#namespaces', `joining a "${t}" namespace by path is not implemented`);
    }
  }
  if (ns.has('time')) refuse('linux.namespaces', 'config-linux.md#namespaces', 'a "time" namespace is not implemented');
  if (ns.get('user') !== undefined) {
    refuse('linux.namespaces', 'config-linux.md#namespaces', 'joining a "user" namespace by path is not implemented');
  }
  if (ns.has('cgroup') && ns.get('cgroup') !== undefined) {
    refuse('linux.namespaces', 'config-linux.md#namespaces', 'joining a "cgroup" namespace by path is not implemented');
  }
  if (!ns.has('network')) {
    if (fields['net'] !== undefined && fields['net'] !== 'host') {
      refuse(
        'annotations.io.cellblock.net',
        'config.md#annotations',
        `"${String(fields['net'])}" needs a "network" namespace`,
      );
    }
    fields['net'] = 'host';
  } else if (fields['net'] === undefined) {
    fields['net'] = 'none';
  } else if (fields['net'] !== 'bridge' && fields['net'] !== 'none') {
    refuse('annotations.io.cellblock.net', 'config.md#annotations', `"${String(fields['net'])}": use bridge or none`);
  }
  const paths = [...ns.entries()].filter(([, p]) => p !== undefined).map(([t, p]) => ({ kind: kinds[t]!, path: p! }));
  if (paths.length > 0) {
    if (paths.some((p) => p.kind === 'net') && fields['net'] === 'bridge') {
      refuse(
        'annotations.io.cellblock.net',
        'config.md#annotations',
        'bridge with a network namespace path: give one of them',
      );
    }
    fields.namespacePaths = paths;
  }
  userNamespace(linux, ns.has('user'), rootfs, fields, refuse);
  if (linux['devices'] !== undefined) {
    const devices = deviceNodes(linux['devices'], refuse);
    if (devices.length > 0) fields.ociDevices = devices;
  }
  if (linux['mountLabel'] !== undefined && linux['mountLabel'] !== '')
    refuse('linux.mountLabel', 'config-linux.md#mount-label');
  const propagation = linux['rootfsPropagation'];
  if (propagation !== undefined && !['private', 'rprivate', 'slave', 'rslave', ''].includes(propagation as string)) {
    refuse(
      'linux.rootfsPropagation',
      'config-linux.md#rootfs-mount-propagation',
      `${JSON.stringify(propagation)}: only private/slave`,
    );
  }
  let cgroupsPath: string | undefined;
  if (linux['cgroupsPath'] !== undefined) {
    const p = linux['cgroupsPath'];
    if (typeof p !== 'string') return refuse('linux.cgroupsPath', 'config-linux.md#cgroups-path', 'must be a string');
    if (/^[^/]*:[^:]*:/.test(p)) {
      refuse(
        'linux.cgroupsPath',
        'config-linux.md#cgroups-path',
        `"${p}" is the systemd form (slice:prefix:name): use the cgroupfs driver (containerd: SystemdCgroup = false; podman --cgroup-manager cgroupfs)`,
      );
    }
    // cellblock's own place for this very container (what `run -d` bundles
    // name, as dockerd names /docker/ID): the lessons' default, as if absent.
    const own = p.split('/').filter(Boolean).join('/') === `${CGROUP_PARENT}/${id}`;
    // Else the cgroup is where the caller says (core/oci/cgroup.ts): "/default/ID" from each hierarchy's root.
    const path = own ? undefined : ociCgroupPath(p);
    if (path !== undefined && typeof path !== 'string')
      return refuse('linux.cgroupsPath', 'config-linux.md#cgroups-path', `"${p}" ${path.problem}`);
    cgroupsPath = p;
    if (path !== undefined) fields.cgroupPath = path;
  }
  for (const [k, list] of [
    ['maskedPaths', 'config-linux.md#masked-paths'],
    ['readonlyPaths', 'config-linux.md#readonly-paths'],
  ] as const) {
    const v = linux[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((p) => typeof p !== 'string'))) {
      refuse(`linux.${k}`, list, 'must be an array of paths');
    }
  }
  // Applied by the init after the lessons' steps (init/oci.ts), on top of the security lesson's own lists.
  const listOf = (k: string): string[] => ((linux[k] ?? []) as string[]).filter((p) => isAbsolute(p));
  if (listOf('maskedPaths').length > 0) fields.ociMaskedPaths = listOf('maskedPaths');
  if (listOf('readonlyPaths').length > 0) fields.ociReadonlyPaths = listOf('readonlyPaths');
  if (linux['sysctl'] !== undefined) {
    const s = linux['sysctl'];
    if (!isObject(s)) return refuse('linux.sysctl', 'config-linux.md#sysctl', 'must be an object');
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== 'string') refuse(`linux.sysctl.${k}`, 'config-linux.md#sysctl', 'must be a string');
      if (!NAMESPACED_SYSCTL.test(k) || !/^[a-z0-9_.-]+$/.test(k)) {
        refuse(
          `linux.sysctl.${k}`,
          'config-linux.md#sysctl',
          'only namespaced sysctls (net.*, kernel.shm*/msg*/sem, fs.mqueue.*)',
        );
      }
    }
    if (Object.keys(s).some((k) => k.startsWith('net.')) && fields['net'] === 'host') {
      refuse('linux.sysctl', 'config-linux.md#sysctl', "net.* sysctls need a network namespace of the container's own");
    }
    if (Object.keys(s).length > 0) fields.ociSysctl = s as Record<string, string>;
  }
  resources(linux['resources'], fields, warnings, refuse);
  if (linux['seccomp'] !== undefined) seccomp(linux['seccomp'], fields, warnings, refuse);
  // No linux.seccomp: runc installs no filter, and neither may we — the
  // security lesson's default (Docker's profile) is for `cellblock run`.
  else fields['security-opt'] = [...((fields['security-opt'] as string[] | undefined) ?? []), 'seccomp=unconfined'];

  // ── mounts ──
  fields.ociMounts = mounts(spec['mounts'] ?? [], bundle, refuse);
  if (fields.ociMounts.length > 0) fields.callerMounts = fields.ociMounts.map((m) => m.destination);

  return {
    config: fields,
    hooks: hooks(spec['hooks'], refuse),
    annotations,
    ...(cgroupsPath !== undefined ? { cgroupsPath } : {}),
    ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
    warnings,
  };
}

type Refuse = (field: string, section: string, problem?: string) => never;

/**
 * A "user" namespace with uidMappings/gidMappings → lesson 08's `--userns
 * remap` with that range: the helper makes the namespace first, the host
 * writes the maps, and the root's files are seen through an idmapped mount
 * (root-owned on disk, root inside). What the lesson does is one range from
 * container id 0, the same for users and groups — the shape containerd's and
 * Podman's remapping give; anything else is refused by field. runc instead
 * expects a root already chowned into the range: such a root, seen through
 * the idmapped mount, would be shifted twice, so it is refused too.
 */
function userNamespace(linux: Json, wanted: boolean, rootfs: string, fields: OciConfig, refuse: Refuse): void {
  const S = 'config-linux.md#user-namespace-mappings';
  const given = (f: string): boolean => linux[f] !== undefined && !(Array.isArray(linux[f]) && linux[f].length === 0);
  if (!wanted) {
    for (const f of ['uidMappings', 'gidMappings']) {
      if (given(f)) refuse(`linux.${f}`, S, 'mappings need a "user" namespace in linux.namespaces');
    }
    return;
  }
  const range = (f: 'uidMappings' | 'gidMappings'): { hostID: number; size: number } => {
    const list = linux[f];
    if (!Array.isArray(list) || list.length === 0) {
      return refuse(`linux.${f}`, S, 'a "user" namespace needs its mappings (one: containerID 0, hostID, size)');
    }
    if (list.length > 1) return refuse(`linux.${f}`, S, `${list.length} ranges: one range is implemented`);
    const m = list[0] as Json;
    if (!isObject(m) || m['containerID'] !== 0 || !isId(m['hostID']) || !isId(m['size'])) {
      return refuse(`linux.${f}[0]`, S, 'must be { containerID: 0, hostID: N, size: N } (root inside first)');
    }
    return { hostID: m['hostID'] as number, size: m['size'] as number };
  };
  const [uids, gids] = [range('uidMappings'), range('gidMappings')];
  if (uids.hostID !== gids.hostID || uids.size !== gids.size) {
    refuse('linux.gidMappings', S, 'must be the same range as linux.uidMappings (one range serves both)');
  }
  if (uids.hostID < 65536 || uids.size < 65536) {
    refuse(
      'linux.uidMappings[0]',
      S,
      `${uids.hostID}:${uids.size}: hostID and size must be at least 65536 (not the host's own users; room for ids 0–65534)`,
    );
  }
  const owner = statSync(rootfs).uid;
  if (owner !== 0) {
    refuse(
      'root.path',
      'config.md#root',
      `${rootfs} is owned by host uid ${owner}, not root: cellblock shows a root-owned root through an idmapped mount — give the unchowned one`,
    );
  }
  fields['userns'] = 'remap';
  fields['userns-range'] = `${uids.hostID}:${uids.size}`;
}

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * linux.devices: each a node to create (runc's createDevices). The path must
 * be under /dev — where the container's tmpfs is, and where a node cannot
 * shadow a file of the image; type c, b, u (unbuffered c) or p (a FIFO).
 */
function deviceNodes(list: unknown, refuse: Refuse): OciDevice[] {
  const S = 'config-linux.md#devices';
  if (!Array.isArray(list)) return refuse('linux.devices', S, 'must be an array');
  const seen = new Set<string>();
  return list.map((d: unknown, i): OciDevice => {
    const where = `linux.devices[${i}]`;
    if (!isObject(d)) return refuse(where, S, 'must be an object');
    for (const k of Object.keys(d)) {
      if (!['path', 'type', 'major', 'minor', 'fileMode', 'uid', 'gid'].includes(k)) refuse(`${where}.${k}`, S);
    }
    const path = d['path'];
    if (typeof path !== 'string' || !path.startsWith('/dev/') || path.split('/').includes('..')) {
      return refuse(`${where}.path`, S, `${JSON.stringify(path)}: give an absolute path under /dev/ without ".."`);
    }
    if (seen.has(path)) refuse(`${where}.path`, S, `${path} appears twice`);
    seen.add(path);
    const type = d['type'];
    if (type !== 'c' && type !== 'b' && type !== 'u' && type !== 'p') {
      return refuse(`${where}.type`, S, `${JSON.stringify(type)}: must be c, b, u or p`);
    }
    const [major, minor] = [d['major'] ?? 0, d['minor'] ?? 0];
    if (type !== 'p' && (d['major'] === undefined || d['minor'] === undefined)) {
      refuse(`${where}.major`, S, `a "${type}" device needs major and minor`);
    }
    if (!isId(major) || !isId(minor) || major > 0xfff || minor > 0xfffff) {
      refuse(`${where}.major`, S, 'major (0–4095) and minor (0–1048575) must be integers');
    }
    const fileMode = d['fileMode'] ?? 0o666;
    if (!isId(fileMode) || fileMode > 0o7777) refuse(`${where}.fileMode`, S, 'must be permission bits, 0 to 07777');
    for (const k of ['uid', 'gid']) {
      if (d[k] !== undefined && !isId(d[k])) refuse(`${where}.${k}`, S, 'must be a number ≥ 0');
    }
    return {
      path,
      type,
      major: major as number,
      minor: minor as number,
      fileMode: fileMode as number,
      uid: (d['uid'] as number | undefined) ?? 0,
      gid: (d['gid'] as number | undefined) ?? 0,
    };
  });
}

/**
 * linux.resources.devices → the allow list the security lesson puts in force
 * (config.deviceRules). The cgroup's rules are an ordered list on top of
 * "everything allowed"; what clients send — containerd: deny all, then the
 * nodes to allow; Podman: deny all — is what an allow list can say: a
 * "deny all" starts it over, an allow adds to it, and runc's defaults come
 * last. Without any "deny all" everything stays allowed (runc too). A deny
 * of one device is refused by name: it cannot be said as an allow list.
 */
function deviceCgroupRules(list: unknown, refuse: Refuse): DeviceRule[] {
  const S = 'config-linux.md#allowed-device-list';
  if (!Array.isArray(list)) return refuse('linux.resources.devices', S, 'must be an array');
  let rules: DeviceRule[] | undefined; // undefined: no "deny all" yet — everything is allowed
  list.forEach((d: unknown, i) => {
    const where = `linux.resources.devices[${i}]`;
    if (!isObject(d)) return refuse(where, S, 'must be an object');
    for (const k of Object.keys(d)) {
      if (!['allow', 'type', 'major', 'minor', 'access'].includes(k)) refuse(`${where}.${k}`, S);
    }
    if (typeof d['allow'] !== 'boolean') refuse(`${where}.allow`, S, 'must be true or false');
    const type = d['type'] ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') refuse(`${where}.type`, S, `${JSON.stringify(type)}: a, c or b`);
    const num = (k: 'major' | 'minor'): number | '*' => {
      const v = d[k];
      if (v === undefined || v === null || v === -1) return '*';
      if (!isId(v)) return refuse(`${where}.${k}`, S, 'must be a number ≥ 0 (or absent: every one)');
      return v;
    };
    const [major, minor] = [num('major'), num('minor')];
    const access = d['access'] ?? 'rwm';
    if (typeof access !== 'string' || !/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
      refuse(`${where}.access`, S, `${JSON.stringify(access)}: one or more of r, w, m`);
    }
    const everything = type === 'a';
    if (d['allow'] === false) {
      if (type === 'a' && major === '*' && minor === '*' && [...(access as string)].sort().join('') === 'mrw') {
        rules = [];
        return;
      }
      refuse(where, S, 'a deny of some devices only is not implemented: deny all (type "a", access "rwm"), then allow');
    }
    if (rules === undefined) return; // allowing on top of everything: nothing to add
    rules.push(
      everything
        ? { type: 'a', major: '*', minor: '*', access: 'rwm' }
        : { type: type as 'c' | 'b', major, minor, access: access as string },
    );
  });
  return rules === undefined
    ? [{ type: 'a', major: '*', minor: '*', access: 'rwm' }]
    : [...rules, ...RUNC_ALLOWED_DEVICES];
}

function resources(r: unknown, fields: OciConfig, warnings: string[], refuse: Refuse): void {
  if (r === undefined) return;
  const S = 'config-linux.md#control-groups';
  if (!isObject(r)) return refuse('linux.resources', S, 'must be an object');
  for (const k of Object.keys(r)) {
    if (!['memory', 'cpu', 'pids', 'blockIO', 'devices', 'hugepageLimits'].includes(k))
      refuse(`linux.resources.${k}`, S);
  }
  const nonEmpty = (v: unknown): boolean => Array.isArray(v) && v.length > 0;
  if (nonEmpty(r['hugepageLimits'])) refuse('linux.resources.hugepageLimits', 'config-linux.md#huge-page-limits');
  if (r['devices'] !== undefined) fields.deviceRules = deviceCgroupRules(r['devices'], refuse);
  const mem = r['memory'];
  if (isObject(mem)) {
    for (const [k, v] of Object.entries(mem)) {
      if (v === undefined || v === null) continue;
      if (k === 'limit') {
        if ((v as number) > 0) fields['memory'] = String(v);
      } else if (k === 'swap') {
        if ((v as number) === -1) fields['memory-swap'] = '-1';
        else if ((v as number) > 0) fields['memory-swap'] = String(v);
      } else if (k === 'disableOOMKiller' && v === false) {
        // the default
      } else {
        refuse(`linux.resources.memory.${k}`, 'config-linux.md#memory');
      }
    }
  }
  const cpu = r['cpu'];
  if (isObject(cpu)) {
    const quota = cpu['quota'] as number | undefined;
    const period = (cpu['period'] as number | undefined) ?? 100000;
    for (const [k, v] of Object.entries(cpu)) {
      if (v === undefined || v === null || v === '' || v === 0) continue;
      if (k === 'quota' || k === 'period') continue;
      if (k === 'shares' && v === 1024) continue;
      refuse(`linux.resources.cpu.${k}`, 'config-linux.md#cpu');
    }
    if (quota !== undefined && quota > 0) fields['cpus'] = String(quota / period);
  }
  const pids = r['pids'];
  if (isObject(pids)) {
    const limit = pids['limit'];
    if (typeof limit === 'number' && limit > 0) fields['pids-limit'] = String(limit);
  }
  const io = r['blockIO'];
  if (isObject(io)) {
    for (const [k, v] of Object.entries(io)) {
      if (k === 'throttleReadBpsDevice' || k === 'throttleWriteBpsDevice') {
        if (!Array.isArray(v)) refuse(`linux.resources.blockIO.${k}`, 'config-linux.md#block-io', 'must be an array');
        const flag = k === 'throttleReadBpsDevice' ? 'device-read-bps' : 'device-write-bps';
        fields[flag] = (v as Json[]).map(
          (d) => `/dev/block/${String(d['major'])}:${String(d['minor'])}:${String(d['rate'])}`,
        );
      } else if (!nonEmpty(v) && (v === undefined || Array.isArray(v))) {
        // empty list
      } else {
        refuse(`linux.resources.blockIO.${k}`, 'config-linux.md#block-io');
      }
    }
  }
}

/**
 * linux.seccomp → the security lesson’s profile (the Docker JSON it already compiles):
 * written next to the state by the CLI, named by `security-opt seccomp=FILE`.
 * Argument filters (`args`) are beyond the security lesson’s assembler: a rule that
 * allows only with some arguments becomes an allow without them, the one
 * place where cellblock is looser than the config — said in a warning.
 */
function seccomp(s: unknown, fields: OciConfig, warnings: string[], refuse: Refuse): void {
  const S = 'config-linux.md#seccomp';
  if (!isObject(s)) return refuse('linux.seccomp', S, 'must be an object');
  for (const k of Object.keys(s)) {
    if (!['defaultAction', 'defaultErrnoRet', 'architectures', 'syscalls', 'flags'].includes(k))
      refuse(`linux.seccomp.${k}`, S);
  }
  const syscalls = (s['syscalls'] ?? []) as Json[];
  if (!Array.isArray(syscalls)) return refuse('linux.seccomp.syscalls', S, 'must be an array');
  let loosened = 0;
  const unknownDenied = new Set<string>();
  // Names the syscall table (native/syscalls.ts) does not know cannot be
  // compiled: dropped from an allow rule (stricter: the default action applies),
  // said in a warning when dropped from any other rule (looser).
  const known = knownSyscalls();
  const rules = syscalls.flatMap((r, i) => {
    if (!isObject(r)) return refuse(`linux.seccomp.syscalls[${i}]`, S, 'must be an object');
    const { args, ...rest } = r;
    if (Array.isArray(args) && args.length > 0) {
      if (rest['action'] !== 'SCMP_ACT_ALLOW') {
        refuse(
          `linux.seccomp.syscalls[${i}].args`,
          S,
          'argument filters are not implemented for an action other than SCMP_ACT_ALLOW',
        );
      }
      loosened++;
    }
    const names = (Array.isArray(rest['names']) ? rest['names'] : []) as string[];
    const kept = names.filter((n) => known.has(n));
    if (rest['action'] !== 'SCMP_ACT_ALLOW') for (const n of names.filter((x) => !known.has(x))) unknownDenied.add(n);
    return kept.length > 0 ? [{ ...rest, names: kept }] : [];
  });
  if (loosened > 0) {
    warnings.push(
      `linux.seccomp: ${loosened} rule(s) allow a syscall only for some arguments; cellblock allows them for all`,
    );
  }
  if (unknownDenied.size > 0) {
    warnings.push(`linux.seccomp: not in cellblock's syscall table, so not denied: ${[...unknownDenied].join(', ')}`);
  }
  fields['ociSeccomp'] = {
    defaultAction: s['defaultAction'],
    ...(s['defaultErrnoRet'] !== undefined ? { defaultErrnoRet: s['defaultErrnoRet'] } : {}),
    syscalls: rules,
  };
}

function mounts(list: unknown, bundle: string, refuse: Refuse): OciMount[] {
  const S = 'config.md#mounts';
  if (!Array.isArray(list)) return refuse('mounts', S, 'must be an array');
  const out: OciMount[] = [];
  list.forEach((m: unknown, i) => {
    const where = `mounts[${i}]`;
    if (!isObject(m)) return refuse(where, S, 'must be an object');
    for (const k of Object.keys(m)) {
      if (!['destination', 'source', 'options', 'type', 'uidMappings', 'gidMappings'].includes(k))
        refuse(`${where}.${k}`, S);
    }
    if (m['uidMappings'] !== undefined || m['gidMappings'] !== undefined)
      refuse(`${where}.uidMappings`, S, 'idmapped mounts are not implemented');
    const dest = m['destination'];
    if (typeof dest !== 'string' || !isAbsolute(dest) || dest.split('/').includes('..')) {
      return refuse(`${where}.destination`, S, `${JSON.stringify(dest)} must be an absolute path without ".."`);
    }
    const options = (m['options'] ?? []) as string[];
    if (!Array.isArray(options) || options.some((o) => typeof o !== 'string'))
      refuse(`${where}.options`, S, 'must be an array of strings');
    const bind = m['type'] === 'bind' || options.includes('bind') || options.includes('rbind');
    const type = bind ? 'bind' : (m['type'] as string | undefined);
    const standard = STANDARD_MOUNTS[dest.replace(/\/+$/, '') || '/'];
    if (standard) {
      if (!type || !standard.includes(type)) {
        refuse(
          `${where}.type`,
          S,
          `${JSON.stringify(m['type'])} at ${dest}: cellblock mounts ${standard[0]} there itself (the mount, cgroup and IPC lessons)`,
        );
      }
      return; // made by the lessons
    }
    if (type !== 'bind' && type !== 'tmpfs') {
      refuse(`${where}.type`, S, `${JSON.stringify(m['type'])} at ${dest}: only bind and tmpfs mounts are implemented`);
    }
    if (/^\/(proc|sys|dev)(\/|$)/.test(dest))
      refuse(`${where}.destination`, S, `${dest}: extra mounts below /proc, /sys, /dev are not implemented`);
    let flags = 0;
    const data: string[] = [];
    for (const o of options) {
      if (o in MS) flags |= MS[o as keyof typeof MS];
      else if (NEUTRAL_OPTIONS.has(o)) continue;
      else if (type === 'tmpfs' && /^(size|mode|nr_inodes|uid|gid)=[\w.]+$/.test(o)) data.push(o);
      else refuse(`${where}.options`, S, `option ${JSON.stringify(o)} is not implemented`);
    }
    let source = 'tmpfs';
    if (type === 'bind') {
      const src = m['source'];
      if (typeof src !== 'string' || src === '') return refuse(`${where}.source`, S, 'a bind mount needs a source');
      source = resolve(bundle, src);
      try {
        statSync(source);
      } catch {
        refuse(`${where}.source`, S, `${source} does not exist`);
      }
    }
    out.push({ destination: dest, type, source, flags, recursive: options.includes('rbind'), data: data.join(',') });
  });
  return out;
}

function hooks(h: unknown, refuse: Refuse): OciHooks {
  const S = 'config.md#posix-platform-hooks';
  const out: OciHooks = {
    prestart: [],
    createRuntime: [],
    createContainer: [],
    startContainer: [],
    poststart: [],
    poststop: [],
  };
  if (h === undefined) return out;
  if (!isObject(h)) return refuse('hooks', S, 'must be an object');
  for (const [k, list] of Object.entries(h)) {
    if (!(k in out)) refuse(`hooks.${k}`, S);
    if (!Array.isArray(list)) refuse(`hooks.${k}`, S, 'must be an array');
    out[k as keyof OciHooks] = (list as unknown[]).map((x, i) => {
      if (!isObject(x) || typeof x['path'] !== 'string' || !isAbsolute(x['path'])) {
        return refuse(`hooks.${k}[${i}].path`, S, 'must be an absolute path');
      }
      return x as unknown as OciHook;
    });
  }
  return out;
}
