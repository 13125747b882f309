/**
 * The network area's inventory (core/inventory.ts): what lesson 04 makes.
 *
 *   netns    /run/netns/cellblock-<id>, when a lesson names one
 *   lease    NET_DIR/leases/<address>: stale once its runtime (pid + start time) is gone
 *   nat      a DNAT rule commented cellblock:<id>; the CELLBLOCK chain and its jumps (shared, stays)
 *   veth     a host end, cbv + a hash of the container id
 *   bridge   cellblock0 (shared, stays)
 *
 * The bridge and the chain are made by the first container that needs them
 * and stay for the next (as docker0 does): no run's leak, removed by
 * `cellblock cleanup` when no container runs. Everything a container owns —
 * its veth, its lease, its rules — goes with it.
 *
 * Each is removed through the functions the runtime itself uses (ipam.ts,
 * publish.ts, tools.ts), under the network lock, and a lease only while it is
 * still stale: a `cellblock run` starting meanwhile is never robbed.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  AlreadyGone,
  STAGE,
  type Inventory,
  type InventoryItem,
  type Kind,
  type KnownContainer,
} from '../inventory.js';
import { BRIDGE, hostVethName, NAT_CHAIN, NETNS_PREFIX, VETH_PREFIX } from '../names.js';
import { listDir } from '../read.js';
import { dropStaleLease, isStale, readLeases, unlessInUse, withNetworkLock, type Lease } from './ipam.js';
import { deleteNatRule, dropNatChain, natChainExists, natTable, type NatRule } from './publish.js';
import { ip, isGone, NetToolError } from './tools.js';

/** Where to look. The defaults read the machine; tests give fixtures. */
export interface NetScope {
  /** Named network namespaces (`ip netns`): /run/netns. */
  netnsDir: string;
  /** Network links and their kind (veth, bridge, …); default: `ip -j -d link show`. */
  links?: () => LinkInfo[];
  /** The address leases (ipam.ts); default: NET_DIR/leases. */
  leases?: () => Lease[];
  /** The workshop's part of the nat table; default: iptables (publish.ts natTable). */
  nat?: () => { chain: boolean; rules: NatRule[] };
}

export interface LinkInfo {
  name: string;
  kind: string;
}

export interface NetnsItem extends InventoryItem {
  kind: 'netns';
}
export interface LeaseItem extends InventoryItem {
  kind: 'lease';
  lease: Lease;
}
/** A published port's DNAT rule, or (no rule) the chain itself with its jumps. */
export interface NatItem extends InventoryItem {
  kind: 'nat';
  rule?: NatRule;
}
export interface LinkItem extends InventoryItem {
  kind: 'veth' | 'bridge';
}

export interface NetOps {
  deleteNetns(name: string): void;
  /** The lease's file, if it is still stale (ipam.ts dropStaleLease). */
  removeLease(lease: Lease): void;
  deleteNatRule(rule: NatRule): void;
  /** The CELLBLOCK chain and its jumps, once no container on the bridge runs. */
  deleteNatChain(): void;
  /** A veth end. */
  deleteLink(name: string): void;
  /** The bridge, once no container on it runs. */
  deleteBridge(): void;
}

/**
 * The links that may be ours, with their kind. The names come from sysfs (no
 * process); `ip` is asked for the kinds only when a name matches — a dummy
 * link that happens to start with cbv is not a veth.
 */
function systemLinks(): LinkInfo[] {
  const ours = listDir('/sys/class/net').filter((n) => n.startsWith(VETH_PREFIX) || n === BRIDGE);
  if (ours.length === 0) return [];
  try {
    const links = JSON.parse(ip(['-j', '-d', 'link', 'show'])) as {
      ifname: string;
      linkinfo?: { info_kind?: string };
    }[];
    return links
      .filter((l) => ours.includes(l.ifname))
      .map((l) => ({ name: l.ifname, kind: l.linkinfo?.info_kind ?? '' }));
  } catch (err) {
    if (err instanceof NetToolError || err instanceof SyntaxError) return [];
    throw err;
  }
}

const leases = (scope: NetScope): Lease[] => (scope.leases ?? readLeases)();

/** The workshop's named network namespaces. */
function namedNetns(scope: NetScope): NetnsItem[] {
  return listDir(scope.netnsDir)
    .filter((n) => n.startsWith(NETNS_PREFIX))
    .map((n) => ({
      area: 'net',
      kind: 'netns',
      name: n,
      why: `named ${NETNS_PREFIX}*`,
      containerId: n.slice(NETNS_PREFIX.length),
    }));
}

/** The workshop's named network namespaces by inode, as a member's /proc/<pid>/ns/net link shows it. */
export function netnsByInode(scope: NetScope): Map<string, NetnsItem> {
  const out = new Map<string, NetnsItem>();
  for (const item of namedNetns(scope)) {
    try {
      out.set(`net:[${statSync(join(scope.netnsDir, item.name)).ino}]`, item);
    } catch {
      // deleted meanwhile
    }
  }
  return out;
}

const netns: Kind<NetnsItem, NetScope, NetOps> = {
  kind: 'netns',
  stage: STAGE.netns,
  list: (scope) => namedNetns(scope),
  remove: (item, ops) => ops.deleteNetns(item.name),
};

const lease: Kind<LeaseItem, NetScope, NetOps> = {
  kind: 'lease',
  stage: STAGE.leases,
  list: (scope) =>
    leases(scope).map((l) => ({
      area: 'net',
      kind: 'lease',
      name: `${l.address} ${l.id}`,
      why: `an address lease whose runtime (pid ${l.runtime.pid}) is gone`,
      containerId: l.id,
      lease: l,
    })),
  remove: (item, ops) => ops.removeLease(item.lease),
};

const nat: Kind<NatItem, NetScope, NetOps> = {
  kind: 'nat',
  stage: STAGE.nat,
  list(scope) {
    const table = (scope.nat ?? natTable)();
    // A container's rules only: the jumps go with the chain, and a rule in the
    // chain that names no container (a learner's experiment) too.
    const items: NatItem[] = table.rules.flatMap((rule) =>
      rule.containerId === undefined
        ? []
        : [
            {
              area: 'net',
              kind: 'nat',
              name: ['-A', rule.chain, ...rule.args].join(' '),
              why: `a published port of ${rule.containerId}, which is gone`,
              containerId: rule.containerId,
              rule,
              depth: 1, // inside the chain: before it
            },
          ],
    );
    if (table.chain) {
      items.push({
        area: 'net',
        kind: 'nat',
        name: `chain ${NAT_CHAIN}`,
        why: 'the published ports’ chain and its jumps',
        shared: true,
        stays: true,
      });
    }
    return items;
  },
  remove: (item, ops) => (item.rule ? ops.deleteNatRule(item.rule) : ops.deleteNatChain()),
};

/** Veths before the bridge they are plugged into (listing order within a stage). */
const veth: Kind<LinkItem, NetScope, NetOps> = {
  kind: 'veth',
  stage: STAGE.links,
  list(scope, { ids }) {
    // The name is a hash of the id: traced back through every id known.
    const owners = new Map([...ids].map((id) => [hostVethName(id), id]));
    return (scope.links ?? systemLinks)()
      .filter((l) => l.kind === 'veth' && l.name.startsWith(VETH_PREFIX))
      .map((l) => {
        const id = owners.get(l.name);
        return {
          area: 'net',
          kind: 'veth',
          name: l.name,
          why: `a veth named ${VETH_PREFIX}*`,
          ...(id !== undefined ? { containerId: id } : {}),
        };
      });
  },
  remove: (item, ops) => ops.deleteLink(item.name),
};

const bridge: Kind<LinkItem, NetScope, NetOps> = {
  kind: 'bridge',
  stage: STAGE.links,
  list: (scope) =>
    (scope.links ?? systemLinks)()
      .filter((l) => l.kind === 'bridge' && l.name === BRIDGE)
      .map((l) => ({
        area: 'net',
        kind: 'bridge',
        name: l.name,
        why: 'the workshop bridge',
        shared: true,
        stays: true,
      })),
  remove: (_item, ops) => ops.deleteBridge(),
};

/** A tool's "no such …" is AlreadyGone: reported as gone, not as a failure. */
function orGone(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (isGone(err)) throw new AlreadyGone(`no such ${what}`);
    throw err;
  }
}

export const netOps: NetOps = {
  deleteNetns: (name) => orGone('network namespace', () => ip(['netns', 'delete', name])),
  removeLease(l) {
    if (!withNetworkLock(() => dropStaleLease(l))) throw new AlreadyGone('no such lease');
  },
  deleteNatRule: (rule) => withNetworkLock(() => orGone('rule', () => deleteNatRule(rule))),
  deleteNatChain() {
    unlessInUse(`the ${NAT_CHAIN} chain`, () => {
      if (!natChainExists()) throw new AlreadyGone('no such chain');
      dropNatChain();
    });
  },
  deleteLink: (name) => orGone('link', () => ip(['link', 'delete', name])),
  deleteBridge: () => unlessInUse(BRIDGE, () => orGone('link', () => ip(['link', 'delete', BRIDGE]))),
};

export const netInventory: Inventory<NetScope, NetOps> = {
  area: 'net',
  kinds: [netns, lease, nat, veth, bridge],
  // A lease names its container, and whether it still runs: its runtime's pid and start time.
  containers: (scope): KnownContainer[] =>
    leases(scope).map((l) => ({
      id: l.id,
      ...(isStale(l) ? {} : { running: `container ${l.id} holds a live address lease (runtime pid ${l.runtime.pid})` }),
    })),
};
