/**
 * A container config (what `cellblock run` builds from its options) as an OCI
 * bundle's config.json (runtime-spec 1.0): what dockerd does with a create
 * request before containerd hands the bundle to runc. `cellblock run -d` and
 * cellblockd write one per container, and the shim gives its directory to the
 * OCI runtime (`cellblock-oci`, or runc itself: the file is plain runtime-spec).
 *
 * Settings the spec has no field for — the bridge network, published ports,
 * an image of cellblock's store, --init, --keep — travel as `io.cellblock.*`
 * annotations, which cellblock-oci reads and runc ignores (a runc container
 * gets a network namespace with only `lo`, as `runc run` of a bundle does).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerConfig } from '../config.js';
import { CGROUP_PARENT } from '../names.js';
import { limitsFromConfig, type CgroupConfig } from '../cgroups/values.js';
import { capabilityName, DOCKER_DEFAULT_CAPS } from '../security/options.js';
import { CAPABILITIES, type CapabilityName } from '../../native/constants.js';

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciNamespace {
  type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup' | 'user';
  path?: string;
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    namespaces: OciNamespace[];
    cgroupsPath: string;
    resources: {
      memory?: { limit?: number; swap?: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export { DOCKER_DEFAULT_CAPS };

/** runc's `spec` defaults: hidden kernel files and read-only kernel knobs. */
const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** runc's `spec` default mounts (what a container's /proc, /dev, /sys are made of). */
const MOUNTS: OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  {
    destination: '/dev',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
  },
  {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  {
    destination: '/sys/fs/cgroup',
    type: 'cgroup',
    source: 'cgroup',
    options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
  },
];

const list = (v: unknown): string[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

/** "container:NAME" → NAME (Docker's spelling of "that container's namespace"). */
function sharedWith(v: unknown): string | undefined {
  return typeof v === 'string' && v.startsWith('container:') ? v.slice('container:'.length) : undefined;
}

/**
 * The capability set a config asks for: Docker's default, or every one with
 * --privileged; then --cap-drop and --cap-add (ALL works in both).
 */
function capabilities(config: ContainerConfig): string[] {
  const all = Object.keys(CAPABILITIES) as CapabilityName[];
  const set = new Set<CapabilityName>(config['privileged'] === true ? all : DOCKER_DEFAULT_CAPS);
  for (const name of list(config['cap-drop']).map(capabilityName)) {
    if (name === 'ALL') set.clear();
    else if (name) set.delete(name);
  }
  for (const name of list(config['cap-add']).map(capabilityName)) {
    if (name === 'ALL') all.forEach((c) => set.add(c));
    else if (name) set.add(name);
  }
  return [...set].map((c) => `CAP_${c}`);
}

/**
 * The config.json for a validated config. `pidOf(name)` gives the host pid of
 * a running container's init, for `--net/--ipc/--uts container:NAME` (the
 * bundle names its namespace by path, as Podman and CNI hand one to runc).
 */
export function ociSpec(config: ContainerConfig, pidOf: (name: string) => number = noShared): OciSpec {
  const annotations: Record<string, string> = {};
  const net = typeof config['net'] === 'string' ? config['net'] : 'bridge';
  const namespaces: OciNamespace[] = [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }];
  for (const [type, value] of [
    ['network', net],
    ['ipc', config['ipc']],
    ['uts', config['uts']],
  ] as const) {
    const other = sharedWith(value);
    if (other !== undefined)
      namespaces.push({ type, path: `/proc/${pidOf(other)}/ns/${type === 'network' ? 'net' : type}` });
    else if (!(type === 'network' && net === 'host')) namespaces.push({ type });
  }
  if (net === 'bridge') annotations['io.cellblock.net'] = 'bridge';
  const put = (key: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== false && list(value).length > 0) {
      annotations[`io.cellblock.${key}`] = list(value).join(',');
    }
  };
  put('name', config['name']);
  put('publish', config['publish']);
  put('ip', config['ip']);
  put('subnet', config['subnet']);
  put('image', config['image']);
  if (config['keep'] === true) annotations['io.cellblock.keep'] = 'true';
  if (config['init'] === true) annotations['io.cellblock.init'] = 'true';

  const limits = limitsFromConfig(config as CgroupConfig);
  const resources: OciSpec['linux']['resources'] = {};
  if (limits.memory !== undefined) {
    resources.memory = { limit: limits.memory };
    // runtime-spec: swap is memory + swap, -1 for unlimited — Docker's --memory-swap exactly.
    if (limits.memorySwap !== undefined) resources.memory.swap = limits.memorySwap === 'max' ? -1 : limits.memorySwap;
  }
  if (limits.cpu) resources.cpu = limits.cpu;
  if (limits.pids !== undefined) resources.pids = { limit: limits.pids === 'max' ? -1 : limits.pids };

  const caps = capabilities(config);
  const privileged = config['privileged'] === true;
  const hostname = typeof config['hostname'] === 'string' ? config['hostname'] : config.id;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: config.tty,
      user: { uid: 0, gid: 0 },
      args: config.argv,
      env: config.env,
      cwd: config.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: !privileged,
    },
    // An image's layers are stacked by the runtime (io.cellblock.image); root.path must still be a directory.
    root: { path: config.rootfs, readonly: false },
    ...(namespaces.some((n) => n.type === 'uts' && n.path === undefined) ? { hostname } : {}),
    mounts: MOUNTS.map((m) => ({ ...m })),
    annotations,
    linux: {
      namespaces,
      // Under the workshop's cgroup parent, named by the id: the cgroup inventory finds it there.
      cgroupsPath: `/${CGROUP_PARENT}/${config.id}`,
      resources,
      maskedPaths: privileged ? [] : MASKED_PATHS,
      readonlyPaths: privileged ? [] : READONLY_PATHS,
    },
  };
}

/** What a container record shows of a config (`cellblock ps`, the daemon's inspect): its name, image, ports. */
export function configFacts(config: ContainerConfig): { name?: string; image?: string; ports?: string[] } {
  const name = typeof config['name'] === 'string' ? config['name'] : undefined;
  const image = typeof config['image'] === 'string' ? config['image'] : undefined;
  const ports = list(config['publish']);
  return {
    ...(name !== undefined ? { name } : {}),
    ...(image !== undefined ? { image } : {}),
    ...(ports.length ? { ports } : {}),
  };
}

function noShared(name: string): number {
  throw new Error(`container:${name}: no way to find that container here`);
}

/** Write `dir`/config.json (whole, then renamed: a runtime never reads half a file). */
export function writeBundle(dir: string, spec: OciSpec): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}
