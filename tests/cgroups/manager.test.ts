/**
 * The cgroup manager against the real kernel: this machine's version here, and
 * cgroup v2 inside the micro-VM (tests/v2vm.test.ts runs this same file there).
 * The fixture tests (tests/unit/cgroup-managers.test.ts) pin the file writes;
 * these prove the kernel takes them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { CGROUP_ROOT } from '../../src/core/cgroups/detect.js';
import { cgroupMode, makeCgroupParents, openCgroup, type CgroupManager } from '../../src/core/cgroups/index.js';
import { CGROUP_PARENT } from '../../src/core/names.js';
import { createCgroup, v2Files } from '../../solutions/05-cgroups/cgroups.js';
import { skipBecause } from '../support/skip.js';

const mode = cgroupMode();

function sleeper(): { child: ChildProcess; gone: Promise<NodeJS.Signals | null> } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  return { child, gone: new Promise((r) => child.once('exit', (_code, signal) => r(signal))) };
}

describe(`cgroup manager on this kernel (cgroup ${mode})`, function () {
  this.timeout(30_000);
  let cg: CgroupManager;
  const id = `cb-mgr-${process.pid.toString(36)}`;

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (cgroups)');
    if (mode === 'none') skipBecause(this, 'no cgroup filesystem at /sys/fs/cgroup');
  });
  beforeEach(() => (cg = openCgroup(id, { v2Files })));
  afterEach(async () => cg.destroy());

  it('creates the cgroup under the workshop’s parent, and removes it (the parent too, when nothing else is in it)', async function () {
    cg.create();
    expect(cg.exists()).to.equal(true);
    for (const dir of Object.values(cg.dirs)) expect(dir).to.match(new RegExp(`/${CGROUP_PARENT}/${id}$`));
    if (mode === 'v2') {
      const enabled = readFileSync(`/sys/fs/cgroup/${CGROUP_PARENT}/cgroup.subtree_control`, 'utf8');
      for (const c of ['cpu', 'memory', 'pids', 'io']) expect(enabled).to.include(c);
    }
    await cg.destroy();
    expect(cg.exists()).to.equal(false);
    for (const dir of Object.values(cg.dirs)) {
      const parent = dir.replace(`/${id}`, '');
      const others = existsSync(parent)
        ? readdirSync(parent).filter((e) => existsSync(`${parent}/${e}/cgroup.procs`))
        : [];
      if (others.length === 0) expect(existsSync(parent), `${parent} left behind, empty`).to.equal(false);
    }
  });

  it('takes the limits, a process, and reports them back in stats()', async function () {
    cg.create();
    cg.set({ memory: 64 << 20, cpu: { quota: 50000, period: 100000 }, pids: 10 });
    const { child, gone } = sleeper();
    cg.addProcess(child.pid!);
    expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).to.include(`/${CGROUP_PARENT}/${id}`);
    expect(cg.procs()).to.deep.equal([child.pid]);
    const s = cg.stats();
    expect(s.memory).to.include({ limit: 64 << 20, oomKills: 0 });
    expect(s.memory!.usage).to.be.a('number');
    expect(s.pids).to.deep.equal({ current: 1, limit: 10, refused: 0 });
    expect(s.cpu!.usageUsec).to.be.a('number');
    expect(s.frozen).to.equal(false);
    // destroy() kills what is still inside.
    await cg.destroy();
    expect(await gone).to.equal('SIGKILL');
    expect(cg.exists()).to.equal(false);
  });

  it('freezes and thaws the processes inside; a frozen cgroup is still destroyed', async function () {
    cg.create();
    const { child, gone } = sleeper();
    cg.addProcess(child.pid!);
    await cg.freeze();
    expect(cg.frozen()).to.equal(true);
    expect(cg.stats().frozen).to.equal(true);
    await cg.thaw();
    expect(cg.frozen()).to.equal(false);
    await cg.freeze();
    await cg.destroy(); // v1: thaws first, or SIGKILL would wait for ever
    expect(await gone).to.equal('SIGKILL');
  });

  it('a value the kernel refuses is an error naming the file, the value and the errno', function () {
    cg.create();
    // CFS quotas below 1 ms are EINVAL.
    expect(() => cg.set({ cpu: { quota: 500, period: 100000 } })).to.throw(
      mode === 'v2' ? /write "500 100000" to .*cpu\.max: EINVAL/ : /write "500" to .*cpu\.cfs_quota_us: EINVAL/,
    );
  });

  it('v2: a process cannot join the parent, which enables controllers for children ("no internal processes")', function () {
    if (mode !== 'v2') skipBecause(this, `a rule of cgroup v2; this kernel runs cgroup ${mode}`);
    cg.create();
    const { child } = sleeper();
    try {
      const parent = openCgroup(CGROUP_PARENT, { parent: '' });
      expect(() => parent.addProcess(child.pid!)).to.throw(/cgroup\.procs: (EBUSY|EOPNOTSUPP)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a pod: members’ cgroups below the pod’s, no process in the pod’s own (v2), all of it gone with the last leaf', async function () {
    const pod = `cb-pod-mgr${process.pid.toString(36)}`;
    const pause = openCgroup(`${pod}/${pod}`, { v2Files });
    const member = openCgroup(`${pod}/cb-mgr-m${process.pid.toString(36)}`, { v2Files });
    const { child, gone } = sleeper();
    try {
      pause.create();
      if (mode === 'v2') {
        // Lesson 05's own v2 code makes the member's leaf, the runtime the pod's level above it.
        makeCgroupParents(`${pod}/cb-mgr-m${process.pid.toString(36)}`);
        createCgroup(CGROUP_ROOT, `${pod}/cb-mgr-m${process.pid.toString(36)}`);
      } else member.create();
      member.set({ pids: 10 });
      member.addProcess(child.pid!);
      expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).to.include(`/${CGROUP_PARENT}/${pod}/cb-mgr-m`);
      if (mode === 'v2') {
        const podDir = `/sys/fs/cgroup/${CGROUP_PARENT}/${pod}`;
        expect(readFileSync(`${podDir}/cgroup.procs`, 'utf8').trim(), 'no process in the pod’s cgroup').to.equal('');
        for (const c of ['memory', 'pids'])
          expect(readFileSync(`${podDir}/cgroup.subtree_control`, 'utf8')).to.include(c);
        const inner = openCgroup(pod);
        expect(() => inner.addProcess(child.pid!)).to.throw(/cgroup\.procs: (EBUSY|EOPNOTSUPP)/);
      }
      await member.destroy();
      expect(await gone).to.equal('SIGKILL');
      expect(Object.values(pause.dirs).every((d) => existsSync(d.replace(`/${pod}/${pod}`, `/${pod}`)))).to.equal(true);
      await pause.destroy();
      for (const d of Object.values(pause.dirs)) {
        expect(existsSync(d.replace(`/${pod}/${pod}`, `/${pod}`)), 'the pod’s cgroup').to.equal(false);
      }
    } finally {
      child.kill('SIGKILL');
      await member.destroy();
      await pause.destroy();
    }
  });
});
