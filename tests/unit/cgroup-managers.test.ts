/**
 * Both cgroup managers against a fixture cgroupfs in a temp directory (youki's
 * approach): which directories, which files, which values, in which order. No
 * root needed; the real kernel is tested in tests/cgroups/ (v1 here, v2 in the VM).
 */
import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { openCgroup, type CgroupManager } from '../../src/core/cgroups/index.js';
import type { V1Controller } from '../../src/core/cgroups/detect.js';
import { limitsFromConfig, type Limits } from '../../src/core/cgroups/values.js';
import { v2Files } from '../../solutions/05-cgroups/cgroups.js';
import { FakeCgroupFs } from '../support/fake-cgroupfs.js';
import { testConfig } from '../support/config.js';

const LIMITS: Limits = {
  memory: 52428800,
  memorySwap: 52428800,
  cpu: { quota: 50000, period: 100000 },
  pids: 10,
  io: [{ device: '/dev/loop0', major: 7, minor: 0, writeBps: 1048576 }],
};

describe('cgroup managers (fixture cgroupfs, no root)', function () {
  let fs: FakeCgroupFs;
  afterEach(() => fs.cleanup());

  describe('v1: one directory per controller', function () {
    let cg: CgroupManager;
    beforeEach(() => {
      fs = FakeCgroupFs.v1();
      cg = openCgroup('cb-a', { mode: 'v1', fs, mounts: fs.mounts() as Record<V1Controller, string> });
    });

    it('creates <controller>/cellblock/<id> in every hierarchy', function () {
      cg.create();
      for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'freezer']) {
        expect(fs.exists(`${fs.root}/${c}/cellblock/cb-a`), c).to.equal(true);
      }
      expect(cg.path).to.equal('/cellblock/cb-a');
    });

    it('writes each limit to its v1 file, memory before memsw, period before quota', function () {
      cg.create();
      cg.set(LIMITS);
      expect(fs.writes).to.deep.equal([
        { path: 'memory/cellblock/cb-a/memory.limit_in_bytes', value: '52428800' },
        { path: 'memory/cellblock/cb-a/memory.memsw.limit_in_bytes', value: '52428800' },
        { path: 'cpu/cellblock/cb-a/cpu.cfs_period_us', value: '100000' },
        { path: 'cpu/cellblock/cb-a/cpu.cfs_quota_us', value: '50000' },
        { path: 'pids/cellblock/cb-a/pids.max', value: '10' },
        { path: 'blkio/cellblock/cb-a/blkio.throttle.write_bps_device', value: '7:0 1048576' },
      ]);
    });

    it('"max" limits: memsw -1, pids max', function () {
      cg.create();
      cg.set({ memory: 1 << 24, memorySwap: 'max', pids: 'max' });
      expect(fs.get('memory/cellblock/cb-a/memory.memsw.limit_in_bytes')).to.equal('-1');
      expect(fs.get('pids/cellblock/cb-a/pids.max')).to.equal('max');
    });

    it('writes nothing for limits not asked for', function () {
      cg.create();
      cg.set(limitsFromConfig(testConfig()));
      expect(fs.writes).to.deep.equal([]);
    });

    it('adds the process to every hierarchy', function () {
      cg.create();
      cg.addProcess(4242);
      expect(fs.writes.map((w) => w.path)).to.have.members(
        ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'freezer'].map((c) => `${c}/cellblock/cb-a/cgroup.procs`),
      );
      expect(cg.procs()).to.deep.equal([4242]);
    });

    it('reads stats from the v1 files (cpuacct in ns → µs, "no limit" as max)', function () {
      cg.create();
      fs.set('memory/cellblock/cb-a/memory.usage_in_bytes', '1048576');
      fs.set('memory/cellblock/cb-a/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
      fs.set('cpuacct/cellblock/cb-a/cpuacct.usage', '2500000');
      fs.set('cpu/cellblock/cb-a/cpu.stat', 'nr_periods 10\nnr_throttled 4\nthrottled_time 30000000\n');
      fs.set('pids/cellblock/cb-a/pids.current', '3');
      fs.set('pids/cellblock/cb-a/pids.events', 'max 5\n');
      fs.set(
        'blkio/cellblock/cb-a/blkio.throttle.io_service_bytes',
        '7:0 Read 4096\n7:0 Write 2097152\nTotal 2101248\n',
      );
      expect(cg.stats()).to.deep.equal({
        frozen: false,
        memory: { usage: 1048576, limit: 'max', peak: 0, oomKills: 2 },
        cpu: { usageUsec: 2500, periods: 10, throttledPeriods: 4, throttledUsec: 30000 },
        pids: { current: 3, limit: 'max', refused: 5 },
        io: [{ device: '7:0', readBytes: 4096, writeBytes: 2097152 }],
      });
      expect(cg.oomKills()).to.equal(2);
    });

    it('freezes through freezer.state, and thaws', async function () {
      cg.create();
      await cg.freeze();
      expect(fs.get('freezer/cellblock/cb-a/freezer.state')).to.equal('FROZEN');
      expect(cg.frozen()).to.equal(true);
      await cg.thaw();
      expect(cg.frozen()).to.equal(false);
    });

    it('destroy: thaws first (frozen v1 tasks ignore SIGKILL), kills what is left, removes every directory', async function () {
      cg.create();
      cg.addProcess(4242);
      await cg.freeze();
      await cg.destroy();
      expect(fs.killed).to.deep.equal([4242]);
      expect(fs.writes.filter((w) => w.path.endsWith('freezer.state')).map((w) => w.value)).to.deep.equal([
        'FROZEN',
        'THAWED',
      ]);
      expect(cg.exists()).to.equal(false);
      expect(fs.exists(`${fs.root}/memory/cellblock`), 'the parent goes with its last container').to.equal(false);
      await cg.destroy(); // gone already: nothing to do
    });

    it('the parent stays while another container is in it, or when an instructor capped it', async function () {
      const other = openCgroup('cb-other', { mode: 'v1', fs, mounts: fs.mounts() as Record<V1Controller, string> });
      cg.create();
      other.create();
      await cg.destroy();
      expect(fs.exists(`${fs.root}/memory/cellblock`), 'cb-other is still inside').to.equal(true);
      fs.set('memory/cellblock/memory.limit_in_bytes', String(10 << 30)); // the instructor's cap
      await other.destroy();
      expect(fs.exists(`${fs.root}/memory/cellblock`), 'capped: kept for the next group').to.equal(true);
      fs.set('memory/cellblock/memory.limit_in_bytes', '9223372036854771712');
      cg.create();
      await cg.destroy();
      expect(fs.exists(`${fs.root}/memory/cellblock`), 'uncapped and empty: gone').to.equal(false);
    });

    it('a pod’s container: every level made, cellblock/cb-pod-p/<id>; the pod’s cgroup goes with its last leaf, then the parent', async function () {
      const mounts = fs.mounts() as Record<V1Controller, string>;
      const pause = openCgroup('cb-pod-p/cb-pod-p', { mode: 'v1', fs, mounts });
      const member = openCgroup('cb-pod-p/cb-m', { mode: 'v1', fs, mounts });
      pause.create();
      member.create();
      expect(member.dirs['memory']).to.equal(`${fs.root}/memory/cellblock/cb-pod-p/cb-m`);
      expect(fs.exists(`${fs.root}/pids/cellblock/cb-pod-p/cb-pod-p/cgroup.procs`)).to.equal(true);
      await member.destroy();
      expect(fs.exists(`${fs.root}/memory/cellblock/cb-pod-p`), 'the pause is still in the pod').to.equal(true);
      await pause.destroy();
      expect(fs.exists(`${fs.root}/memory/cellblock/cb-pod-p`), 'the pod’s cgroup').to.equal(false);
      expect(fs.exists(`${fs.root}/memory/cellblock`), 'the workshop’s parent').to.equal(false);
    });

    it('a limit whose controller is not mounted fails, naming it', function () {
      fs.cleanup();
      fs = FakeCgroupFs.v1(['memory', 'cpu', 'cpuacct']);
      cg = openCgroup('cb-a', { mode: 'v1', fs, mounts: fs.mounts() as Record<V1Controller, string> });
      cg.create();
      expect(() => cg.set({ pids: 10 })).to.throw(/the pids controller is not mounted/);
    });

    it('--memory-swap without swap accounting (no memory.memsw.*) fails with what to do', function () {
      cg.create();
      rmSync(`${fs.root}/memory/cellblock/cb-a/memory.memsw.limit_in_bytes`);
      expect(() => cg.set({ memory: 1 << 25, memorySwap: 1 << 25 })).to.throw(
        /does not account swap .* boot with swapaccount=1, or leave --memory-swap out/,
      );
    });
  });

  describe('v2: one tree, controllers enabled top-down', function () {
    let cg: CgroupManager;
    beforeEach(() => {
      fs = FakeCgroupFs.v2();
      cg = openCgroup('cb-b', { mode: 'v2', fs, root: fs.root, v2Files });
    });

    it('creates the parent, enables +cpu +memory +pids +io for its children (from the root first), then the leaf', function () {
      cg.create();
      expect(fs.writes).to.deep.equal([
        { path: 'cgroup.subtree_control', value: '+cpu +memory +pids +io' },
        { path: 'cellblock/cgroup.subtree_control', value: '+cpu +memory +pids +io' },
      ]);
      expect(fs.exists(`${fs.root}/cellblock/cb-b/memory.max`)).to.equal(true);
      expect(cg.dirs).to.deep.equal({ unified: `${fs.root}/cellblock/cb-b` });
    });

    it('enables nothing twice: a second container only makes its leaf', function () {
      cg.create();
      fs.writes.length = 0;
      openCgroup('cb-c', { mode: 'v2', fs, root: fs.root, v2Files }).create();
      expect(fs.writes).to.deep.equal([]);
    });

    it('leaves out a controller the kernel does not offer (its limit then fails with ENOENT)', function () {
      fs.cleanup();
      fs = FakeCgroupFs.v2(['cpu', 'memory', 'pids']);
      cg = openCgroup('cb-b', { mode: 'v2', fs, root: fs.root, v2Files });
      cg.create();
      expect(fs.get('cellblock/cgroup.subtree_control')).to.equal('cpu memory pids');
      expect(() => cg.set({ io: LIMITS.io! })).to.throw(
        /io\.max: ENOENT — no such interface file: is the io controller enabled/,
      );
    });

    it('writes the learner’s v2 files (the reference mapping): one io.max write per device', function () {
      cg.create();
      fs.writes.length = 0;
      cg.set({ ...LIMITS, io: [...LIMITS.io!, { device: '/dev/sda', major: 8, minor: 0, readBps: 2097152 }] });
      expect(fs.writes).to.deep.equal([
        { path: 'cellblock/cb-b/memory.max', value: '52428800' },
        { path: 'cellblock/cb-b/memory.swap.max', value: '0' },
        { path: 'cellblock/cb-b/cpu.max', value: '50000 100000' },
        { path: 'cellblock/cb-b/pids.max', value: '10' },
        { path: 'cellblock/cb-b/io.max', value: '7:0 rbps=max wbps=1048576' },
        { path: 'cellblock/cb-b/io.max', value: '8:0 rbps=2097152 wbps=max' },
      ]);
    });

    it('without a v2 mapping, set() says what is missing', function () {
      cg = openCgroup('cb-b', { mode: 'v2', fs, root: fs.root });
      cg.create();
      expect(() => cg.set(LIMITS)).to.throw(/no v2 limit mapping/);
    });

    it('adds the process with one write to cgroup.procs', function () {
      cg.create();
      fs.writes.length = 0;
      cg.addProcess(4242);
      expect(fs.writes).to.deep.equal([{ path: 'cellblock/cb-b/cgroup.procs', value: '4242' }]);
    });

    it('reads stats from the v2 files', function () {
      cg.create();
      fs.set('cellblock/cb-b/memory.current', '1048576');
      fs.set('cellblock/cb-b/memory.max', '52428800');
      fs.set('cellblock/cb-b/memory.peak', '2097152');
      fs.set('cellblock/cb-b/memory.events', 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n');
      fs.set('cellblock/cb-b/cpu.stat', 'usage_usec 2500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 30000\n');
      fs.set('cellblock/cb-b/pids.current', '3');
      fs.set('cellblock/cb-b/pids.max', '10');
      fs.set('cellblock/cb-b/pids.events', 'max 5\n');
      fs.set('cellblock/cb-b/io.stat', '7:0 rbytes=4096 wbytes=2097152 rios=1 wios=32 dbytes=0 dios=0\n');
      expect(cg.stats()).to.deep.equal({
        frozen: false,
        memory: { usage: 1048576, limit: 52428800, peak: 2097152, oomKills: 1 },
        cpu: { usageUsec: 2500, periods: 10, throttledPeriods: 4, throttledUsec: 30000 },
        pids: { current: 3, limit: 10, refused: 5 },
        io: [{ device: '7:0', readBytes: 4096, writeBytes: 2097152 }],
      });
    });

    it('freezes through cgroup.freeze and waits for cgroup.events "frozen 1"', async function () {
      cg.create();
      await cg.freeze();
      expect(cg.frozen()).to.equal(true);
      await cg.thaw();
      expect(fs.writes.filter((w) => w.path.endsWith('cgroup.freeze')).map((w) => w.value)).to.deep.equal(['1', '0']);
    });

    it('destroy: cgroup.kill for what is left, then rmdir; the parent goes with its last container', async function () {
      cg.create();
      cg.addProcess(4242);
      await cg.destroy();
      expect(fs.writes.at(-1)).to.deep.equal({ path: 'cellblock/cb-b/cgroup.kill', value: '1' });
      expect(cg.exists()).to.equal(false);
      expect(fs.exists(`${fs.root}/cellblock`)).to.equal(false);
    });

    it('a pod’s container: the pod’s cgroup enables the controllers for its leaves and holds no process; it goes with the last leaf', async function () {
      const pause = openCgroup('cb-pod-p/cb-pod-p', { mode: 'v2', fs, root: fs.root, v2Files });
      const member = openCgroup('cb-pod-p/cb-m', { mode: 'v2', fs, root: fs.root, v2Files });
      pause.create();
      member.create();
      expect(fs.writes).to.deep.equal([
        { path: 'cgroup.subtree_control', value: '+cpu +memory +pids +io' },
        { path: 'cellblock/cgroup.subtree_control', value: '+cpu +memory +pids +io' },
        { path: 'cellblock/cb-pod-p/cgroup.subtree_control', value: '+cpu +memory +pids +io' },
      ]);
      expect(fs.exists(`${fs.root}/cellblock/cb-pod-p/cb-m/memory.max`)).to.equal(true);
      member.set(LIMITS);
      pause.addProcess(4242);
      await member.destroy();
      expect(fs.exists(`${fs.root}/cellblock/cb-pod-p`), 'the pause is still in the pod').to.equal(true);
      await pause.destroy();
      expect(fs.exists(`${fs.root}/cellblock/cb-pod-p`), 'the pod’s cgroup').to.equal(false);
      expect(fs.exists(`${fs.root}/cellblock`), 'the workshop’s parent').to.equal(false);
    });

    it('the parent stays when an instructor capped it (memory.max)', async function () {
      cg.create();
      fs.set('cellblock/memory.max', String(10 << 30));
      await cg.destroy();
      expect(fs.exists(`${fs.root}/cellblock`)).to.equal(true);
    });
  });
});
