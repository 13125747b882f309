/**
 * Lesson 04 — containers that can talk.
 *
 * A network namespace gives the container a network stack of its own:
 * interfaces, addresses, routes, ports, firewall. Alone it has one loopback,
 * down. This lesson wires it to the host the way Docker's default bridge does:
 *
 *   host                                    container (its own netns)
 *   cellblock0  10.217.0.1/24  (a bridge: a virtual switch)
 *     └── cbv1a2b3c4d ════ veth pair ════   eth0  10.217.0.2/24
 *                                           lo    127.0.0.1
 *                                           default via 10.217.0.1
 *
 * The host steps, in order (runc leaves this to CNI plugins, which do the same):
 *   1. lease an address     under the network lock, with the bridge if there is none yet
 *   2. the veth pair        the host end on the bridge, the peer born inside as eth0
 *   3. inside               lo and eth0 up, the address, the default route
 *   4. published ports      a DNAT rule each (+ the loopback proxy: core/net/publish.ts)
 *   5. names                every container's /etc/hosts (core/net/hosts.ts)
 * The container-side step mounts the container's own /etc/hosts. At the end,
 * in reverse: rules, veth, lease. The bridge (and the NAT chain) stay for the
 * next container, as docker0 does: `cellblock cleanup` removes them.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { CLONE_NEWNET, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../src/native/constants.js';
import type { Sys } from '../../src/native/index.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';
import { BRIDGE, hostVethName, NAT_CHAIN, natComment } from '../../src/core/names.js';
import type { Subnet } from '../../src/core/net/addr.js';
import { hostsFile, hostsFor, refreshHosts } from '../../src/core/net/hosts.js';
import { leaseAddress, leaseOf, liveLeases, releaseAddress, withNetworkLock } from '../../src/core/net/ipam.js';
import {
  ensureNatChain,
  parsePublish,
  startLoopbackProxy,
  stopLoopbackProxies,
  type PortMapping,
} from '../../src/core/net/publish.js';
import { batched, inOwnNetns, ip, ipIn, iptables, unlessGone } from '../../src/core/net/tools.js';
import {
  netValidations,
  rootlessNetNote,
  sharesNetwork,
  subnetOf,
  type NetFields,
} from '../../src/core/net/validate.js';

type NetConfig = ContainerConfig & NetFields & { hostname?: string; etcHosts?: string };

/**
 * The bridge is a switch inside the kernel: every veth end attached to it is a
 * port, and frames between the containers never leave the host. Its own
 * address makes the host a member of that network — the containers' gateway.
 */
function createBridge(subnet: Subnet): void {
  // [bridge] a switch with an address of its own, up.
  ip(['link', 'add', BRIDGE, 'type', 'bridge']);
  ip(['addr', 'add', `${subnet.gateway}/${subnet.prefix}`, 'dev', BRIDGE]);
  ip(['link', 'set', BRIDGE, 'up']);
}

/**
 * A veth pair is a cable: what goes in one end comes out of the other. The
 * peer is created directly in the container's namespace (`netns <pid>`) and
 * under its final name — a rename after the move would need the interface
 * down, and an `eth0` made on the host first would clash with the host's own.
 * The host end joins the bridge (`master`) and comes up.
 */
function createVeth(hostEnd: string, pid: number): void {
  // [veth] the peer is born inside, already named eth0.
  ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
  ip(['link', 'set', hostEnd, 'master', BRIDGE, 'up']);
}

/** Even 127.0.0.1 needs `lo` up: a new namespace starts with it down (`--net none` stops here). */
function loopbackUp(pid: number): void {
  // [lo-up] inside the container's namespace, not the host's.
  ipIn(pid, ['link', 'set', 'lo', 'up']);
}

/**
 * The container's side, from the host: ipIn runs `ip` inside its network
 * namespace. The address with its prefix also adds the route to the subnet;
 * the default route sends everything else to the bridge's address.
 */
function configureInside(pid: number, address: string, subnet: Subnet): void {
  // [inside] lo, the address (which brings the subnet's route), eth0 up, the default route.
  loopbackUp(pid);
  ipIn(pid, ['addr', 'add', `${address}/${subnet.prefix}`, 'dev', 'eth0']);
  ipIn(pid, ['link', 'set', 'eth0', 'up']);
  ipIn(pid, ['route', 'add', 'default', 'via', subnet.gateway]);
}

/**
 * Destination NAT: a TCP packet for host port P (on any of the host's
 * addresses: the chain is only entered for those) gets the container's
 * address and port written in; conntrack rewrites the replies back. The
 * comment names the container, so a rule left by a killed run can be found.
 */
function dnatRule(id: string, port: PortMapping, address: string): string[] {
  // [dnat-rule] match, name, rewrite.
  return [
    ...['-p', 'tcp', '--dport', String(port.host)],
    ...['-m', 'comment', '--comment', natComment(id)],
    ...['-j', 'DNAT', '--to-destination', `${address}:${port.container}`],
  ];
}

function publishPort(id: string, port: PortMapping, address: string): void {
  // [publish] appended to the workshop's own chain in the nat table.
  iptables(['-t', 'nat', '-A', NAT_CHAIN, ...dnatRule(id, port, address)]);
}

/** -D with the same specification as -A deletes exactly that rule. */
function unpublishPort(id: string, port: PortMapping, address: string): void {
  // [unpublish] the very same specification.
  iptables(['-t', 'nat', '-D', NAT_CHAIN, ...dnatRule(id, port, address)]);
}

/**
 * Explicitly: the kernel would remove the pair when the container's namespace
 * dies, but asynchronously, some time after the exit — a container started
 * right after could still find it there.
 */
function deleteVeth(hostEnd: string): void {
  // [delete-veth] now, not whenever the namespace is freed.
  ip(['link', 'delete', hostEnd]);
}

/**
 * Container side. The rootfs is every container's, so its /etc/hosts cannot
 * be this one's: write the file on a tmpfs of the container's own and
 * bind-mount it over /etc/hosts (creating an empty one as the mount point if
 * the rootfs has none). Runs after lesson 03's pivot_root: these paths are
 * the container's, and the mounts live in its mount namespace only.
 */
function installEtcHosts(content: string, sys: Sys): void {
  mkdirSync('/run/cellblock', { recursive: true });
  sys.mount('tmpfs', '/run/cellblock', 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=755,size=64k');
  writeFileSync('/run/cellblock/hosts', content);
  if (!existsSync('/etc/hosts')) writeFileSync('/etc/hosts', '');
  sys.mount('/run/cellblock/hosts', '/etc/hosts', null, MS_BIND, null);
}

export default defineLesson<NetConfig>({
  id: '04-net',
  buildStep: { net: 'host' }, // `cellblock build` runs its steps on the host's network, as `docker build` does
  options: {
    net: { type: 'string', describe: 'network: bridge (default: cellblock0, an address, ports), none (lo only), host' },
    name: { type: 'string', describe: 'a name other containers on the bridge resolve (/etc/hosts)' },
    publish: { type: 'array', alias: 'p', describe: 'HOSTPORT:CONTAINERPORT, TCP (repeatable)' },
    ip: { type: 'string', describe: 'the container address (default: the lowest free one in the subnet)' },
    subnet: { type: 'string', describe: 'the bridge subnet (default: $CELLBLOCK_SUBNET or 10.217.0.0/24)' },
  },
  validate: netValidations,
  // Rootless (an ordinary user runs cellblock): no bridge or veth can be made; the runtime skips the host steps and says so.
  withoutRoot: rootlessNetNote,

  // [net-flag] A new network namespace, except for --net host: the container then shares the host's.
  cloneFlags: (config) => ((config.net ?? 'bridge') === 'host' ? 0 : CLONE_NEWNET),

  async hostAfterSpawn({ config, pid }) {
    // --net host, or no network namespace yet: nothing to wire; --net
    // container:NAME (lesson 10): that container's network, wired already.
    if (!inOwnNetns(pid) || sharesNetwork(config)) return;
    const names = [config.hostname ?? config.id, ...(config.name !== undefined ? [config.name] : [])];
    if (config.net === 'none') {
      loopbackUp(pid);
      config.etcHosts = hostsFile({ address: '127.0.1.1', names }, []);
      return;
    }

    const subnet = subnetOf(config)!;
    const { ports } = parsePublish(config.publish);
    // The lease, and the shared pieces the first container creates, in one
    // critical section: `cellblock cleanup` removes them under the same lock,
    // only while no lease is held — never between our lease and our use of them.
    const lease = withNetworkLock(() => {
      const lease = leaseAddress({
        id: config.id,
        subnet,
        ...(config.ip !== undefined ? { address: config.ip } : {}),
        ...(config.name !== undefined ? { name: config.name } : {}),
        hostname: names[0]!,
        pid,
        ports,
      });
      if (!existsSync(`/sys/class/net/${BRIDGE}`)) createBridge(subnet);
      if (ports.length > 0) ensureNatChain();
      return lease;
    });

    // The runtime runs these ip commands as one `ip -batch` per namespace (core/net/tools.ts).
    batched(() => {
      createVeth(hostVethName(config.id), pid);
      configureInside(pid, lease.address, subnet);
    });
    for (const port of ports) {
      publishPort(config.id, port, lease.address);
      await startLoopbackProxy(config.id, port, lease.address);
    }
    // The init receives the config after this step: the file travels with it.
    // Every other running container learns the new name now.
    config.etcHosts = withNetworkLock(() => {
      const all = liveLeases();
      refreshHosts(all);
      return hostsFor(lease, all);
    });
  },

  init(config, sys) {
    // An OCI caller (containerd, Podman) that mounts its own /etc/hosts keeps it: runc writes none.
    if (config.callerMounts?.includes('/etc/hosts')) return;
    if (config.etcHosts !== undefined) installEtcHosts(config.etcHosts, sys);
  },

  // Reverse order, each step on its own (one that throws is reported, the
  // rest still run), each tolerating "already gone" (a start that failed half way).
  async hostCleanup({ config, undo }) {
    const lease = leaseOf(config.id); // none with --net none or host, or when the start failed before it
    await undo({
      'stop the port proxies': () => stopLoopbackProxies(config.id),
      'unpublish the ports': () => {
        for (const port of lease?.ports ?? []) unlessGone(() => unpublishPort(config.id, port, lease!.address));
      },
      'delete the veth': () => lease && unlessGone(() => deleteVeth(hostVethName(config.id))),
      'release the address': () =>
        lease &&
        withNetworkLock(() => {
          // The bridge and the NAT chain stay for the next container (README: "a bridge that stays").
          releaseAddress(config.id);
          refreshHosts(liveLeases());
        }),
    });
  },
});
