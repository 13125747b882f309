/**
 * `cellblock cleanup`: the path logic against fixture trees (v2 and hybrid
 * layouts, no root needed), then the real thing — deliberate leftovers of every
 * kind, decoys with almost-matching names, a live container — and proof that
 * exactly the leftovers go.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CgroupFs } from '../../src/core/cgroups/fs.js';
import { processStart } from '../../src/core/host/proc.js';
import { readMountinfo } from '../../src/core/mountinfo.js';
import { hostVethName, RUN_DIR } from '../../src/core/names.js';
import type { Lease } from '../../src/core/net/ipam.js';
import type { NatRule } from '../../src/core/net/publish.js';
import { defaultRootfs } from '../../src/core/paths.js';
import { execute, plan, type CleanupOps, type CleanupResult } from '../../src/workshop/cleanup.js';
import { cgroupMode } from '../../src/workshop/doctor.js';
import { AlreadyGone } from '../../src/core/inventory.js';
import { summaryLine } from '../../src/cli/commands/cleanup.js';
import { cli } from '../support/checkout.js';
import { fixtureScope, touch } from '../support/inventory-fixture.js';
import { skipBecause } from '../support/skip.js';

/** Records what cleanup would do to the machine, and does nothing (cgroupfs is read, never written). */
function recorder(): { ops: CleanupOps; log: string[] } {
  const log: string[] = [];
  const cgroupFs: CgroupFs = {
    read: (p) => readFileSync(p, 'utf8'),
    write: (p, v) => void log.push(`write ${v} > ${p}`),
    mkdir: (p) => void log.push(`mkdir ${p}`),
    rmdir: (p) => void log.push(`rmdir ${p}`),
    exists: (p) => existsSync(p),
    list: (p) => readdirSync(p),
    kill: (pids) => void log.push(...pids.map((pid) => `cgroup member kill ${pid}`)),
  };
  return {
    log,
    ops: {
      kill: (pid) => void log.push(`kill ${pid}`),
      alive: () => false,
      umount: (p) => void log.push(`umount ${p}`),
      rmrf: (p) => void log.push(`rm -rf ${p}`),
      reclaimShim: async (s) => void log.push(`reclaim ${s.id}`),
      detachLoop: (d) => void log.push(`losetup -d ${d}`),
      rmdirTree: (p) => void log.push(`rmdir ${p}/* ${p}`),
      deleteNetns: (n) => void log.push(`netns delete ${n}`),
      ipcRemove: (kind, key) => void log.push(`ipcrm ${kind} ${key}`),
      removeLease: (l) => void log.push(`lease remove ${l.address} ${l.id}`),
      deleteNatRule: (r) => void log.push(`nat delete ${r.chain} ${r.args.join(' ')}`),
      deleteNatChain: () => void log.push('nat delete chain'),
      deleteLink: (n) => void log.push(`link delete ${n}`),
      deleteBridge: () => void log.push('link delete the bridge'),
      cgroupFs,
    },
  };
}

function lease(address: string, id: string, runtime: { pid: number; start: number }): Lease {
  return { address, subnet: '10.217.0.0/24', id, hostname: id, pid: 1, runtime, ports: [] };
}

function dnat(id: string, port: string, to: string): NatRule {
  const args = ['-p', 'tcp', '-m', 'tcp', '--dport', port, '-m', 'comment', '--comment', `cellblock:${id}`];
  return { chain: 'CELLBLOCK', args: [...args, '-j', 'DNAT', '--to-destination', to], containerId: id };
}
const ruleName = (r: NatRule): string => ['-A', r.chain, ...r.args].join(' ');

describe('cleanup: finding what the workshop made (fixture trees)', function () {
  let t: string;
  beforeEach(() => {
    t = mkdtempSync(join(tmpdir(), 'cleanup-fixture-'));
  });
  afterEach(() => rmSync(t, { recursive: true, force: true }));

  it('plans and removes only what is dead, keeps a live container’s, never touches a synced folder', async function () {
    const roots = ['memory', 'pids'].map((c) => join(t, 'cg', c));
    for (const r of roots) {
      touch(join(r, 'cellblock', 'cgroup.procs'));
      touch(join(r, 'cellblock', 'cb-dead', 'cgroup.procs'));
      touch(join(r, 'cellblock', 'cb-live', 'cgroup.procs'));
    }
    const scope = fixtureScope(t, {
      cgroupRoots: roots,
      links: () => [
        { name: 'eth0', kind: '' },
        { name: hostVethName('cb-live'), kind: 'veth' },
        { name: hostVethName('cb-dead'), kind: 'veth' },
        { name: hostVethName('cb-net'), kind: 'veth' },
        { name: 'cbvnotaveth', kind: 'dummy' },
        { name: 'cellblock0', kind: 'bridge' },
      ],
      // cb-net: no state file, but a live address lease (lesson 04); cb-dead's lease is stale.
      leases: () => [
        lease('10.217.0.2', 'cb-dead', { pid: 999999998, start: 1 }),
        lease('10.217.0.3', 'cb-net', { pid: process.pid, start: processStart(process.pid)! }),
      ],
      nat: () => ({
        chain: true,
        rules: [
          dnat('cb-dead', '8080', '10.217.0.2:80'),
          dnat('cb-net', '8081', '10.217.0.3:80'),
          { chain: 'CELLBLOCK', args: ['-p', 'tcp', '-j', 'RETURN'] }, // not a container's: no comment
        ],
      }),
      // A live container: its runtime is this very (node) process.
      states: () => [
        {
          id: 'cb-live',
          pid: 1,
          runtimePid: process.pid,
          rootfs: join(t, 'rootfs'),
          startedAt: new Date().toISOString(),
        },
        { id: 'cb-slash', pid: 1, runtimePid: process.pid, rootfs: '/', startedAt: new Date().toISOString() },
        {
          id: 'cb-dead',
          pid: 999999999,
          runtimePid: 999999998,
          rootfs: join(t, 'r2'),
          startedAt: new Date().toISOString(),
        },
      ],
    });
    touch(join(t, 'netns', 'cellblock-cb-live'));
    touch(join(t, 'netns', 'cellblock-cb-dead'));
    touch(join(t, 'netns', 'other'));
    mkdirSync(join(t, 'containers', 'cb-live', 'upper'), { recursive: true });
    mkdirSync(join(t, 'containers', 'cb-dead', 'upper'), { recursive: true });
    const m = (id: number, path: string, fs: string): string => `${id} 1 0:9 / ${path} rw - ${fs} ${fs} rw`;
    writeFileSync(
      scope.mountinfo,
      [
        m(1, '/', 'ext4'),
        m(2, join(t, 'checkout'), 'vboxsf'), // the synced folder itself
        m(3, join(t, 'checkout', 'node_modules'), 'ext4'), // the VM's bind of node_modules
        m(4, join(t, 'containers', 'cb-dead', 'merged'), 'overlay'),
        m(5, join(t, 'containers', 'cb-live', 'merged'), 'overlay'),
        m(6, join(t, 'checkout', '.cellblock', 'rootfs'), 'ext4'),
        m(7, join(t, 'checkout', '.cellblock', 'rootfs', 'proc'), 'proc'),
        m(8, join(t, 'tmp', 'cellblock-x1', 'm'), 'tmpfs'),
        m(9, join(t, 'tmp', 'other-x1', 'm'), 'tmpfs'),
        m(10, join(t, 'r2', 'proc'), 'proc'), // below a dead container's rootfs
        m(11, join(t, 'rootfs', 'proc'), 'proc'), // below the live one's
      ].join('\n'),
    );

    const p = plan(scope);
    const { ops, log } = recorder();
    const results = await execute(p, ops);
    const by = (a: CleanupResult['action']): string[] =>
      results.filter((r) => r.action === a).map((r) => `${r.kind} ${r.name.replace(t, '')}`);

    expect(by('removed')).to.have.members(
      [
        '/containers/cb-dead/merged',
        '/checkout/.cellblock/rootfs/proc',
        '/checkout/.cellblock/rootfs',
        '/tmp/cellblock-x1/m',
        '/r2/proc',
      ]
        .map((x) => `mount ${x}`)
        .concat([
          'netns cellblock-cb-dead',
          'lease 10.217.0.2 cb-dead',
          `nat ${ruleName(dnat('cb-dead', '8080', '10.217.0.2:80'))}`,
          `veth ${hostVethName('cb-dead')}`,
          'cgroup /cg/memory/cellblock/cb-dead',
          'cgroup /cg/pids/cellblock/cb-dead',
          'dir /containers/cb-dead',
          'state /run/cb-dead.json',
        ]),
    );
    expect(by('kept')).to.have.members([
      'mount /containers/cb-live/merged',
      'netns cellblock-cb-live',
      'lease 10.217.0.3 cb-net',
      `veth ${hostVethName('cb-live')}`,
      `veth ${hostVethName('cb-net')}`,
      `nat ${ruleName(dnat('cb-net', '8081', '10.217.0.3:80'))}`,
      'nat chain CELLBLOCK',
      'bridge cellblock0',
      'cgroup /cg/memory/cellblock/cb-live',
      'cgroup /cg/pids/cellblock/cb-live',
      'cgroup /cg/memory/cellblock',
      'cgroup /cg/pids/cellblock',
      'dir /containers/cb-live',
      'state /run/cb-live.json',
      'state /run/cb-slash.json',
    ]);
    expect(results.filter((r) => r.action !== 'removed' && r.action !== 'kept')).to.deep.equal([]);
    // Kept items say why: whose they are.
    expect(results.find((r) => r.name === 'cellblock-cb-live')!.why).to.match(/cb-live is running/);
    expect(results.find((r) => r.name === '10.217.0.3 cb-net')!.why).to.match(/live address lease/);
    // Deepest mount first: the rootfs's proc before the rootfs.
    const umounts = log.filter((l) => l.startsWith('umount')).map((l) => l.replace(t, ''));
    expect(umounts.indexOf('umount /checkout/.cellblock/rootfs/proc')).to.be.lessThan(
      umounts.indexOf('umount /checkout/.cellblock/rootfs'),
    );
    // In stages: mounts, netns, leases, NAT rules, links, cgroups, dirs, state files.
    const first = (prefix: string): number => log.findIndex((l) => l.startsWith(prefix));
    const order = ['umount', 'netns', 'lease', 'nat', 'link', 'rmdir', 'rm -rf /'].map(first);
    expect(order).to.deep.equal([...order].sort((a, b) => a - b));
    expect(log.at(-1)).to.equal(`rm -rf ${join(t, 'run', 'cb-dead.json')}`);
    // Never the synced folder, its node_modules bind, a stranger's tmp dir, a non-veth link.
    expect(log.join('\n')).to.not.match(
      /umount .*\/checkout\n|node_modules|other-x1|cbvnotaveth|netns delete other|eth0/,
    );
    // Nor what is mounted inside a live container's rootfs (only a dead one's).
    expect(log).to.not.include(`umount ${join(t, 'rootfs', 'proc')}`);
  });

  it('kills the processes of a dead container’s cgroup (and only those)', async function () {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const root = join(t, 'pids');
      touch(join(root, 'cellblock', 'cgroup.procs'));
      touch(join(root, 'cellblock', 'cb-gone', 'cgroup.procs'), `${sleeper.pid}\n${process.pid}\n`);
      const p = plan(fixtureScope(t, { cgroupRoots: [root] }));
      const { ops, log } = recorder();
      await execute(p, ops);
      // This test process is listed in the fixture too: cleanup never kills itself or its ancestors.
      expect(log.filter((l) => l.startsWith('kill'))).to.deep.equal([`kill ${sleeper.pid}`]);
      expect(log.filter((l) => l.includes(`kill ${process.pid}`) || l.includes('cgroup.kill'))).to.deep.equal([]);
      expect(log).to.include(`rmdir ${join(root, 'cellblock', 'cb-gone')}`);
      expect(log.indexOf(`kill ${sleeper.pid}`)).to.be.lessThan(log.indexOf(`rmdir ${join(root, 'cellblock')}`));
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a dry run lists exactly what the real run then removes, and touches nothing', async function () {
    const root = join(t, 'pids');
    touch(join(root, 'cellblock', 'cgroup.procs'));
    touch(join(root, 'cellblock', 'cb-gone', 'cgroup.procs'));
    mkdirSync(join(t, 'containers', 'cb-gone'), { recursive: true });
    touch(join(t, 'netns', 'cellblock-cb-gone'));
    const scope = fixtureScope(t, {
      cgroupRoots: [root],
      links: () => [{ name: hostVethName('cb-gone'), kind: 'veth' }],
      nat: () => ({ chain: true, rules: [dnat('cb-gone', '8080', '10.217.0.9:80')] }),
    });
    const { ops, log } = recorder();
    const dry = await execute(plan(scope), ops, { dryRun: true });
    expect(log).to.deep.equal([]);
    expect(dry.map((r) => r.action)).to.satisfy((a: string[]) => a.every((x) => x === 'would remove'));
    const real = await execute(plan(scope), ops);
    expect(real.map((r) => `${r.action} ${r.kind} ${r.name}`)).to.deep.equal(
      dry.map((r) => `removed ${r.kind} ${r.name}`),
    );
    expect(real).to.have.length(7); // netns, NAT rule and chain, veth, two cgroups, dir
  });

  it('the summary lines agree: what a dry run counts is what the real run accounts for, gone and failed included', async function () {
    const root = join(t, 'pids');
    touch(join(root, 'cellblock', 'cgroup.procs'));
    touch(join(root, 'cellblock', 'cb-gone', 'cgroup.procs'));
    mkdirSync(join(t, 'containers', 'cb-gone'), { recursive: true });
    touch(join(t, 'netns', 'cellblock-cb-gone'));
    const scope = fixtureScope(t, {
      cgroupRoots: [root],
      links: () => [{ name: hostVethName('cb-gone'), kind: 'veth' }],
      nat: () => ({ chain: true, rules: [dnat('cb-gone', '8080', '10.217.0.9:80')] }),
    });
    const { ops } = recorder();
    // One already gone when its turn comes (as a veth's peer), one that fails.
    ops.deleteNetns = () => {
      throw new AlreadyGone('no such network namespace');
    };
    ops.deleteLink = () => {
      throw new Error('RTNETLINK answers: Operation not permitted');
    };
    const dry = summaryLine(await execute(plan(scope), ops, { dryRun: true }), true);
    const real = summaryLine(await execute(plan(scope), ops), false);
    const planned = /^(\d+) to remove/.exec(dry)![1];
    expect(real, `${dry} / ${real}`).to.match(
      new RegExp(`^6 of ${planned} removed \\(1 of them already gone\\), 1 failed`),
    );
  });
});

// ─── the real machine ─────────────────────────────────────────────────────────

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}
function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}
function mounted(path: string): boolean {
  return readMountinfo('self').some((m) => m.mountPoint === path);
}
function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
/** A process that outlives nobody: detached, in its own session. */
function detached(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  c.unref();
  return c;
}
function waitFor(cond: () => boolean, ms = 3000): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    spawnSync('sleep', ['0.05']);
  }
  return cond();
}

interface CleanupJson {
  ok: boolean;
  items: CleanupResult[];
}

describe('cleanup: deliberate leftovers on this machine', function () {
  this.timeout(60_000);
  const tag = randomBytes(3).toString('hex');
  const names = {
    // The workshop's names…
    veth: [`cbv${tag}a`, `cbv${tag}b`],
    netns: `cellblock-t${tag}`,
    cgroupId: `cb-t${tag}`,
    deadId: `cb-d${tag}`,
    liveId: `cb-l${tag}`,
    // …and decoys that only look alike.
    decoyVeth: [`cbx${tag}a`, `cbx${tag}b`],
    decoyNetns: `cellblox-${tag}`,
    decoyCgroup: `cbdecoy-${tag}`,
  };
  let tmpMount = '';
  let decoyMount = '';
  let containers = '';
  let cgroupDirs: string[] = [];
  let createdParents: string[] = [];
  let decoyCgroupDirs: string[] = [];
  const procs: ChildProcess[] = [];
  let preexisting: CleanupJson;

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (mounts, cgroups, veth)');
    const mode = cgroupMode();
    if (mode === 'none') skipBecause(this, 'no cgroup filesystem');
    if (spawnSync('ip', ['-V']).status !== 0) skipBecause(this, 'no iproute2');
    preexisting = JSON.parse(cli(['cleanup', '--dry-run', '--json']).stdout) as CleanupJson;
    // cgroup roots: v2 one tree; v1/hybrid the pids and memory hierarchies.
    const roots = mode === 'v2' ? ['/sys/fs/cgroup'] : ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory'];
    cgroupDirs = roots.map((r) => join(r, 'cellblock', names.cgroupId));
    // The parents this test may create (for its live container, which cleanup keeps): removed in after().
    createdParents = roots.map((r) => join(r, 'cellblock')).filter((d) => !existsSync(d));
    decoyCgroupDirs = roots.map((r) => join(r, names.decoyCgroup));
  });

  after(function () {
    for (const p of procs) if (p.pid && alive(p.pid)) quiet('kill', ['-9', String(p.pid)]);
    if (decoyMount) {
      quiet('umount', [decoyMount]);
      rmSync(join(decoyMount, '..'), { recursive: true, force: true });
    }
    if (tmpMount) {
      quiet('umount', [tmpMount]);
      rmSync(join(tmpMount, '..'), { recursive: true, force: true });
    }
    quiet('ip', ['link', 'del', names.veth[0]!]);
    quiet('ip', ['link', 'del', names.decoyVeth[0]!]);
    quiet('ip', ['link', 'del', hostVethName(names.liveId)]);
    quiet('ip', ['netns', 'del', names.netns]);
    quiet('ip', ['netns', 'del', names.decoyNetns]);
    quiet('ip', ['netns', 'del', `cellblock-${names.liveId}`]);
    for (const d of [...decoyCgroupDirs, ...cgroupDirs]) if (existsSync(d)) quiet('rmdir', [d]);
    for (const d of cgroupDirs.map((c) => join(c, '..', names.liveId))) if (existsSync(d)) quiet('rmdir', [d]);
    for (const d of createdParents) if (existsSync(d)) quiet('rmdir', [d]); // fails, harmlessly, if not empty
    rmSync(join(RUN_DIR, `${names.liveId}.json`), { force: true });
    rmSync(join(RUN_DIR, `${names.deadId}.json`), { force: true });
    if (containers) {
      quiet('umount', [join(containers, names.deadId, 'merged')]);
      rmSync(containers, { recursive: true, force: true });
    }
  });

  it('removes exactly the leftovers — mount, overlay dir, cgroup, veth, netns, processes, state — and keeps the rest', function () {
    // A mount under a cellblock-named tmp dir, and its decoy.
    tmpMount = join(mkdtempSync(join(tmpdir(), 'cellblock-')), 'm');
    mkdirSync(tmpMount);
    sh('mount', ['-t', 'tmpfs', 'leftover', tmpMount]);
    decoyMount = join(mkdtempSync(join(tmpdir(), 'decoy-')), 'm');
    mkdirSync(decoyMount);
    sh('mount', ['-t', 'tmpfs', 'decoy', decoyMount]);

    // A cgroup under the cellblock parent, with a process in it; a decoy beside the parent.
    for (const d of [...cgroupDirs, ...decoyCgroupDirs]) mkdirSync(d, { recursive: true });
    const inCgroup = detached('sh', [
      '-c',
      `for d in ${cgroupDirs.join(' ')}; do echo $$ > $d/cgroup.procs; done; exec sleep 300`,
    ]);
    procs.push(inCgroup);

    // A veth pair with the prefix, a netns with the prefix and a process in it; decoys.
    sh('ip', ['link', 'add', names.veth[0]!, 'type', 'veth', 'peer', 'name', names.veth[1]!]);
    sh('ip', ['link', 'add', names.decoyVeth[0]!, 'type', 'veth', 'peer', 'name', names.decoyVeth[1]!]);
    sh('ip', ['netns', 'add', names.netns]);
    sh('ip', ['netns', 'add', names.decoyNetns]);
    const inNetns = detached('ip', ['netns', 'exec', names.netns, 'sleep', '300']);
    procs.push(inNetns);
    const bystander = detached('sleep', ['300']);
    procs.push(bystander);

    // A container whose runtime died: its state file, its process, its overlay dirs (mounted).
    containers = mkdtempSync(join(tmpdir(), 'containers-'));
    const deadDir = join(containers, names.deadId);
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(deadDir, d), { recursive: true });
    sh('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${deadDir}/lower,upperdir=${deadDir}/upper,workdir=${deadDir}/work`,
      join(deadDir, 'merged'),
    ]);
    writeFileSync(join(deadDir, 'merged', 'written-by-the-container'), 'x');
    const orphan = detached('sleep', ['300']);
    procs.push(orphan);
    mkdirSync(RUN_DIR, { recursive: true });
    const exited = spawnSync('true');
    writeFileSync(
      join(RUN_DIR, `${names.deadId}.json`),
      JSON.stringify({
        id: names.deadId,
        pid: orphan.pid,
        runtimePid: exited.pid,
        rootfs: '/',
        startedAt: new Date().toISOString(),
      }),
    );

    // A live container (its runtime: this test process): everything of it stays.
    writeFileSync(
      join(RUN_DIR, `${names.liveId}.json`),
      JSON.stringify({
        id: names.liveId,
        pid: bystander.pid,
        runtimePid: process.pid,
        rootfs: defaultRootfs(),
        startedAt: new Date().toISOString(),
      }),
    );
    const liveCgroups = cgroupDirs.map((c) => join(c, '..', names.liveId));
    for (const d of liveCgroups) mkdirSync(d);
    const liveVeth = hostVethName(names.liveId);
    sh('ip', ['link', 'add', liveVeth, 'type', 'veth', 'peer', 'name', `cbp${tag}l`]);
    mkdirSync(join(containers, names.liveId, 'upper'), { recursive: true });

    const r = cli(['cleanup', '--json'], { env: { CELLBLOCK_CONTAINERS_DIR: containers } });
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    const report = JSON.parse(r.stdout) as CleanupJson;
    const removed = report.items.filter((i) => i.action === 'removed' || i.action === 'gone');
    const kept = report.items.filter((i) => i.action === 'kept').map((i) => i.name);

    const mine = [
      `process ${inCgroup.pid} `,
      `process ${inNetns.pid} `,
      `process ${orphan.pid} `,
      `mount ${tmpMount}`,
      `mount ${join(deadDir, 'merged')}`,
      `netns ${names.netns}`,
      `veth ${names.veth[0]}`,
      `veth ${names.veth[1]}`,
      ...cgroupDirs.map((d) => `cgroup ${d}`),
      `dir ${deadDir}`,
      `state ${join(RUN_DIR, `${names.deadId}.json`)}`,
    ];
    const label = (i: CleanupResult): string => `${i.kind} ${i.name}`;
    for (const m of mine) {
      expect(
        removed.map(label).some((l) => l === m || l.startsWith(m)),
        `${m} not removed: ${JSON.stringify(report.items, null, 1)}`,
      ).to.equal(true);
    }
    // Exactly those: anything else removed was already a leftover before this test began.
    const already = new Set(preexisting.items.map(label));
    const unexpected = removed
      .map(label)
      .filter((l) => !mine.some((m) => l === m || l.startsWith(m)) && !already.has(l));
    expect(unexpected, 'removed although not a leftover of this test').to.deep.equal([]);
    expect(kept).to.include.members([liveVeth, ...liveCgroups, join(containers, names.liveId)]);

    // …and really gone from the machine.
    expect(mounted(tmpMount), 'tmp mount').to.equal(false);
    expect(mounted(join(deadDir, 'merged')), 'overlay mount').to.equal(false);
    expect(existsSync(deadDir), 'overlay dirs').to.equal(false);
    for (const d of cgroupDirs) expect(existsSync(d), d).to.equal(false);
    expect(linkExists(names.veth[0]!) || linkExists(names.veth[1]!), 'veth').to.equal(false);
    expect(existsSync(`/run/netns/${names.netns}`), 'netns').to.equal(false);
    expect(
      waitFor(() => !alive(inCgroup.pid!) && !alive(inNetns.pid!) && !alive(orphan.pid!)),
      'processes',
    ).to.equal(true);

    // The decoys and the live container are untouched.
    expect(mounted(decoyMount), 'decoy mount').to.equal(true);
    expect(linkExists(names.decoyVeth[0]!), 'decoy veth').to.equal(true);
    expect(existsSync(`/run/netns/${names.decoyNetns}`), 'decoy netns').to.equal(true);
    for (const d of decoyCgroupDirs) expect(existsSync(d), d).to.equal(true);
    expect(alive(bystander.pid!), 'bystander process').to.equal(true);
    expect(linkExists(liveVeth), 'live veth').to.equal(true);
    for (const d of liveCgroups) expect(existsSync(d), d).to.equal(true);
    expect(existsSync(join(RUN_DIR, `${names.liveId}.json`))).to.equal(true);
  });

  it('is idempotent: a second run finds none of them', function () {
    const r = cli(['cleanup', '--json'], { env: { CELLBLOCK_CONTAINERS_DIR: containers } });
    expect(r.status, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as CleanupJson;
    const again = report.items.filter((i) => i.action !== 'kept' && i.name.includes(tag));
    expect(again).to.deep.equal([]);
  });

  it('prints one line per item, and says when there is nothing to do', function () {
    const liveGone = cli(['cleanup'], { env: { CELLBLOCK_CONTAINERS_DIR: containers } });
    expect(liveGone.status).to.equal(0);
    expect(liveGone.stdout).to.match(/kept\s+veth\s+cbv/);
    expect(liveGone.stdout).to.match(
      /\d+ removed( \(\d+ of them already gone\))?, \d+ kept \(in use\)|Nothing to clean up/,
    );
  });
});
