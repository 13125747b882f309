/**
 * `cellblock cleanup`: the path logic against fixture trees (v2 and hybrid
 * layouts, no root needed), then the real thing — deliberate leftovers of every
 * kind, decoys with almost-matching names, a live container — and proof that
 * exactly the leftovers go.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cgroupMode } from '../../src/workshop/doctor.js';
import { hostVethName, RUN_DIR } from '../../src/core/names.js';
import { defaultRootfs } from '../../src/core/paths.js';
import {
  cgroupRootsFrom,
  execute,
  findCgroups,
  mountPointsFrom,
  plan,
  type CleanupOps,
  type CleanupResult,
  type CleanupScope,
} from '../../src/workshop/cleanup.js';
import { processStart, type Lease } from '../../src/core/net/ipam.js';
import { cli } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

const HYBRID_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** Records what cleanup would do to the machine, and does nothing. */
function recorder(): { ops: CleanupOps; log: string[] } {
  const log: string[] = [];
  return {
    log,
    ops: {
      kill: (pid) => void log.push(`kill ${pid}`),
      alive: () => false,
      umount: (p) => void log.push(`umount ${p}`),
      deleteNetns: (n) => void log.push(`netns delete ${n}`),
      removeLease: (a, id) => void log.push(`lease remove ${a} ${id}`),
      deleteNat: (r) => void log.push(`nat delete ${r}`),
      deleteLink: (n) => void log.push(`link delete ${n}`),
      killCgroup: (p) => void log.push(`cgroup.kill ${p}`),
      rmdir: (p) => void log.push(`rmdir ${p}`),
      rmrf: (p) => void log.push(`rm -rf ${p}`),
      exists: () => true,
      sleep: () => undefined,
    },
  };
}

function lease(address: string, id: string, runtime: { pid: number; start: number }): Lease {
  return { address, subnet: '10.217.0.0/24', id, hostname: id, pid: 1, runtime, ports: [] };
}

function dnat(id: string, port: string, to: string): string[] {
  return [
    '-A',
    'CELLBLOCK',
    '-p',
    'tcp',
    '-m',
    'tcp',
    '--dport',
    port,
    '-m',
    'comment',
    '--comment',
    `cellblock:${id}`,
    '-j',
    'DNAT',
    '--to-destination',
    to,
  ];
}

function touch(path: string, content = ''): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}

describe('cleanup: finding what the workshop made (fixture trees)', function () {
  let t: string;
  beforeEach(() => {
    t = mkdtempSync(join(tmpdir(), 'cleanup-fixture-'));
  });
  afterEach(() => rmSync(t, { recursive: true, force: true }));

  it('reads every cgroup hierarchy from mountinfo: one on v2, one per controller on hybrid', function () {
    expect(cgroupRootsFrom('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n')).to.deep.equal([
      '/sys/fs/cgroup',
    ]);
    expect(cgroupRootsFrom(HYBRID_MOUNTINFO)).to.deep.equal([
      '/sys/fs/cgroup/cpu',
      '/sys/fs/cgroup/memory',
      '/sys/fs/cgroup/pids',
      '/sys/fs/cgroup/unified',
    ]);
  });

  it('unescapes mount points (\\040 is a space)', function () {
    expect(mountPointsFrom('99 1 0:5 / /tmp/a\\040b rw - tmpfs tmpfs rw\n')).to.deep.equal([
      { path: '/tmp/a b', fstype: 'tmpfs' },
    ]);
  });

  it('v2 layout: finds <root>/cellblock/** children first, and nothing beside it', function () {
    // A v2 tree: interface files at every level, containers one level below the parent.
    touch(join(t, 'cgroup.controllers'), 'cpu memory pids io\n');
    touch(join(t, 'cellblock', 'cgroup.procs'));
    touch(join(t, 'cellblock', 'cgroup.subtree_control'), 'cpu memory pids\n');
    touch(join(t, 'cellblock', 'cb-dead', 'cgroup.procs'), '4242\n4243\n');
    touch(join(t, 'cellblock', 'cb-dead', 'memory.max'), 'max\n');
    touch(join(t, 'cellblock', 'cb-dead', 'leaf', 'cgroup.procs'));
    touch(join(t, 'cellblock', 'cb-live', 'cgroup.procs'));
    touch(join(t, 'cellblockish', 'cgroup.procs')); // a name that only starts like ours
    touch(join(t, 'system.slice', 'cellblock', 'cgroup.procs')); // ours only directly under a root
    const found = findCgroups([t]).map((c) => ({ path: c.path.slice(t.length), id: c.id, pids: c.pids }));
    expect(found).to.deep.equal([
      { path: '/cellblock/cb-dead/leaf', id: 'cb-dead', pids: [] },
      { path: '/cellblock/cb-dead', id: 'cb-dead', pids: [4242, 4243] },
      { path: '/cellblock/cb-live', id: 'cb-live', pids: [] },
      { path: '/cellblock', id: undefined, pids: [] },
    ]);
  });

  it('plans and removes only what is dead, keeps a live container’s, never touches a synced folder', function () {
    const roots = ['memory', 'pids'].map((c) => join(t, 'cg', c));
    for (const r of roots) {
      touch(join(r, 'cellblock', 'cgroup.procs'));
      touch(join(r, 'cellblock', 'cb-dead', 'cgroup.procs'));
      touch(join(r, 'cellblock', 'cb-live', 'cgroup.procs'));
    }
    const scope: CleanupScope = {
      proc: '/proc',
      mountinfo: join(t, 'mountinfo'),
      netnsDir: join(t, 'netns'),
      runDir: join(t, 'run'),
      containersDir: join(t, 'containers'),
      stateDir: join(t, 'checkout', '.cellblock'),
      tmpDir: join(t, 'tmp'),
      initScript: '/nonexistent/init/main.js',
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
          ['-A', 'CELLBLOCK', '-p', 'tcp', '-j', 'RETURN'], // not a container's: no comment
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
    };
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
    const results = execute(p, ops);
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
          `nat ${dnat('cb-dead', '8080', '10.217.0.2:80').join(' ')}`,
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
      `veth ${hostVethName('cb-live')}`,
      `veth ${hostVethName('cb-net')}`,
      `nat ${dnat('cb-net', '8081', '10.217.0.3:80').join(' ')}`,
      'nat chain CELLBLOCK',
      'bridge cellblock0',
      'cgroup /cg/memory/cellblock/cb-live',
      'cgroup /cg/pids/cellblock/cb-live',
      'cgroup /cg/memory/cellblock',
      'cgroup /cg/pids/cellblock',
      'dir /containers/cb-live',
    ]);
    // Deepest mount first: the rootfs's proc before the rootfs.
    const umounts = log.filter((l) => l.startsWith('umount')).map((l) => l.replace(t, ''));
    expect(umounts.indexOf('umount /checkout/.cellblock/rootfs/proc')).to.be.lessThan(
      umounts.indexOf('umount /checkout/.cellblock/rootfs'),
    );
    // Never the synced folder, its node_modules bind, a stranger's tmp dir, a non-veth link.
    expect(log.join('\n')).to.not.match(
      /umount .*\/checkout\n|node_modules|other-x1|cbvnotaveth|netns delete other|eth0/,
    );
  });

  it('kills the processes of a dead container’s cgroup (and only those)', function () {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const root = join(t, 'pids');
      touch(join(root, 'cellblock', 'cgroup.procs'));
      touch(join(root, 'cellblock', 'cb-gone', 'cgroup.procs'), `${sleeper.pid}\n${process.pid}\n`);
      const p = plan({
        proc: '/proc',
        mountinfo: join(t, 'none'),
        netnsDir: join(t, 'netns'),
        runDir: join(t, 'run'),
        containersDir: join(t, 'containers'),
        stateDir: join(t, 'state'),
        tmpDir: join(t, 'tmp'),
        initScript: '/nonexistent',
        cgroupRoots: [root],
        links: () => [],
        states: () => [],
        leases: () => [],
        nat: () => ({ chain: false, rules: [] }),
      });
      const { ops, log } = recorder();
      execute(p, ops);
      // This test process is listed in the fixture too: cleanup never kills itself or its ancestors.
      expect(log.filter((l) => l.startsWith('kill'))).to.deep.equal([`kill ${sleeper.pid}`]);
      expect(log).to.include(`rmdir ${join(root, 'cellblock', 'cb-gone')}`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a dry run lists and removes nothing', function () {
    const root = join(t, 'pids');
    touch(join(root, 'cellblock', 'cgroup.procs'));
    const p = plan({
      proc: '/proc',
      mountinfo: join(t, 'none'),
      netnsDir: join(t, 'netns'),
      runDir: join(t, 'run'),
      containersDir: join(t, 'containers'),
      stateDir: join(t, 'state'),
      tmpDir: join(t, 'tmp'),
      initScript: '/nonexistent',
      cgroupRoots: [root],
      links: () => [],
      states: () => [],
      leases: () => [],
      nat: () => ({ chain: false, rules: [] }),
    });
    const { ops, log } = recorder();
    const results = execute(p, ops, { dryRun: true });
    expect(results.map((r) => r.action)).to.deep.equal(['would remove']);
    expect(log).to.deep.equal([]);
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
  return mountPointsFrom(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.path === path);
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
    expect(liveGone.stdout).to.match(/\d+ removed, \d+ kept \(in use\)|Nothing to clean up/);
  });
});
