/**
 * The network lesson's validations: every flag is checked against the machine
 * as it is *before* anything is created — a malformed or colliding subnet, an
 * address outside it or already leased, a bad port, a host port something
 * else listens on. Each problem names the value and the way out.
 *
 * They read, never write: leases without the lock (ipam.ts checks again under
 * it, for a `cellblock run` that started in between), sockets from
 * /proc/net/tcp, addresses from the kernel.
 */
import type { ContainerConfig } from '../config.js';
import type { Validation } from '../lesson.js';
import { BRIDGE } from '../names.js';
import {
  bridgeAddress,
  defaultSubnet,
  formatIp,
  overlappingHostNetworks,
  parseIp,
  parseSubnet,
  usableIn,
  type Subnet,
} from './addr.js';
import { liveLeases } from './ipam.js';
import { iptablesInstalled, listeningTcpPorts, parsePublish } from './publish.js';

export const NET_MODES = ['bridge', 'none', 'host'] as const;
export type NetMode = (typeof NET_MODES)[number];

/** The fields the network lesson adds to the config (its CLI options). */
export interface NetFields {
  net?: string;
  name?: string;
  publish?: unknown;
  subnet?: string;
  ip?: string;
}

type C = ContainerConfig & NetFields;

const mode = (c: C): string => c.net ?? 'bridge';

/**
 * `--net container:NAME`, or a pod member (`--pod`, lesson 10): the container
 * joins another one's network namespace — no veth, no address of its own.
 */
export const sharesNetwork = (c: C): boolean => mode(c).startsWith('container:') || c['pod'] !== undefined;
const bridged = (c: C): boolean => mode(c) === 'bridge';

/** The subnet the container would use, or undefined when it is not valid (another check says why). */
export function subnetOf(c: C): Subnet | undefined {
  const s = parseSubnet(c.subnet ?? defaultSubnet());
  return typeof s === 'string' ? undefined : s;
}

// RFC 1123 host name label: what /etc/hosts and resolvers accept.
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const netValidations: Validation<C>[] = [
  (c) =>
    (NET_MODES as readonly string[]).includes(mode(c)) || /^container:./.test(mode(c))
      ? undefined
      : `--net ${JSON.stringify(c.net)} is not a network mode: use bridge (the default), none, host or container:NAME`,

  (c) => {
    if (bridged(c)) return undefined;
    const extra: string[] = (['subnet', 'ip', 'publish'] as const).filter((k) => c[k] !== undefined);
    if (c.name !== undefined && mode(c) === 'host') extra.push('name');
    const flags = extra.map((k) => `--${k}`).join(', ');
    return extra.length === 0
      ? undefined
      : `${flags} ${extra.length === 1 ? 'applies' : 'apply'} only with --net bridge (this container is --net ${mode(c)})`;
  },

  (c) => {
    if (!bridged(c)) return undefined;
    const text = c.subnet ?? defaultSubnet();
    const s = parseSubnet(text);
    if (typeof s === 'string') return c.subnet === undefined ? `${s} (from CELLBLOCK_SUBNET)` : s;
    const clash = overlappingHostNetworks(s, BRIDGE);
    if (clash.length > 0) {
      return `subnet ${text} overlaps this machine's own network (${clash.join(', ')}): pick another --subnet or CELLBLOCK_SUBNET`;
    }
    const current = bridgeAddress(BRIDGE);
    if (current !== undefined && current !== `${s.gateway}/${s.prefix}`) {
      // The bridge stays between containers (as docker0 does): its subnet is the one in use until `cleanup` removes it.
      return `subnet ${text}: the bridge ${BRIDGE} already serves ${current} — use that subnet, or stop the containers on it and run \`cellblock cleanup\` (it removes the bridge)`;
    }
    return undefined;
  },

  (c) => {
    if (c.ip === undefined || !bridged(c)) return undefined;
    const n = parseIp(String(c.ip));
    if (n === undefined) return `--ip ${JSON.stringify(c.ip)} is not an IPv4 address`;
    const s = subnetOf(c);
    if (!s) return undefined;
    if (!usableIn(n, s)) {
      return `--ip ${c.ip} is not a container address of ${s.cidr}: use ${formatIp(s.network + 2)}–${formatIp(s.broadcast - 1)} (${s.gateway} is the bridge's)`;
    }
    const holder = liveLeases().find((l) => l.address === c.ip);
    return holder
      ? `--ip ${c.ip} is in use by running container ${holder.id}: choose another, or leave --ip out`
      : undefined;
  },

  (c) => {
    if (c.name === undefined) return undefined;
    if (!NAME.test(String(c.name))) {
      return `--name ${JSON.stringify(c.name)} is not a host name: 1–63 characters from a-z 0-9 -, not starting or ending with -`;
    }
    const holder = liveLeases().find((l) => l.name === c.name);
    return holder ? `--name ${c.name} is taken by running container ${holder.id}: choose another` : undefined;
  },

  (c) => {
    if (c.publish === undefined || !bridged(c)) return undefined;
    const { ports, problems } = parsePublish(c.publish);
    if (problems.length > 0) return problems.join('; ');
    if (ports.length > 0 && !iptablesInstalled()) {
      return '--publish needs iptables, which is not installed: run `bash scripts/setup.sh` (or apt-get install iptables)';
    }
    const listening = listeningTcpPorts();
    const leases = liveLeases();
    for (const p of ports) {
      const holder = leases.find((l) => l.ports.some((q) => q.host === p.host));
      if (holder)
        return `--publish ${p.host}:${p.container}: host port ${p.host} is already published by container ${holder.id}`;
      const on = listening.get(p.host);
      if (on)
        return `--publish ${p.host}:${p.container}: host port ${p.host} is taken (a program listens on ${on}:${p.host}): choose another HOSTPORT`;
    }
    return undefined;
  },
  // Rootless: no DNAT rule or veth can be made (CAP_NET_ADMIN in the host's
  // network namespace): a published port would silently not be.
  (c) =>
    process.getuid?.() !== 0 && c.publish !== undefined && [c.publish].flat().length > 0
      ? `--publish ${String([c.publish].flat()[0])} needs a veth and a DNAT rule in the host's network, which only root may make, and cellblock runs as an ordinary user (rootless): run it as root (sudo cellblock …), or leave -p out`
      : undefined,
];

/**
 * What a rootless container goes without (Lesson.withoutRoot): the bridge,
 * the veth and the address lease all need CAP_NET_ADMIN in the host's network
 * namespace. Undefined for --net host, which needs none of them.
 */
export function rootlessNetNote(c: C): string | undefined {
  if (mode(c) === 'host') return undefined;
  return "rootless: no bridge, veth or address (they need CAP_NET_ADMIN in the host's network): the container's network namespace is its own, without the bridge";
}
