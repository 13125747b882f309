/**
 * Each kernel area's inventory (core/inventory.ts) against fixture trees and
 * given tables: what it finds, whose it says it is, what it leaves alone —
 * no root needed. `cellblock cleanup` end to end is tests/workshop/cleanup.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { cgroupRoots } from '../../src/core/cgroups/detect.js';
import { openCgroup } from '../../src/core/cgroups/index.js';
import { cgroupInventory, listCgroups, type CgroupItem } from '../../src/core/cgroups/inventory.js';
import { hostInventory, systemHostOps } from '../../src/core/host/inventory.js';
import { processStart } from '../../src/core/host/proc.js';
import type { ContainerState } from '../../src/core/host/state.js';
import { imageInventory } from '../../src/core/images/inventory.js';
import { inventoryItems, stages, type InventoryOps, type InventoryScope } from '../../src/core/inventories.js';
import { AlreadyGone, type Inventory, type InventoryItem, type Liveness } from '../../src/core/inventory.js';
import { hostVethName } from '../../src/core/names.js';
import type { Lease } from '../../src/core/net/ipam.js';
import { netInventory } from '../../src/core/net/inventory.js';
import { parseNatTable } from '../../src/core/net/publish.js';
import { FakeCgroupFs } from '../support/fake-cgroupfs.js';
import { fixtureScope, touch } from '../support/inventory-fixture.js';

const nobodyRuns: Liveness = { live: new Map(), ids: new Set(), spared: new Set([1, process.pid]) };

function running(...ids: string[]): Liveness {
  return { ...nobodyRuns, live: new Map(ids.map((id) => [id, `${id} runs`])), ids: new Set(ids) };
}

/** The fixture scope, with CONTAINERS_DIR where names.ts puts it by default: inside .cellblock/. */
const scopeIn = (t: string, more: Partial<InventoryScope> = {}): InventoryScope =>
  fixtureScope(t, { containersDir: join(t, 'checkout', '.cellblock', 'containers'), ...more });

function listed(
  inventory: Inventory<InventoryScope, InventoryOps>,
  kind: string,
  scope: InventoryScope,
  alive = nobodyRuns,
): InventoryItem[] {
  return inventory.kinds.find((k) => k.kind === kind)!.list(scope, alive);
}

/** Items as "kind name [containerId] (shared)", names relative to `t`. */
const show =
  (t: string) =>
  (i: InventoryItem): string =>
    `${i.kind} ${i.name.replace(t, '')}${i.containerId ? ` [${i.containerId}]` : ''}${i.shared ? ' (shared)' : ''}`;

const mountLine = (id: number, path: string, fs = 'tmpfs'): string => `${id} 1 0:9 / ${path} rw - ${fs} ${fs} rw`;

describe('inventories: what each kernel area finds (fixtures)', function () {
  let t: string;
  beforeEach(() => {
    t = mkdtempSync(join(tmpdir(), 'inventory-fixture-'));
  });
  afterEach(() => rmSync(t, { recursive: true, force: true }));

  describe('cgroups', function () {
    it('finds every hierarchy in mountinfo: one on v2, one per controller on hybrid', function () {
      expect(cgroupRoots('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n')).to.deep.equal([
        '/sys/fs/cgroup',
      ]);
      const hybrid = [
        '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
        '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
        '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      ].join('\n');
      expect(cgroupRoots(hybrid)).to.deep.equal([
        '/sys/fs/cgroup/cpu',
        '/sys/fs/cgroup/memory',
        '/sys/fs/cgroup/unified',
      ]);
    });

    it('lists <root>/cellblock/** children first, each with its container and members; the parent last, shared', function () {
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
      const found = listCgroups({ mountinfo: '', cgroupRoots: [t] });
      expect(found.map(show(t))).to.have.members([
        'cgroup /cellblock/cb-dead/leaf [cb-dead]',
        'cgroup /cellblock/cb-dead [cb-dead]',
        'cgroup /cellblock/cb-live [cb-live]',
        'cgroup /cellblock (shared)',
      ]);
      const at = (p: string): number => found.findIndex((c) => c.path === join(t, p));
      expect(at('cellblock/cb-dead/leaf')).to.be.lessThan(at('cellblock/cb-dead'));
      expect(at('cellblock')).to.equal(found.length - 1);
      expect(found[at('cellblock/cb-dead')]!.pids).to.deep.equal([4242, 4243]);
      // The same tree mounted twice is listed once; no parent, nothing.
      expect(listCgroups({ mountinfo: '', cgroupRoots: [t, t, join(t, 'system.slice', 'x')] })).to.have.length(4);
    });

    it('a pod’s cgroup is its pause container’s; each leaf below it is the container it names', function () {
      const fs = FakeCgroupFs.v2();
      try {
        openCgroup('cb-pod-p/cb-pod-p', { mode: 'v2', fs, root: fs.root }).create();
        openCgroup('cb-pod-p/cb-m', { mode: 'v2', fs, root: fs.root }).create();
        const found = listCgroups({ mountinfo: '', cgroupRoots: [fs.root] }).map(
          (c) => `${relative(fs.root, c.path)} ${c.containerId ?? '(shared)'}`,
        );
        expect(found).to.have.members([
          'cellblock/cb-pod-p/cb-pod-p cb-pod-p',
          'cellblock/cb-pod-p/cb-m cb-m',
          'cellblock/cb-pod-p cb-pod-p',
          'cellblock (shared)',
        ]);
        expect(found.indexOf('cellblock/cb-pod-p cb-pod-p'), 'after its leaves (rmdir order)').to.be.greaterThan(
          found.indexOf('cellblock/cb-pod-p/cb-m cb-m'),
        );
      } finally {
        fs.cleanup();
      }
    });

    it('removes a cgroup the way a container’s end does: cgroup.kill, then rmdir; gone is AlreadyGone', async function () {
      const fs = FakeCgroupFs.v2();
      try {
        const cg = openCgroup('cb-x', { mode: 'v2', fs, root: fs.root });
        cg.create();
        cg.addProcess(4242);
        const kind = cgroupInventory.kinds[0]!;
        const item = listCgroups({ mountinfo: '', cgroupRoots: [fs.root] }).find((c) => c.containerId === 'cb-x')!;
        expect(item.pids).to.deep.equal([4242]);
        await kind.remove(item, { cgroupFs: fs }, nobodyRuns);
        expect(fs.writes.at(-1)).to.deep.equal({ path: 'cellblock/cb-x/cgroup.kill', value: '1' });
        expect(cg.exists()).to.equal(false);
        let err: unknown;
        await Promise.resolve(kind.remove(item as CgroupItem, { cgroupFs: fs }, nobodyRuns)).catch((e) => (err = e));
        expect(err).to.be.instanceOf(AlreadyGone);
      } finally {
        fs.cleanup();
      }
    });
  });

  describe('net', function () {
    it('reads the nat table: the chain, the jumps to it, a container’s rules by their comment — nothing else', function () {
      const table = parseNatTable(
        [
          '-P PREROUTING ACCEPT',
          '-N CELLBLOCK',
          '-N DOCKER',
          '-A PREROUTING -m addrtype --dst-type LOCAL -j CELLBLOCK',
          '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
          '-A CELLBLOCK -p tcp -m tcp --dport 8080 -m comment --comment cellblock:cb-a -j DNAT --to-destination 10.217.0.2:80',
          '-A CELLBLOCK -p tcp -j RETURN',
          '-A DOCKER -p tcp -m comment --comment "not ours" -j RETURN',
          '-A OUTPUT -p tcp -m comment --comment "cellblock:cb-b" -j ACCEPT',
        ].join('\n'),
      );
      expect(table.chain).to.equal(true);
      expect(table.rules.map((r) => `${r.chain} ${r.containerId ?? '-'} ${r.args.at(-1)}`)).to.deep.equal([
        'PREROUTING - CELLBLOCK',
        'CELLBLOCK cb-a 10.217.0.2:80',
        'CELLBLOCK - RETURN',
        'OUTPUT cb-b ACCEPT',
      ]);
      expect(table.rules[1]!.args.slice(0, 4)).to.deep.equal(['-p', 'tcp', '-m', 'tcp']);
      expect(parseNatTable('-P OUTPUT ACCEPT\n')).to.deep.equal({ chain: false, rules: [] });
    });

    it('lists named netns, leases, DNAT rules before their chain, veths traced to their container, the bridge', function () {
      touch(join(t, 'netns', 'cellblock-cb-a'));
      touch(join(t, 'netns', 'cellblox-decoy'));
      const stale: Lease = {
        address: '10.217.0.2',
        subnet: '10.217.0.0/24',
        id: 'cb-a',
        hostname: 'a',
        pid: 1,
        runtime: { pid: 999999998, start: 1 },
        ports: [],
      };
      const scope = scopeIn(t, {
        leases: () => [stale],
        nat: () =>
          parseNatTable(
            '-N CELLBLOCK\n-A CELLBLOCK -p tcp --dport 8080 -m comment --comment cellblock:cb-a -j DNAT --to-destination 10.217.0.2:80\n-A CELLBLOCK -j RETURN\n',
          ),
        links: () => [
          { name: hostVethName('cb-a'), kind: 'veth' },
          { name: 'cbv00000000', kind: 'veth' },
          { name: 'cbvdummy', kind: 'dummy' },
          { name: 'cellblock0', kind: 'bridge' },
          { name: 'cellblock1', kind: 'bridge' },
        ],
      });
      const alive = { ...nobodyRuns, ids: new Set(['cb-a']) };
      const items = netInventory.kinds.flatMap((k) => k.list(scope, alive));
      expect(items.map(show(t))).to.deep.equal([
        'netns cellblock-cb-a [cb-a]',
        'lease 10.217.0.2 cb-a [cb-a]',
        'nat -A CELLBLOCK -p tcp --dport 8080 -m comment --comment cellblock:cb-a -j DNAT --to-destination 10.217.0.2:80 [cb-a]',
        'nat chain CELLBLOCK (shared)',
        `veth ${hostVethName('cb-a')} [cb-a]`,
        'veth cbv00000000',
        'bridge cellblock0 (shared)',
      ]);
      const nat = items.filter((i) => i.kind === 'nat');
      expect(nat[0]!.depth, 'a rule is removed before its chain').to.be.greaterThan(nat[1]!.depth ?? 0);
      expect(netInventory.containers!(scope)).to.deep.equal([{ id: 'cb-a' }]);
      const live = { ...stale, runtime: { pid: process.pid, start: processStart(process.pid)! } };
      expect(netInventory.containers!(scopeIn(t, { leases: () => [live] }))[0]!.running).to.match(/live address lease/);
    });
  });

  describe('images', function () {
    it('lists the container directories and the mounts below them, each with its container', function () {
      const scope = scopeIn(t);
      mkdirSync(join(scope.containersDir, 'cb-a', 'upper'), { recursive: true });
      mkdirSync(join(scope.containersDir, 'cb-b'), { recursive: true });
      writeFileSync(
        scope.mountinfo,
        [
          mountLine(1, scope.containersDir, 'ext4'), // the directory itself (the VM's disk)
          mountLine(2, join(scope.containersDir, 'cb-a', 'merged'), 'overlay'),
          mountLine(3, join(t, 'elsewhere')),
        ].join('\n'),
      );
      const found = imageInventory.kinds.flatMap((k) => k.list(scope, nobodyRuns));
      expect(found.map(show(t))).to.have.members([
        'mount /checkout/.cellblock/containers/cb-a/merged [cb-a]',
        'dir /checkout/.cellblock/containers/cb-a [cb-a]',
        'dir /checkout/.cellblock/containers/cb-b [cb-b]',
      ]);
    });
  });

  describe('host', function () {
    const state = (id: string, more: Partial<ContainerState> = {}): ContainerState => ({
      id,
      pid: 999999999,
      runtimePid: 999999998,
      rootfs: '/',
      startedAt: new Date().toISOString(),
      ...more,
    });

    it('knows which containers run from their state files: a runtime that is a living Node process', function () {
      const scope = scopeIn(t, { states: () => [state('cb-live', { runtimePid: process.pid }), state('cb-dead')] });
      expect(hostInventory.containers!(scope)).to.deep.equal([
        { id: 'cb-live', running: `container cb-live is running (runtime pid ${process.pid})` },
        { id: 'cb-dead' },
      ]);
      expect(listed(hostInventory, 'state', scope).map(show(t))).to.deep.equal([
        'state /run/cb-live.json [cb-live]',
        'state /run/cb-dead.json [cb-dead]',
      ]);
    });

    it("a container's idmapped layers: the mounts and their mount points, by its id; the points removed one rmdir at a time", async function () {
      const scope = scopeIn(t);
      const point = join(scope.stateDir, 'idmap', 'cb-u', '0');
      mkdirSync(point, { recursive: true });
      writeFileSync(scope.mountinfo, mountLine(7, point, 'ext4'));
      expect(listed(hostInventory, 'mount', scope).map(show(t))).to.deep.equal([
        'mount /checkout/.cellblock/idmap/cb-u/0 [cb-u]',
      ]);
      const dirs = listed(hostInventory, 'idmap dir', scope);
      expect(dirs.map(show(t))).to.deep.equal(['idmap dir /checkout/.cellblock/idmap/cb-u [cb-u]']);
      // The real operation: empty mount points go; a file in one (a mount still attached) stops it.
      const ops = await systemHostOps();
      touch(join(point, 'file'));
      expect(() => ops.rmdirTree((dirs[0] as InventoryItem & { path: string }).path)).to.throw(/ENOTEMPTY/);
      rmSync(join(point, 'file'));
      ops.rmdirTree((dirs[0] as InventoryItem & { path: string }).path);
      expect(listed(hostInventory, 'idmap dir', scope)).to.deep.equal([]);
    });

    it('claims the mounts below .cellblock/ (but the containers dir), RUN_DIR, cellblock-* tmp dirs, a dead rootfs', function () {
      const scope = scopeIn(t, {
        states: () => [
          state('cb-live', { runtimePid: process.pid, rootfs: join(t, 'live') }),
          state('cb-dead', { rootfs: join(t, 'dead') }),
        ],
      });
      writeFileSync(
        scope.mountinfo,
        [
          mountLine(1, join(t, 'checkout')),
          mountLine(2, join(t, 'checkout', '.cellblock', 'rootfs', 'proc'), 'proc'),
          mountLine(3, join(scope.containersDir, 'cb-a', 'merged'), 'overlay'),
          mountLine(4, join(t, 'run', 'x')),
          mountLine(5, join(t, 'tmp', 'cellblock-q', 'm')),
          mountLine(6, join(t, 'tmp', 'other-q', 'm')),
          mountLine(7, join(t, 'dead', 'proc'), 'proc'),
          mountLine(8, join(t, 'live', 'proc'), 'proc'),
        ].join('\n'),
      );
      expect(listed(hostInventory, 'mount', scope, running('cb-live')).map(show(t))).to.deep.equal([
        'mount /checkout/.cellblock/rootfs/proc',
        'mount /run/x',
        'mount /tmp/cellblock-q/m',
        'mount /dead/proc [cb-dead]',
      ]);
    });

    describe('processes', function () {
      const procs: ChildProcess[] = [];
      after(() => procs.forEach((p) => p.kill('SIGKILL')));
      const sleeper = (): number => {
        const p = spawn('sleep', ['30'], { stdio: 'ignore' });
        procs.push(p);
        return p.pid!;
      };

      it('a dead container’s process only while its start time matches; never a spared one; never for the probe', function () {
        const mine = sleeper();
        const recycled = sleeper();
        const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
        const scope = scopeIn(t, {
          states: () => [
            state('cb-gone', { pid: mine }),
            state('cb-recycled', { pid: recycled, startedAt: hourAgo }), // its pid is another process by now
            state('cb-self', { pid: process.pid }),
          ],
        });
        const found = listed(hostInventory, 'process', scope);
        expect(found.map((p) => p.containerId)).to.deep.equal(['cb-gone']);
        expect(found[0]!.name).to.match(new RegExp(`^${mine} sleep 30$`));
        expect(inventoryItems(scope, nobodyRuns).map((i) => i.kind)).to.include('process');
        expect(inventoryItems(scope, nobodyRuns, { probe: true }).map((i) => i.kind)).to.not.include('process');
      });
    });
  });

  it('every item in removal order: by stage, deeper first within one', function () {
    const scope = scopeIn(t, {
      cgroupRoots: [join(t, 'cg')],
      nat: () => parseNatTable('-N CELLBLOCK\n-A CELLBLOCK -m comment --comment cellblock:cb-a -j RETURN\n'),
    });
    touch(join(t, 'cg', 'cellblock', 'cgroup.procs'));
    touch(join(t, 'cg', 'cellblock', 'cb-a', 'cgroup.procs'));
    mkdirSync(join(scope.containersDir, 'cb-a'), { recursive: true });
    writeFileSync(
      scope.mountinfo,
      [mountLine(1, join(t, 'tmp', 'cellblock-a')), mountLine(2, join(scope.containersDir, 'cb-a', 'merged'))].join(
        '\n',
      ),
    );
    const items = inventoryItems(scope, nobodyRuns);
    expect(items.map(show(t))).to.deep.equal([
      'mount /checkout/.cellblock/containers/cb-a/merged [cb-a]',
      'mount /tmp/cellblock-a',
      'nat -A CELLBLOCK -m comment --comment cellblock:cb-a -j RETURN [cb-a]',
      'nat chain CELLBLOCK (shared)',
      'cgroup /cg/cellblock/cb-a [cb-a]',
      'cgroup /cg/cellblock (shared)',
      'dir /checkout/.cellblock/containers/cb-a [cb-a]',
    ]);
    expect(stages(items).map((s) => s.length)).to.deep.equal([2, 2, 2, 1]);
  });
});
