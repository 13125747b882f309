/**
 * Lesson 04 — containers that can talk.
 *
 * GOAL: the container gets its own network namespace, and a veth "cable" to a
 * bridge on the host (cellblock0): eth0 inside, with an address from the
 * bridge's subnet and a default route via the bridge. Containers on the bridge
 * reach each other by address and by --name; --publish HOSTPORT:CONTAINERPORT
 * makes a server inside reachable from the host. Nothing stays behind when a
 * container ends. Check your work with `cellblock verify 04`.
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

function createBridge(subnet: Subnet): void {
  // TODO [bridge]: create the bridge BRIDGE, give it the gateway address (subnet.gateway, with subnet.prefix), bring it up.
  // HINT: man 8 ip-link (`type bridge`) and ip-address; ip([...]) takes the arguments as an array.
}

function createVeth(hostEnd: string, pid: number): void {
  // TODO [veth]: a veth pair: `hostEnd` stays on the host, its peer is created inside the container's
  // network namespace (the one of process `pid`) under the name eth0; then plug hostEnd into
  // the bridge and bring it up.
  // HINT: man 8 ip-link, "VETH": the peer takes its own options (name, netns). `master` attaches a link to a bridge.
}

function loopbackUp(pid: number): void {
  // TODO [lo-up]: bring the container's loopback interface up.
  // HINT: ipIn(pid, [...]) runs `ip` inside the container's network namespace; ip([...]) would change the host.
}

function configureInside(pid: number, address: string, subnet: Subnet): void {
  // TODO [inside]: inside the container: lo up, the address (with the subnet's prefix) on eth0, eth0 up,
  // and a default route via the bridge's address (subnet.gateway).
}

function dnatRule(id: string, port: PortMapping, address: string): string[] {
  // TODO [dnat-rule]: the iptables rule specification that sends TCP for host port port.host to
  // address:port.container, with the comment natComment(id).
  // HINT: man 8 iptables-extensions: the DNAT target (--to-destination) and the comment match.
  return [];
}

function publishPort(id: string, port: PortMapping, address: string): void {
  // TODO [publish]: append the DNAT rule to the chain NAT_CHAIN of the nat table.
  // HINT: iptables(['-t', 'nat', …]).
}

function unpublishPort(id: string, port: PortMapping, address: string): void {
  // TODO [unpublish]: delete exactly the rule publishPort appended.
  // HINT: man 8 iptables: -D takes the same rule specification as -A.
}

function deleteVeth(hostEnd: string): void {
  // TODO [delete-veth]: delete the host end of the veth pair (its peer goes with it).
  // HINT: the kernel would do it when the container's namespace dies — asynchronously, some time later.
}

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

  // TODO [net-flag]: ask for a new network namespace — except with --net host (config.net === 'host'),
  // where the container shares the host's.
  cloneFlags: () => 0,

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
    // The lease and the bridge, under the lock (see src/core/net/ipam.ts).
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

  // In reverse order; undo() runs every step even when one throws, and reports it.
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
