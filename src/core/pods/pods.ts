/**
 * Pods (lesson 10): a pause container that owns the namespaces, and members
 * that join them. A pod has no state of its own: its pause container is an
 * ordinary container with the id `cb-pod-<NAME>` (its state file, lease and
 * cgroup are found and removed as any container's), and a member is a
 * container whose config names the pod. So `cellblock cleanup` and the leak
 * probes know pods without knowing the word.
 */
import { execFileSync } from 'node:child_process';
import { ConfigError, type ContainerConfig } from '../config.js';
import type { SharedNamespace, Validation } from '../lesson.js';
import { POD_ID_PREFIX } from '../names.js';
import { isLive, listStates, readState, type ContainerState } from '../host/state.js';

export { POD_ID_PREFIX };

/** The pause program in the rootfs (scripts/rootfs/pause.c, built at setup). */
export const PAUSE = '/usr/local/bin/pause';

/** A pod name: a host name (it is the pod's hostname) short enough for the id's 32 characters. */
export const POD_NAME = /^[a-z0-9]([a-z0-9-]{0,23}[a-z0-9])?$/;

export const podId = (name: string): string => `${POD_ID_PREFIX}${name}`;

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The container called `nameOrId` — its id, or the --name it was given (the
 * network lesson's field, in the config its state file keeps) — while it has
 * a state file.
 */
export function findState(nameOrId: string): ContainerState | undefined {
  return readState(nameOrId) ?? listStates().find((s) => s.config?.['name'] === nameOrId);
}

/** A container that runs now (its init and its runtime alive), by id or name. */
export function runningState(nameOrId: string): ContainerState | undefined {
  const s = findState(nameOrId);
  return s && isLive(s) ? s : undefined;
}

/** The pod's pause container, while it runs. */
export function podPause(name: string): ContainerState | undefined {
  const s = readState(podId(name));
  return s && isLive(s) ? s : undefined;
}

export interface Pod {
  name: string;
  pause: ContainerState;
  members: ContainerState[];
}

/** A container's name, or its id when it has none. */
export const nameOf = (s: ContainerState): string => (typeof s.config?.['name'] === 'string' ? s.config['name'] : s.id);

/** Every pod whose pause container has a state file, with its members. */
export function listPods(): Pod[] {
  const states = listStates();
  return states
    .filter((s) => s.id.startsWith(POD_ID_PREFIX))
    .map((pause) => {
      const name = pause.id.slice(POD_ID_PREFIX.length);
      return { name, pause, members: states.filter((s) => s.config?.['pod'] === name) };
    });
}

// ─── sharing a running container's namespaces: --net/--ipc container:NAME, --pod NAME ───

/** The fields lesson 10 adds (--ipc, --pod), with the ones it reads from others (--net, --hostname, -p, --userns). */
export interface ShareFields {
  net?: string;
  ipc?: string;
  uts?: string;
  pid?: string;
  pod?: string;
  /** A pause container (`pod create --share-pid`): the pod's members join its PID namespace too. */
  'share-pid'?: boolean;
  /** The PID lesson's --init. */
  init?: boolean;
  hostname?: string;
  publish?: unknown;
  ip?: string;
  subnet?: string;
  userns?: string;
}

type C = ContainerConfig & ShareFields;

const target = (value: string | undefined): string | undefined =>
  value?.startsWith('container:') ? value.slice('container:'.length) : undefined;

/** Every check, each a problem naming the value and the fix (Lesson.validate). */
export const shareValidations: Validation<C>[] = [
  (c) => {
    for (const [flag, value] of [
      ['--net', c.net],
      ['--ipc', c.ipc],
      ['--uts', c.uts],
      ['--pid', c.pid],
    ] as const) {
      const name = target(value);
      if (value !== undefined && flag !== '--net' && name === undefined && value !== 'private') {
        return `${flag} ${JSON.stringify(value)}: use container:NAME (or private, the default)`;
      }
      if (name !== undefined && !runningState(name)) {
        return `${flag} ${value}: no running container has the id or name ${JSON.stringify(name)} — start it first (a stopped container has no namespaces left to join)`;
      }
    }
    return undefined;
  },
  (c) =>
    target(c.uts) !== undefined && c.hostname !== undefined
      ? `--uts ${c.uts} with --hostname ${c.hostname}: the hostname is that container's — leave --hostname out`
      : undefined,
  (c) => {
    if (c.pod === undefined) return undefined;
    if (!POD_NAME.test(String(c.pod)) || !podPause(String(c.pod))) {
      return `--pod ${JSON.stringify(c.pod)}: no such pod is running — \`cellblock pod create ${c.pod}\` first (\`cellblock pod ls\` lists them)`;
    }
    const clash = (['net', 'ipc', 'uts', 'pid', 'hostname', 'publish', 'ip', 'subnet'] as const).filter(
      (k) => c[k] !== undefined,
    );
    return clash.length === 0
      ? undefined
      : `--pod ${c.pod} with ${clash.map((k) => `--${k}`).join(', ')}: a pod member has the pod's network, IPC and hostname (and its PID namespace with \`pod create --share-pid\`) — give ports to \`cellblock pod create -p\``;
  },
  (c) =>
    c['share-pid'] === true && !c.id.startsWith(POD_ID_PREFIX)
      ? `--share-pid is for a pod's pause container: use \`cellblock pod create --share-pid NAME\`, or --pid container:NAME to join one container's PID namespace`
      : undefined,
  (c) =>
    c.init === true && joinsPid(c)
      ? `--init with another container's PID namespace (${c.pid ?? `pod ${c.pod}`}): its PID 1 is that container's, which reaps the orphans — leave --init out`
      : undefined,
  (c) =>
    c.userns !== undefined && (c.pod !== undefined || target(c.net) || target(c.ipc) || target(c.uts) || target(c.pid))
      ? `--userns ${c.userns} with another container's namespaces: they belong to that container's user namespace — leave --userns out`
      : undefined,
];

/**
 * Does the container start in another one's PID namespace (--pid container:NAME,
 * or a member of a pod made with --share-pid)? Its init is then not PID 1: the
 * other container's first process is, and it reaps what the member orphans.
 */
export function joinsPid(c: C): boolean {
  if (target(c.pid) !== undefined) return true;
  return c.pod !== undefined && podPause(String(c.pod))?.config?.['share-pid'] === true;
}

/**
 * The cgroup a pod's container has its own cgroup in (Lesson.cgroupParent):
 * the pod's, named by its pause container's id — for the pause too, whose
 * leaf is cellblock/cb-pod-NAME/cb-pod-NAME (no process in the pod's cgroup itself).
 */
export function podCgroupParent(c: C): string | undefined {
  if (c.id.startsWith(POD_ID_PREFIX)) return c.id;
  return c.pod !== undefined && POD_NAME.test(String(c.pod)) ? podId(String(c.pod)) : undefined;
}

/** The namespaces a container starts in (Lesson.shareNamespaces); throws for a name that is not running. */
export function sharedNamespaces(c: C): SharedNamespace[] {
  const pidOf = (name: string): number => {
    const s = runningState(name);
    if (!s) throw new ConfigError([`no running container has the id or name ${JSON.stringify(name)}`]);
    return s.pid;
  };
  if (c.pod !== undefined) {
    const pause = podPause(String(c.pod));
    if (!pause) throw new ConfigError([`no running pod ${JSON.stringify(c.pod)}`]);
    const kinds =
      pause.config?.['share-pid'] === true ? (['net', 'ipc', 'uts', 'pid'] as const) : (['net', 'ipc', 'uts'] as const);
    return kinds.map((kind) => ({ kind, pid: pause.pid }));
  }
  const out: SharedNamespace[] = [];
  const net = target(c.net);
  const ipc = target(c.ipc);
  const uts = target(c.uts);
  if (net !== undefined) out.push({ kind: 'net', pid: pidOf(net) });
  if (ipc !== undefined) out.push({ kind: 'ipc', pid: pidOf(ipc) });
  if (uts !== undefined) out.push({ kind: 'uts', pid: pidOf(uts) });
  const pid = target(c.pid);
  if (pid !== undefined) out.push({ kind: 'pid', pid: pidOf(pid) });
  return out;
}

/**
 * The hostname a container that shares another's UTS namespace must keep
 * (the UTS lesson sets one in every container's init): the pod's name, or
 * what the other container's namespace holds now — read there by util-linux
 * nsenter, since /proc/sys/kernel/hostname shows the *reader's* namespace.
 */
export function sharedHostname(c: C): string | undefined {
  if (c.pod !== undefined) return String(c.pod);
  const uts = target(c.uts);
  const s = uts === undefined ? undefined : runningState(uts);
  if (!s) return undefined;
  return execFileSync('nsenter', ['--target', String(s.pid), '--uts', 'hostname'], { encoding: 'utf8' }).trim();
}
