/**
 * Published ports (`--publish HOSTPORT:CONTAINERPORT`): parsing, the host's
 * listening sockets, the shared iptables chain, and the loopback proxy.
 *
 * How a connection to a published port reaches the container:
 *
 *   to any host address but loopback    iptables nat: OUTPUT (the host's own
 *   (the bridge's 10.217.0.1, eth0's)   connections) and PREROUTING (other
 *                                       machines') jump to CELLBLOCK, where the
 *                                       container's rule DNATs to ADDRESS:PORT
 *   to 127.0.0.1                        a small proxy in the runtime process
 *                                       (as Docker's docker-proxy does)
 *
 * Why not DNAT for 127.0.0.1 too: after the rewrite the packet would leave
 * through cellblock0 with source 127.0.0.1, which the kernel drops as a
 * "martian" unless net.ipv4.conf.cellblock0.route_localnet=1 — and that
 * setting also lets the containers reach services the host binds to
 * 127.0.0.1 only (CVE-2020-8558 was exactly this in Kubernetes). The proxy
 * costs a copy through user space and nothing in security, and binding the
 * port tells at once whether another program has it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BRIDGE, NAT_CHAIN, natComment, NET_DIR } from '../names.js';
import { readText } from '../read.js';
import { bridgeAddress, sameNetwork } from './addr.js';
import { iptables, NetToolError, unlessGone } from './tools.js';

export interface PortMapping {
  host: number;
  container: number;
}

const PORT_SPEC = /^(\d{1,5}):(\d{1,5})(\/tcp)?$/;

/** The --publish values, parsed; every problem names the value. Only TCP is published. */
export function parsePublish(values: unknown): { ports: PortMapping[]; problems: string[] } {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const ports: PortMapping[] = [];
  const problems: string[] = [];
  for (const v of list.map(String)) {
    const m = PORT_SPEC.exec(v);
    const host = m ? Number(m[1]) : NaN;
    const container = m ? Number(m[2]) : NaN;
    if (!m) {
      problems.push(`--publish ${JSON.stringify(v)} is not HOSTPORT:CONTAINERPORT (e.g. 8080:80; TCP only)`);
    } else if (!(host >= 1 && host <= 65535) || !(container >= 1 && container <= 65535)) {
      problems.push(`--publish ${v}: port ${host >= 1 && host <= 65535 ? container : host} is not in 1–65535`);
    } else if (ports.some((p) => p.host === host)) {
      problems.push(`--publish ${v}: host port ${host} is published twice`);
    } else {
      ports.push({ host, container });
    }
  }
  return { ports, problems };
}

/**
 * TCP ports something listens on in this process's network namespace (the
 * host's, for the runtime), from /proc/net/tcp and tcp6: state 0A is LISTEN,
 * the local address is HEXIP:HEXPORT. Port → 'LISTEN 127.0.0.1'.
 */
export function listeningTcpPorts(): Map<number, string> {
  const out = new Map<number, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readText(file).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !f[1]) continue;
      const [hexIp, hexPort] = f[1].split(':');
      const port = parseInt(hexPort!, 16);
      const ip =
        hexIp!.length === 8
          ? hexIp!
              .match(/../g)!
              .reverse()
              .map((h) => parseInt(h, 16))
              .join('.')
          : /^0+$/.test(hexIp!)
            ? '[::]'
            : 'an IPv6 address';
      if (!out.has(port)) out.set(port, ip);
    }
  }
  return out;
}

export function iptablesInstalled(): boolean {
  return (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(delimiter)
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => existsSync(join(d, 'iptables')));
}

/**
 * The jumps into CELLBLOCK. `--dst-type LOCAL`: only packets for one of the
 * host's own addresses (a published port is a port *of the host*). OUTPUT
 * leaves 127.0.0.0/8 to the proxy (see the top of this file).
 */
const JUMPS = [
  ['PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', NAT_CHAIN],
  ['OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', NAT_CHAIN],
];

export function natChainExists(): boolean {
  try {
    iptables(['-t', 'nat', '-S', NAT_CHAIN]);
    return true;
  } catch (err) {
    if (err instanceof NetToolError) return false;
    throw err;
  }
}

/**
 * Set while the chain exists (NET_DIR/nat-chain, on /run's tmpfs: gone with a
 * reboot, as the chain is): a container that publishes a port then knows
 * without starting an iptables process that the chain is there, and a sweep
 * whether there is anything to remove — most containers publish nothing.
 */
const CHAIN_MARK = join(NET_DIR, 'nat-chain');

/** The chain and its two jumps, if missing. Call under the network lock (ipam.ts): two jumps would be one too many. */
export function ensureNatChain(): void {
  // The chain stays between containers, as the bridge does (`cellblock
  // cleanup` removes both, and the mark with them): once it is marked, the
  // three iptables processes below would only confirm it.
  if (existsSync(CHAIN_MARK)) return;
  // The mark first: if anything below fails half-way, the chain that exists is
  // still found and removed by the last container (or `cellblock cleanup`).
  writeFileSync(CHAIN_MARK, '');
  if (!natChainExists()) iptables(['-t', 'nat', '-N', NAT_CHAIN]);
  // Each jump on its own (-C checks for it): a jump missing after an earlier
  // failure is added now, and none is ever added twice.
  for (const jump of JUMPS) {
    try {
      iptables(['-t', 'nat', '-C', ...jump]);
    } catch (err) {
      if (!(err instanceof NetToolError)) throw err;
      iptables(['-t', 'nat', '-A', ...jump]);
    }
  }
}

/** The chain and its jumps, if there. Call under the network lock, when the last container has gone. */
export function removeNatChain(): void {
  if (existsSync(CHAIN_MARK)) dropNatChain();
}

/** The chain and its jumps, mark or no mark (`cellblock cleanup`: a chain may outlive its mark). Under the network lock. */
export function dropNatChain(): void {
  if (natChainExists()) {
    for (const jump of JUMPS) unlessGone(() => iptables(['-t', 'nat', '-D', ...jump]));
    iptables(['-t', 'nat', '-F', NAT_CHAIN]);
    iptables(['-t', 'nat', '-X', NAT_CHAIN]);
  }
  rmSync(CHAIN_MARK, { force: true });
}

/** A rule of the nat table that is the workshop's. */
export interface NatRule {
  /** The chain it is in: NAT_CHAIN for a published port, PREROUTING or OUTPUT for a jump to NAT_CHAIN. */
  chain: string;
  /** Everything after the chain, as `iptables -S` prints it (quotes removed): what `-D <chain>` takes. */
  args: string[];
  /** The container whose port it publishes (its comment is natComment(id)); none on a jump. */
  containerId?: string;
}

/**
 * The workshop's part of the nat table, read once (`iptables -S`: the table as
 * the commands that would make it): whether NAT_CHAIN exists, and the rules
 * that are ours — the jumps to it, its rules, anything commented
 * natComment(id). Nothing when iptables is not installed.
 */
export function natTable(): { chain: boolean; rules: NatRule[] } {
  let text: string;
  try {
    text = iptables(['-t', 'nat', '-S']);
  } catch (err) {
    if (err instanceof NetToolError) return { chain: false, rules: [] };
    throw err;
  }
  return parseNatTable(text);
}

/** natTable's reading of `iptables -t nat -S` output. */
export function parseNatTable(text: string): { chain: boolean; rules: NatRule[] } {
  const prefix = natComment('');
  let chain = false;
  const rules: NatRule[] = [];
  for (const line of text.split('\n')) {
    const words = (line.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, '$1'));
    const [verb, name = '', ...args] = words;
    if (verb === '-N' && name === NAT_CHAIN) chain = true;
    if (verb !== '-A') continue;
    const c = args.indexOf('--comment');
    const comment = c >= 0 ? args[c + 1] : undefined;
    const containerId = comment?.startsWith(prefix) ? comment.slice(prefix.length) : undefined;
    const jump = args.some((a, i) => a === '-j' && args[i + 1] === NAT_CHAIN);
    if (name !== NAT_CHAIN && !jump && containerId === undefined) continue;
    rules.push({ chain: name, args, ...(containerId !== undefined ? { containerId } : {}) });
  }
  return { chain, rules };
}

/** The workshop's rules of the nat table (natTable). */
export function natRules(): NatRule[] {
  return natTable().rules;
}

/** Delete one rule, exactly as it was read. */
export function deleteNatRule(rule: NatRule): void {
  iptables(['-t', 'nat', '-D', rule.chain, ...rule.args]);
}

/** Every DNAT rule of container `id`, found by its comment — for a container whose runtime died before its cleanup. */
export function removeNatRulesOf(id: string): void {
  for (const rule of natRules()) if (rule.containerId === id) unlessGone(() => deleteNatRule(rule));
}

// ─── the loopback proxy ───────────────────────────────────────────────────────

/** Is `address` in the network of the bridge's own address (so the host routes it to the bridge)? */
function onBridge(address: string): boolean {
  const [ip, prefix] = bridgeAddress(BRIDGE)?.split('/') ?? [];
  return ip !== undefined && sameNetwork(ip, address, Number(prefix));
}

const proxies = new Map<string, { servers: Server[]; sockets: Set<Socket> }>();

/**
 * Listen on 127.0.0.1:HOSTPORT in this (the runtime's) process and pipe every
 * connection to ADDRESS:CONTAINERPORT. Fails — naming the port — when another
 * program has it.
 */
export async function startLoopbackProxy(id: string, port: PortMapping, address: string): Promise<void> {
  let entry = proxies.get(id);
  if (!entry) proxies.set(id, (entry = { servers: [], sockets: new Set() }));
  const { sockets } = entry;
  // Half-open both ways: a client that shuts down its sending side (end of its
  // request) still gets the whole reply; pipe() passes each end on.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    // Only to a container on the bridge: without the bridge's route the
    // address would be looked for on the host's default route, off this machine.
    if (!onBridge(address)) return void client.destroy();
    const upstream = createConnection({ host: address, port: port.container, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `host port ${port.host} on 127.0.0.1 is taken by another program: choose another --publish HOSTPORT`,
            )
          : err,
      ),
    );
    server.listen(port.host, '127.0.0.1', () => resolve());
  });
  server.unref(); // the container keeps the runtime alive, not its proxy
  entry.servers.push(server);
}

export async function stopLoopbackProxies(id: string): Promise<void> {
  const entry = proxies.get(id);
  if (!entry) return;
  proxies.delete(id);
  for (const s of entry.sockets) s.destroy();
  await Promise.all(entry.servers.map((s) => new Promise((resolve) => s.close(resolve))));
}
