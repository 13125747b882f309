/**
 * Lesson 04's network across processes, as a learner's terminals would run it:
 * ten `cellblock run` at once take distinct addresses (the lease lock works
 * between processes, not only inside one), a `cellblock run` killed with
 * SIGKILL leaves a stale lease and rule that the next run reclaims, and bad
 * input creates nothing. Traffic: none — addresses are read, not used.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { BRIDGE, hostVethName } from '../../src/core/names.js';
import { liveLeases, readLeases, withNetworkLock } from '../../src/core/net/ipam.js';
import { iptablesInstalled, natRules } from '../../src/core/net/publish.js';
import { hostState, isAlive } from '../../src/workshop/probe.js';
import { cellblock, cellblockAsync } from '../support/cli.js';
import { skipBecause } from '../support/skip.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolve with everything the process printed once `pattern` matches its stdout (or after `ms`). */
function waitFor(child: ChildProcess, pattern: RegExp, ms = 15_000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(out), ms);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

/** No other container of this machine is on the bridge (other test runs may share it). */
const bridgeIsOurs = (): boolean => withNetworkLock(() => liveLeases().length === 0);

describe('cellblock run: the network between processes (lesson 04)', function () {
  this.timeout(60_000);
  let before: string[];
  beforeEach(function () {
    if (!iptablesInstalled()) skipBecause(this, 'iptables is not installed (bash scripts/setup.sh installs it)');
    before = hostState();
  });
  afterEach(function () {
    if (!bridgeIsOurs()) return; // someone else's containers are on the bridge right now
    // The network's part of the host: links, named netns, leases, NAT rules.
    const net = (lines: string[]): string[] => lines.filter((l) => !l.startsWith('mount ') && !l.startsWith('cgroup '));
    expect(net(hostState()), 'host state changed').to.deep.equal(net(before));
  });

  it('ten runs at once get ten distinct addresses, and give them all back', async function () {
    const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
    const children = ports.map((port) =>
      cellblockAsync([
        'run',
        '--solutions',
        '-i',
        '-p',
        `${port}:80`,
        '--',
        'sh',
        '-c',
        'ip -o -4 addr show dev eth0; read _; true',
      ]),
    );
    const outputs = await Promise.all(children.map((c) => waitFor(c, /inet \S+/)));
    const addresses = outputs.map((o) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(o)?.[1]);
    for (const c of children) c.stdin?.end();
    const codes = await Promise.all(children.map(exited));
    expect(codes).to.deep.equal(Array(10).fill(0));
    expect(addresses.every(Boolean), `addresses: ${addresses.join(', ')}`).to.equal(true);
    expect(new Set(addresses).size, `addresses: ${addresses.join(', ')}`).to.equal(10);
    for (const port of ports) expect(natRules().filter((r) => r.args.includes(String(port)))).to.deep.equal([]);
    const left = readLeases().filter((l) => children.some((c) => c.pid === l.runtime.pid));
    expect(
      left.map((l) => `${l.address} of ${l.id}`),
      'leases left',
    ).to.deep.equal([]);
  });

  it('a runtime killed with SIGKILL leaves a stale lease and rule; the next run reclaims them', async function () {
    const port = await freePort();
    const child = cellblockAsync(['run', '--solutions', '-i', '-p', `${port}:80`, '--', 'sh', '-c', 'echo up; read _']);
    await waitFor(child, /up/);
    const lease = readLeases().find((l) => l.runtime.pid === child.pid);
    expect(lease, 'a lease held by the runtime').to.not.equal(undefined);
    child.kill('SIGKILL');
    await exited(child);
    // PR_SET_PDEATHSIG takes the container down; its cleanup never ran.
    for (let i = 0; i < 100 && isAlive(lease!.pid); i++) await sleep(20);
    expect(isAlive(lease!.pid), 'the container died with its runtime').to.equal(false);
    expect(
      readLeases().map((l) => l.id),
      'the stale lease',
    ).to.include(lease!.id);
    expect(
      natRules().some((r) => r.containerId === lease!.id),
      'the stale rule',
    ).to.equal(true);

    const r = cellblock(['run', '--solutions', '--', 'true']);
    expect(r.status, r.stderr).to.equal(0);
    expect(
      readLeases().map((l) => l.id),
      'reclaimed',
    ).to.not.include(lease!.id);
    expect(
      natRules().some((r) => r.containerId === lease!.id),
      'rule removed',
    ).to.equal(false);
    expect(existsSync(`/sys/class/net/${hostVethName(lease!.id)}`), 'veth gone').to.equal(false);
    // The bridge stays for the next container (as docker0 does): `cellblock cleanup` removes it.
    if (bridgeIsOurs()) expect(existsSync(`/sys/class/net/${BRIDGE}`), 'the bridge stays').to.equal(true);
    // What the other lessons' steps left (a cgroup, …) is `cellblock cleanup`'s to remove after a killed runtime.
    const c = cellblock(['cleanup']);
    expect(c.status, c.stderr).to.equal(0);
  });

  const bad: [string[], RegExp][] = [
    [['--subnet', 'banana'], /subnet "banana" is not an IPv4 subnet/],
    [['--ip', '10.99.0.5'], /--ip 10\.99\.0\.5 is not a container address/],
    [['-p', '8080:70000'], /port 70000 is not in 1–65535/],
    [['--net', 'bridged'], /--net "bridged" is not a network mode/],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${args.join(' ')} with nothing created`, function () {
      const r = cellblock(['run', '--solutions', ...args, '--', 'true']);
      expect(r.status).to.equal(125);
      expect(r.stderr).to.match(message);
      expect(r.stderr).to.match(/nothing was created/);
    });
  }

  it('rejects a host port another program listens on, naming it', async function () {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = cellblock(['run', '--solutions', '-p', `${port}:80`, '--', 'true']);
      expect(r.status).to.equal(125);
      expect(r.stderr).to.match(
        new RegExp(`host port ${port} is taken \\(a program listens on 127\\.0\\.0\\.1:${port}\\)`),
      );
    } finally {
      server.close();
    }
  });
});
