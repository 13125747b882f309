/**
 * Lesson 04 checks: a network namespace, a veth pair to the bridge, addresses
 * that never collide and are always given back, names, published ports.
 *
 * Everything is looked at from the host: the container's links, addresses and
 * routes through `nsenter --net=/proc/<pid>/ns/net ip -j …`, the host end of
 * the veth in /sys/class/net, the address leases and `iptables-save`. Traffic
 * goes only to loopback and to the containers these checks start (busybox
 * `ping` and Node sockets on the host; the container's own busybox inside,
 * driven through its stdin).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { basename } from 'node:path';
import type { RunningContainer } from '../src/core/host/run.js';
import { BRIDGE, hostVethName } from '../src/core/names.js';
import { contains, defaultSubnet, parseIp, parseSubnet, type Subnet } from '../src/core/net/addr.js';
import { readLeases, sweepNetwork } from '../src/core/net/ipam.js';
import { natRules } from '../src/core/net/publish.js';
import {
  defineChecks,
  expectThat,
  skipCheck,
  startFailure,
  type CheckEnv,
  type CheckResult,
} from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import type { TrialOptions, TrialResult } from '../src/workshop/harness.js';
import { namespacesOf } from '../src/workshop/probe.js';

/** Container `id`'s DNAT rules, as `iptables -S` prints them. */
const rulesOf = (id: string): string[] =>
  natRules()
    .filter((r) => r.containerId === id)
    .map((r) => ['-A', r.chain, ...r.args].join(' '));
/** Container `id`'s address leases, as "10.217.0.2 of <id>". */
const leasesOf = (id: string): string[] =>
  readLeases()
    .filter((l) => l.id === id)
    .map((l) => `${l.address} of ${l.id}`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tag = (): string => randomBytes(3).toString('hex');

function subnet(): Subnet {
  const s = parseSubnet(defaultSubnet());
  if (typeof s === 'string') throw new Error(s);
  return s;
}

// ─── looking from the host ────────────────────────────────────────────────────

interface Link {
  name: string;
  up: boolean;
  /** 'a.b.c.d/p' */
  addrs: string[];
}

interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** `ip -j ARGS` inside the network namespace of `pid`, parsed; [] when it cannot be read. */
function ipJsonIn<T>(pid: number, args: string[]): T[] {
  const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', '-j', ...args], { encoding: 'utf8' });
  try {
    return r.status === 0 ? (JSON.parse(r.stdout) as T[]) : [];
  } catch {
    return [];
  }
}

interface IpAddr {
  ifname: string;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number }[];
}

function linksIn(pid: number): Link[] {
  return ipJsonIn<IpAddr>(pid, ['addr', 'show']).map((l) => ({
    name: l.ifname,
    up: l.flags.includes('UP'),
    addrs: l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  }));
}

/** The host's view of one of its interfaces, from /sys/class/net and `ip -j addr`. */
interface HostLink {
  exists: boolean;
  up: boolean;
  master?: string;
  addrs: string[];
}

function hostLink(name: string): HostLink {
  const dir = `/sys/class/net/${name}`;
  if (!existsSync(dir)) return { exists: false, up: false, addrs: [] };
  let master: string | undefined;
  try {
    master = basename(readlinkSync(`${dir}/master`));
  } catch {
    // not attached to a bridge
  }
  const flags = Number(readFileSync(`${dir}/flags`, 'utf8'));
  const r = spawnSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  let addrs: string[] = [];
  try {
    addrs = (JSON.parse(r.stdout) as IpAddr[])
      .flatMap((l) => l.addr_info)
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`);
  } catch {
    // gone meanwhile
  }
  return { exists: true, up: (flags & 1) === 1, ...(master ? { master } : {}), addrs };
}

/** Everything about one running container's network, read from the host. */
interface NetView {
  ownNs: boolean;
  ns?: string;
  links: Link[];
  routes: Route[];
  veth: HostLink;
  vethName: string;
  bridge: HostLink;
  /** The container's IPv4 address on eth0, if it has one in the subnet. */
  address?: string;
}

function viewOf(c: RunningContainer): NetView {
  const s = subnet();
  const ns = namespacesOf(c.pid).net;
  const links = linksIn(c.pid);
  const eth0 = links.find((l) => l.name === 'eth0');
  const inSubnet = eth0?.addrs.find((a) => contains(s, parseIp(a.split('/')[0]!) ?? 0));
  return {
    ownNs: ns !== undefined && ns !== namespacesOf('self').net,
    ...(ns ? { ns } : {}),
    links,
    routes: ipJsonIn<Route>(c.pid, ['route', 'show']),
    vethName: hostVethName(c.config.id),
    veth: hostLink(hostVethName(c.config.id)),
    bridge: hostLink(BRIDGE),
    ...(inSubnet ? { address: inSubnet.split('/')[0]! } : {}),
  };
}

/** Devices the kernel creates in every new netns when the ip_tunnel modules are loaded (net.core.fb_tunnels_only_for_init_net=0). */
const FALLBACK_TUNNELS = ['sit0', 'tunl0', 'gre0', 'gretap0', 'erspan0', 'ip6tnl0', 'ip6gre0', 'ip_vti0', 'ip6_vti0'];

/** The hint steps of lesson 04's checks: found and concept first, then more precise (the `cellblock hint` counter). */
const steps = (...s: string[]): string => hintSteps('04-net', ...s);

const NO_NETNS_STEPS = [
  "no network namespace yet: the container sees the host's interfaces, addresses and ports (man 7 network_namespaces)",
  "no network namespace yet: cloneFlags' flags go to unshare(2) before the init is spawned — the NET flag is already imported, and --net host is the one case without it",
];

/** The first wiring step that is missing, as the thing to do — or undefined when the container is wired. */
function wiringProblem(v: NetView): string | undefined {
  const s = subnet();
  if (!v.ownNs) return steps(...NO_NETNS_STEPS);
  const eth0 = v.links.find((l) => l.name === 'eth0');
  const lo = v.links.find((l) => l.name === 'lo');
  if (!eth0) {
    return v.veth.exists
      ? steps(
          `${v.vethName} is on the host but there is no eth0 inside: a veth pair's two ends can be born in different namespaces (man 4 veth)`,
          `the peer of a veth takes options of its own — a name and a network namespace, given by a pid (man 8 ip-link, "VETH")`,
        )
      : steps(
          `no eth0 inside and no ${v.vethName} on the host: the cable between the container and the bridge is a veth pair (man 4 veth)`,
          `createVeth: one ip-link "add" of type veth makes both ends; the peer's own options put it in the container, named eth0 (man 8 ip-link, "VETH")`,
        );
  }
  if (!v.bridge.exists)
    return steps(
      `no bridge ${BRIDGE} on the host: the containers' switch is a link of type bridge (man 8 ip-link)`,
      `createBridge runs under the network lock when the bridge is missing: it adds the link, gives it the gateway address, brings it up`,
    );
  if (v.veth.master !== BRIDGE) {
    return steps(
      `${v.vethName} is not plugged into ${BRIDGE}${v.veth.master ? ` (its master is ${v.veth.master})` : ''}: a link joins a bridge when the bridge becomes its master (man 8 ip-link, "master")`,
      `createVeth, after the pair exists: set the host end's master, and its state`,
    );
  }
  if (!v.veth.up)
    return `${v.vethName} (the host end) is down: a new link starts down, and a down port passes nothing (man 8 ip-link, "set … up")`;
  if (!v.bridge.addrs.includes(`${s.gateway}/${s.prefix}`)) {
    return `${BRIDGE} has no address ${s.gateway}/${s.prefix} (found: ${v.bridge.addrs.join(', ') || 'none'}): the bridge's address is the containers' gateway, with the subnet's prefix (man 8 ip-address)`;
  }
  if (!v.bridge.up) return `${BRIDGE} is down: a new link starts down (man 8 ip-link)`;
  if (!lo?.up)
    return steps(
      'lo is down inside: a new network namespace starts with its loopback down, so even 127.0.0.1 is unreachable (man 7 network_namespaces)',
      "the container's links are changed from the host by running ip inside its namespace — ipIn; ip alone would act on the host's lo",
    );
  if (!v.address)
    return steps(
      `eth0 has no address in ${s.cidr}: the lease is the container's address; an address given with its prefix also brings the route to the subnet (man 8 ip-address)`,
      `configureInside receives the leased address and the subnet: the address goes on eth0, through ipIn`,
    );
  if (!eth0.up) return 'eth0 is down inside: a new link starts down (man 8 ip-link), and a down eth0 passes nothing';
  if (!v.routes.some((r) => r.dst === 'default' && r.gateway === s.gateway)) {
    return steps(
      `no default route via ${s.gateway} inside: only the subnet is reachable — everything else needs a gateway, the bridge's address (man 8 ip-route)`,
      "the default route is added inside the container, through ipIn, with the subnet's gateway",
    );
  }
  return undefined;
}

/**
 * The workplace rule: traffic only to loopback and to the namespaces these
 * checks create. An address of the subnet stays on this machine only while the
 * host's route for the subnet is the bridge's (the bridge exists and has the
 * gateway address); with a half-done lesson it would go to the default route
 * instead. Every packet these checks send goes through here.
 */
function staysLocal(address: string): boolean {
  const n = parseIp(address);
  if (n === undefined) return false;
  if (address.startsWith('127.')) return true;
  const s = subnet();
  return contains(s, n) && hostLink(BRIDGE).addrs.includes(`${s.gateway}/${s.prefix}`);
}

/** May the container itself send to the subnet? Only from a namespace of its own, wired to the bridge. */
function wired(v: NetView | undefined): v is NetView {
  return v !== undefined && wiringProblem(v) === undefined;
}

/** A start failure, with the hint for the mistakes this lesson's steps make. */
function failedStart(t: TrialResult): CheckResult | undefined {
  const r = startFailure(t);
  if (!r || !t.error) return r;
  const msg = t.error.message;
  if (/refused: the container .* host's network namespace/.test(msg)) r.hint = steps(...NO_NETNS_STEPS);
  else if (/refused: this would change the host's own/.test(msg))
    r.hint = steps(
      "the runtime refused a command that would have changed the host's own interfaces: the container's side is configured inside its namespace (man 8 ip-netns, man 1 nsenter)",
      'ipIn(pid, …) runs ip inside the namespace of process pid; ip(…) runs it on the host',
    );
  else if (/peer name eth0/.test(msg) && /File exists/.test(msg))
    r.hint =
      "an eth0 already exists where the peer was created — the host's own: is the container in a network namespace of its own?";
  else if (/master/.test(msg) && /Cannot find device/.test(msg))
    r.hint = `the bridge ${BRIDGE} does not exist when the veth is plugged into it: the first container makes it (man 8 ip-link, type bridge)`;
  else if (/NetToolError/.test(t.error.name))
    r.hint = 'read the tool’s own message: it names the command and what failed';
  return r;
}

// ─── talking to the container ─────────────────────────────────────────────────

/**
 * A shell in the container (argv ['sh']) driven through its stdin: each
 * command's output and exit status, read back from its stdout after a marker.
 * Commands run one at a time.
 */
function shell(c: RunningContainer): {
  run(cmd: string, timeoutMs?: number): Promise<{ out: string; status: number }>;
} {
  let seen = '';
  let wake: (() => void) | undefined;
  c.stdout?.on('data', (d: Buffer) => {
    seen += d.toString();
    wake?.();
  });
  let n = 0;
  return {
    async run(cmd, timeoutMs = 6000) {
      const mark = `__cellblock_check_${n++}__`;
      const from = seen.length;
      c.stdin?.write(`${cmd} 2>&1; echo "${mark} $?"\n`);
      const deadline = Date.now() + timeoutMs;
      let at: number;
      while ((at = seen.indexOf(mark, from)) < 0) {
        if (Date.now() > deadline) return { out: seen.slice(from).trim(), status: -1 };
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      const status = Number(/^ (\d+)/.exec(seen.slice(at + mark.length))?.[1] ?? -1);
      return { out: seen.slice(from, at).trim(), status };
    },
  };
}

/** busybox ping from the host: true when one echo came back. */
function pingFromHost(address: string): Promise<boolean> {
  if (!staysLocal(address)) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('busybox', ['ping', '-c', '1', '-W', '2', address], { timeout: 5000 }, (err) => resolve(!err));
  });
}

/** Connect from the host, read until the server closes: its greeting, or the error. */
function fetchFrom(host: string, port: number): Promise<string> {
  if (!staysLocal(host)) return Promise.resolve(`not tried: ${host} would leave this machine (no ${BRIDGE} route)`);
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ host, port });
    const done = (v: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(data.trim() || 'no answer within 3 s'), 3000);
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => done(data.trim()));
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** Wait until something in the container's network namespace listens on `port` (its /proc/<pid>/net/tcp and tcp6). */
async function listening(pid: number, port: number, ms = 4000): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const listens = (file: string): boolean => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .some((l) => l.includes(hex) && / 0A /.test(l));
    } catch {
      return false;
    }
  };
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    if (listens(`/proc/${pid}/net/tcp`) || listens(`/proc/${pid}/net/tcp6`)) return true;
  }
  return false;
}

/** A TCP port nothing listens on right now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ─── the scenarios ────────────────────────────────────────────────────────────

interface Single {
  t: TrialResult;
  view?: NetView;
  hostToContainer?: boolean;
  containerToHost?: { out: string; status: number };
  hosts?: string;
  hostname?: string;
  name: string;
  /** The host end, right after the run (no waiting). */
  vethAfter: boolean;
  /** The bridge was still there after the sweep: another running container's, not this run's to make. */
  bridgeHeld: boolean;
}

/**
 * One named container with a shell: its wiring, both pings, its /etc/hosts.
 * The check holds its network namespace open (an fd on /proc/<pid>/ns/net)
 * until after the run: the namespace then outlives the container, and so does
 * a veth that the cleanup did not delete — the kernel cannot race to remove it.
 */
function single(env: CheckEnv): Promise<Single> {
  return env.once('single', async () => {
    const name = `net-${tag()}`;
    const o: Partial<Single> = { name };
    let pin: number | undefined;
    // The bridge stays between containers (README): one left by an earlier run
    // would hide a createBridge that does nothing. When no container holds a
    // lease, take it down first, as `cellblock cleanup` would, so this run
    // makes it (with others running it stays, and is theirs).
    sweepNetwork();
    o.bridgeHeld = existsSync(`/sys/class/net/${BRIDGE}`);
    try {
      o.t = await env.trial({
        config: { argv: ['sh'], name },
        timeoutMs: 15_000,
        whileRunning: async (c) => {
          pin = openSync(`/proc/${c.pid}/ns/net`, 'r');
          const sh = shell(c);
          o.view = viewOf(c);
          if (o.view.address) o.hostToContainer = await pingFromHost(o.view.address);
          if (wired(o.view)) o.containerToHost = await sh.run(`ping -c 1 -W 2 ${subnet().gateway}`);
          o.hosts = (await sh.run('cat /etc/hosts')).out;
          o.hostname = (await sh.run('hostname')).out;
        },
      });
      o.vethAfter = existsSync(`/sys/class/net/${hostVethName(o.t.config.id)}`);
    } finally {
      if (pin !== undefined) closeSync(pin);
    }
    return o as Single;
  });
}

interface Pair {
  a?: TrialResult;
  b?: TrialResult;
  aView?: NetView;
  bView?: NetView;
  names: [string, string];
  /** "x → y by address/name": ok, or the output */
  pings: { what: string; ok: boolean; out: string }[];
}

/** Two named containers on the bridge; each pings the other by address and by name. */
function pair(env: CheckEnv): Promise<Pair> {
  return env.once('pair', async () => {
    const names: [string, string] = [`alpha-${tag()}`, `beta-${tag()}`];
    const o: Pair = { names, pings: [] };
    o.a = await env.trial({
      config: { argv: ['sh'], name: names[0] },
      timeoutMs: 20_000,
      whileRunning: async (ca) => {
        const a = shell(ca);
        o.aView = viewOf(ca);
        o.b = await env.trial({
          config: { argv: ['sh'], name: names[1] },
          timeoutMs: 15_000,
          whileRunning: async (cb) => {
            const b = shell(cb);
            o.bView = viewOf(cb);
            if (!wired(o.aView) || !wired(o.bView)) return; // the wiring checks say why
            const tries: [string, typeof a, string][] = [
              [`${names[1]} → ${names[0]} by address`, b, o.aView.address!],
              [`${names[1]} → ${names[0]} by name`, b, names[0]],
              [`${names[0]} → ${names[1]} by address`, a, o.bView.address!],
              [`${names[0]} → ${names[1]} by name`, a, names[1]],
            ];
            for (const [what, sh, target] of tries) {
              const r = await sh.run(`ping -c 1 -W 2 ${target}`);
              o.pings.push({ what, ok: r.status === 0, out: r.out.split('\n').slice(-1)[0] ?? '' });
            }
          },
        });
      },
    });
    return o;
  });
}

interface Servers {
  a?: TrialResult;
  b?: TrialResult;
  aView?: NetView;
  bView?: NetView;
  port: number;
  /** host:port → what came back */
  fetched: Record<string, string>;
  aAddress?: string;
  bAddress?: string;
  rulesDuring: string[];
  rulesAfter: string[];
  listeningA: boolean;
  listeningB: boolean;
}

const serve = (who: string): string[] => ['sh', '-c', `nc -ll -p 80 -e echo hello from ${who} & read _`];

/** Two containers both serving port 80, the first also published on a free host port. */
function servers(env: CheckEnv): Promise<Servers> {
  return env.once('servers', async () => {
    const port = await freePort();
    const o: Servers = { port, fetched: {}, rulesDuring: [], rulesAfter: [], listeningA: false, listeningB: false };
    o.a = await env.trial({
      config: { argv: serve('A'), publish: [`${port}:80`] },
      timeoutMs: 20_000,
      whileRunning: async (ca) => {
        o.b = await env.trial({
          config: { argv: serve('B') },
          timeoutMs: 15_000,
          whileRunning: async (cb) => {
            o.aView = viewOf(ca);
            o.bView = viewOf(cb);
            o.aAddress = o.aView.address;
            o.bAddress = o.bView.address;
            o.rulesDuring = rulesOf(ca.config.id);
            if (!wired(o.aView) || !wired(o.bView)) return; // the wiring checks say why
            o.listeningA = await listening(ca.pid, 80);
            o.listeningB = await listening(cb.pid, 80);
            const targets: [string, number][] = [
              [o.aAddress ?? '', 80],
              [o.bAddress ?? '', 80],
              ['127.0.0.1', port],
              [subnet().gateway, port],
            ];
            for (const [host, p] of targets) if (host) o.fetched[`${host}:${p}`] = await fetchFrom(host, p);
          },
        });
      },
    });
    o.rulesAfter = rulesOf(o.a!.config.id);
    return o;
  });
}

const show = (t: TrialResult | undefined): string =>
  !t ? 'not started' : t.error ? `${t.error.name}: ${t.error.message}` : `status ${t.status}`;

/** A bad value: the trial must fail validation, naming `value`, with nothing spawned. */
async function rejected(env: CheckEnv, opts: TrialOptions, value: string, where: string): Promise<CheckResult> {
  const t = await env.trial(opts);
  return expectThat(
    t.error?.name === 'ConfigError' && t.error.message.includes(value) && t.spawned === 0,
    `a ConfigError naming ${value}, and no process spawned`,
    t.error
      ? `${t.error.name}: ${t.error.message} (spawned ${t.spawned})`
      : `it ran: status ${t.status}, spawned ${t.spawned}`,
    `the check for this is in ${where}: it must run before anything is created`,
  );
}

export default defineChecks('04-net', [
  {
    name: 'the container has its own network namespace',
    async run(env) {
      const o = await single(env);
      const host = namespacesOf('self').net;
      return (
        failedStart(o.t) ??
        expectThat(
          o.t.namespaces.net !== undefined && o.t.namespaces.net !== host,
          `a net inode other than the host's ${host}`,
          `${o.t.namespaces.net}`,
          steps(...NO_NETNS_STEPS),
        )
      );
    },
  },
  {
    name: 'inside, `ip link` shows only lo and eth0, both up; eth0 has an address in the subnet and a default route via the bridge',
    async run(env) {
      const o = await single(env);
      const s = subnet();
      if (!o.view) return failedStart(o.t) ?? expectThat(false, 'a running container', show(o.t));
      const v = o.view;
      // The kernel adds its fallback tunnel devices (sit0, tunl0, gre0, …) to
      // every new network namespace once their modules are loaded on the host:
      // they are down, and not the lesson's doing.
      const names = v.links
        .map((l) => l.name)
        .filter((n) => !FALLBACK_TUNNELS.includes(n))
        .sort();
      const eth0 = v.links.find((l) => l.name === 'eth0');
      const route = v.routes.find((r) => r.dst === 'default');
      const found = [
        `links: ${v.links.map((l) => `${l.name} ${l.up ? 'UP' : 'DOWN'}`).join(', ') || 'none'}`,
        `eth0: ${eth0?.addrs.join(' ') || 'no address'}`,
        `default route: ${route ? `via ${route.gateway ?? route.dev}` : 'none'}`,
      ].join('; ');
      const problem = wiringProblem(v);
      return expectThat(
        problem === undefined && names.join(',') === 'eth0,lo',
        `links: lo UP, eth0 UP; eth0: an address in ${s.cidr}; default route: via ${s.gateway}`,
        found,
        problem ?? `only lo and eth0 belong in the container: found ${names.join(', ')}`,
      );
    },
  },
  {
    name: 'the host end of the veth is on cellblock0 while the container runs, and gone right after it ends',
    async run(env) {
      const o = await single(env);
      if (!o.view) return failedStart(o.t) ?? expectThat(false, 'a running container', show(o.t));
      const v = o.view;
      const during = v.veth.exists ? `${v.vethName} (master ${v.veth.master ?? 'none'})` : `no ${v.vethName}`;
      const ok = v.veth.exists && v.veth.master === BRIDGE && !o.vethAfter;
      // Everything fine, but on a bridge another container made: whether
      // createBridge makes one was not seen. Not a pass, and not a failure.
      if (ok && o.bridgeHeld)
        return skipCheck(
          `another container holds ${BRIDGE} (its address lease), so this run could not see your createBridge make it: stop the other containers (other terminals, \`cellblock ps\`) and verify again`,
          `during: ${v.vethName} (master ${BRIDGE}), on a bridge this run made; after: gone`,
        );
      return expectThat(
        ok,
        `during: ${v.vethName} (master ${BRIDGE}); after: gone`,
        `during: ${during}; after: ${o.vethAfter ? 'still there' : 'gone'}`,
        !v.veth.exists || v.veth.master !== BRIDGE
          ? (wiringProblem(v) ?? `${v.vethName} is not on ${BRIDGE} (man 8 ip-link, "master")`)
          : steps(
              `${v.vethName} was still on the host right after the container ended: the kernel removes a veth with its namespace, but asynchronously, some time later (man 4 veth)`,
              'deleteVeth runs in hostCleanup: deleting one end of a pair deletes both (man 8 ip-link, "delete")',
            ),
      );
    },
  },
  {
    name: 'host ↔ container: busybox ping works both ways',
    async run(env) {
      const o = await single(env);
      if (!o.view) return failedStart(o.t) ?? expectThat(false, 'a running container', show(o.t));
      const s = subnet();
      const back = o.containerToHost;
      return expectThat(
        o.hostToContainer === true && back?.status === 0,
        `host → ${o.view.address ?? 'the container'}: reply; container → ${s.gateway}: reply`,
        `host → ${o.view.address ?? '(no address)'}: ${o.hostToContainer ? 'reply' : 'no reply'}; container → ${s.gateway}: ${back?.status === 0 ? 'reply' : (back?.out.split('\n').slice(-1)[0] ?? 'not tried')}`,
        wiringProblem(o.view) ??
          'everything is configured, yet no reply: is a firewall on this machine dropping bridged traffic (iptables -S FORWARD)?',
      );
    },
  },
  {
    name: '/etc/hosts inside lists the container’s own name and hostname',
    async run(env) {
      const o = await single(env);
      if (!o.view) return failedStart(o.t) ?? expectThat(false, 'a running container', show(o.t));
      const line = o.hosts?.split('\n').find((l) => l.split(/\s+/).includes(o.name));
      const ok = line !== undefined && o.view.address !== undefined && line.startsWith(o.view.address);
      return expectThat(
        ok,
        `a line "${o.view.address ?? '<address>'}  ${o.hostname ?? ''} ${o.name}"`,
        line ?? `no line with ${o.name} (${(o.hosts ?? '').split('\n').length} lines)`,
        wiringProblem(o.view) ??
          'the hosts file is written by the given code in hostAfterSpawn and init: did it change?',
      );
    },
  },
  {
    name: 'two containers on the bridge ping each other by address and by name (--name)',
    async run(env) {
      const o = await pair(env);
      const start = failedStart(o.a!) ?? (o.b ? failedStart(o.b) : undefined);
      if (start) return start;
      const failed = o.pings.filter((p) => !p.ok);
      return expectThat(
        o.pings.length === 4 && failed.length === 0,
        'four replies: each way, by address and by name',
        o.pings.length === 0
          ? 'no ping was tried'
          : o.pings.map((p) => `${p.what}: ${p.ok ? 'reply' : p.out || 'no reply'}`).join('; '),
        (o.aView && wiringProblem(o.aView)) ??
          (o.bView && wiringProblem(o.bView)) ??
          (o.aView?.address === o.bView?.address
            ? `both containers have ${o.aView?.address}: every container needs its own address (leaseAddress)`
            : 'by address works but not by name? names come from /etc/hosts: see the given hosts code'),
      );
    },
  },
  {
    name: 'two containers listen on port 80 at once; the host reaches each at its own address',
    async run(env) {
      const o = await servers(env);
      const start = failedStart(o.a!) ?? (o.b ? failedStart(o.b) : undefined);
      if (start) return start;
      const a = o.aAddress ? o.fetched[`${o.aAddress}:80`] : undefined;
      const b = o.bAddress ? o.fetched[`${o.bAddress}:80`] : undefined;
      return expectThat(
        a === 'hello from A' && b === 'hello from B' && o.aAddress !== o.bAddress,
        `${o.aAddress ?? 'A'}:80 → "hello from A", ${o.bAddress ?? 'B'}:80 → "hello from B"`,
        `${o.aAddress ?? '(A: no address)'}:80 → ${a ?? '-'}, ${o.bAddress ?? '(B: no address)'}:80 → ${b ?? '-'}` +
          (!wired(o.aView) || !wired(o.bView)
            ? ' (not tried: the wiring is not complete)'
            : o.listeningA && o.listeningB
              ? ''
              : ' (a server never listened)'),
        (o.aView && wiringProblem(o.aView)) ??
          (o.bView && wiringProblem(o.bView)) ??
          'each container has its own network namespace, hence its own port 80: is the server reachable at its address (ping first)?',
      );
    },
  },
  {
    name: '--publish HOSTPORT:80 — the host reaches the server on 127.0.0.1 and on the bridge address; the DNAT rule goes with the container',
    async run(env) {
      const o = await servers(env);
      if (o.a?.error) return failedStart(o.a)!;
      const gw = subnet().gateway;
      const lo = o.fetched[`127.0.0.1:${o.port}`];
      const br = o.fetched[`${gw}:${o.port}`];
      return expectThat(
        lo === 'hello from A' && br === 'hello from A' && o.rulesDuring.length === 1 && o.rulesAfter.length === 0,
        `127.0.0.1:${o.port} and ${gw}:${o.port} → "hello from A"; one DNAT rule while it runs, none after`,
        `127.0.0.1:${o.port} → ${lo ?? '-'}, ${gw}:${o.port} → ${br ?? '-'}; rules during: ${o.rulesDuring.length}, after: ${o.rulesAfter.length}`,
        o.rulesDuring.length === 0
          ? steps(
              'no DNAT rule for the container while it ran: a published port is a destination-NAT rule in the nat table, rewriting packets for the host port (man 8 iptables-extensions, "DNAT")',
              "publishPort appends the rule dnatRule describes to the workshop's chain (NAT_CHAIN) of the nat table (man 8 iptables, -t and -A)",
            )
          : o.aView && wiringProblem(o.aView)
            ? wiringProblem(o.aView)
            : o.rulesAfter.length > 0
              ? `the rule outlived the container: ${o.rulesAfter[0]} — iptables deletes a rule given the very specification it was added with (man 8 iptables, -D)`
              : br !== 'hello from A'
                ? `the rule is there but ${gw}:${o.port} does not reach the container: check its --dport and --to-destination (${o.rulesDuring[0]})`
                : undefined,
      );
    },
  },
  {
    name: '10 containers at once: distinct addresses; afterwards no veth, no lease and no NAT rule is left',
    async run(env) {
      const N = 10;
      const ports = await Promise.all(Array.from({ length: N }, () => freePort()));
      const addresses: (string | undefined)[] = [];
      let arrived = 0;
      let release!: () => void;
      const all = new Promise<void>((r) => (release = r));
      // …or not longer than this, if one never starts (its own result says why).
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((r) => (timer = setTimeout(r, 12_000)));
      // Each waits until all have their address: they are truly running at the same time.
      const trials = await Promise.all(
        ports.map((port, i) =>
          env.trial({
            config: { argv: ['sh', '-c', 'read _'], publish: [`${port}:80`] },
            timeoutMs: 18_000,
            whileRunning: async (c) => {
              addresses[i] = viewOf(c).address;
              if (++arrived === N) release();
              await Promise.race([all, giveUp]);
            },
          }),
        ),
      );
      clearTimeout(timer);
      const failed = trials.find((t) => t.error);
      if (failed) return failedStart(failed)!;
      const got = addresses.filter((a): a is string => a !== undefined);
      const distinct = new Set(got).size;
      const left = [
        ...trials.map((t) => hostVethName(t.config.id)).filter((v) => existsSync(`/sys/class/net/${v}`)),
        ...trials.flatMap((t) => [...leasesOf(t.config.id), ...rulesOf(t.config.id)]),
      ];
      const dup = got.find((a, i) => got.indexOf(a) !== i);
      return expectThat(
        got.length === N && distinct === N && left.length === 0,
        `${N} distinct addresses; nothing left`,
        `${got.length} addresses, ${distinct} distinct${dup ? ` (${dup} twice)` : ''}; left: ${left.length === 0 ? 'nothing' : left.join(', ')}`,
        got.length < N
          ? 'some containers had no address: see the wiring checks'
          : left.length > 0
            ? 'cleanup must undo every step: the DNAT rules (unpublishPort), the veth (deleteVeth); the given code releases the lease'
            : undefined,
      );
    },
  },
  {
    name: 'a container killed with SIGKILL gives back its address, veth and NAT rule',
    async run(env) {
      const port = await freePort();
      let view: NetView | undefined;
      let lease: string | undefined;
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'read _'], publish: [`${port}:80`] },
        whileRunning: async (c) => {
          view = viewOf(c);
          lease = leasesOf(c.config.id)[0];
          c.kill('SIGKILL');
          await sleep(50);
        },
      });
      if (t.error) return failedStart(t)!;
      const left = [
        ...(existsSync(`/sys/class/net/${hostVethName(t.config.id)}`) ? [hostVethName(t.config.id)] : []),
        ...leasesOf(t.config.id),
        ...rulesOf(t.config.id),
      ];
      return expectThat(
        t.status === 137 && lease !== undefined && left.length === 0,
        `status 137; while running: a lease; after: nothing`,
        `status ${t.status}; while running: ${lease ?? 'no lease'}; after: ${left.join(', ') || 'nothing'}`,
        !view?.ownNs
          ? steps(...NO_NETNS_STEPS)
          : left.length > 0
            ? `left after a SIGKILL: ${left.join(', ')} — hostCleanup runs after any end, a kill too: each of these has an undo step there`
            : undefined,
      );
    },
  },
  {
    name: '--net none: a namespace with only lo, up — no veth on the host',
    async run(env) {
      let view: NetView | undefined;
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'read _'], net: 'none' },
        whileRunning: (c) => {
          view = viewOf(c);
        },
      });
      if (!view) return failedStart(t) ?? expectThat(false, 'a running container', show(t));
      const links = view.links.map((l) => `${l.name} ${l.up ? 'UP' : 'DOWN'}`).join(', ');
      return expectThat(
        view.ownNs && links === 'lo UP' && !view.veth.exists,
        'own namespace; links: lo UP; no veth',
        `${view.ownNs ? 'own namespace' : "the host's namespace"}; links: ${links}; ${view.veth.exists ? view.vethName : 'no veth'}`,
        !view.ownNs
          ? steps(...NO_NETNS_STEPS)
          : links === 'lo DOWN'
            ? steps(
                'lo is down: a new network namespace starts with its loopback down (man 7 network_namespaces)',
                '--net none stops after loopbackUp: it brings lo up inside, through ipIn',
              )
            : undefined,
      );
    },
  },
  {
    name: "--net host: the container shares the host's network namespace (while the default gets its own)",
    async run(env) {
      const t = await env.trial({ config: { argv: ['sh', '-c', 'read _'], net: 'host' } });
      const host = namespacesOf('self').net;
      // Sharing only means something next to a default that does not share:
      // a runtime that never makes a network namespace passes the first half alone.
      const byDefault = (await single(env)).t;
      const ownByDefault = byDefault.namespaces.net !== undefined && byDefault.namespaces.net !== host;
      return (
        failedStart(t) ??
        expectThat(
          t.namespaces.net === host && ownByDefault,
          `--net host: the host's ${host}; by default: a namespace of its own`,
          `--net host: ${t.namespaces.net}; by default: ${ownByDefault ? 'its own' : "the host's"}`,
          !ownByDefault
            ? steps(...NO_NETNS_STEPS)
            : "with --net host the container got a namespace of its own: --net host means sharing the host's (docker run --network host) — cloneFlags receives the config",
        )
      );
    },
  },
  {
    name: 'a malformed subnet is rejected before anything is created, naming it',
    provided: true,
    run: (env) =>
      rejected(
        env,
        { config: { argv: ['true'], subnet: '10.217.0.0/33' } },
        '10.217.0.0/33',
        'src/core/net/validate.ts',
      ),
  },
  {
    name: 'an address outside the subnet is rejected before anything is created, naming it',
    provided: true,
    run: (env) =>
      rejected(env, { config: { argv: ['true'], ip: '192.168.254.7' } }, '192.168.254.7', 'src/core/net/validate.ts'),
  },
  {
    name: 'an address already in use is rejected before anything is created, naming it',
    async run(env) {
      let first: string | undefined;
      let result: CheckResult | undefined;
      const t = await env.trial({
        config: { argv: ['sh', '-c', 'read _'] },
        whileRunning: async (c) => {
          first = viewOf(c).address;
          if (first)
            result = await rejected(env, { config: { argv: ['true'], ip: first } }, first, 'src/core/net/validate.ts');
        },
      });
      return (
        failedStart(t) ??
        result ??
        expectThat(false, 'a first container with an address', 'it has none', 'see the wiring checks above')
      );
    },
  },
  {
    name: 'an invalid port is rejected before anything is created, naming it',
    provided: true,
    run: (env) =>
      rejected(
        env,
        { config: { argv: ['true'], publish: ['8080:70000'] } },
        '70000',
        'src/core/net/publish.ts (parsePublish)',
      ),
  },
  {
    name: 'a host port that is already taken is rejected before anything is created, naming it',
    provided: true,
    async run(env) {
      const server: Server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      try {
        return await rejected(
          env,
          { config: { argv: ['true'], publish: [`${port}:80`] } },
          String(port),
          'src/core/net/validate.ts',
        );
      } finally {
        server.close();
      }
    },
  },
]);
