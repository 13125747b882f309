/**
 * Runs *inside* the cgroup-v2 micro-VM (scripts/v2vm/run.sh), started by
 * tests/v2vm/v2vm.test.ts: the security lesson's device rules on cgroup v2,
 * where there are no devices.* files and the allow list is an eBPF program
 * (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup through
 * bpf(2). A block device node the container makes (mknod is allowed) cannot
 * be opened with the lesson, and can without it; /dev/null works either way;
 * the rest of the lesson (capabilities, no_new_privs, seccomp) holds on this
 * kernel too; nothing is left behind. (Named .vm.ts so the host's suite does
 * not pick it up.)
 */
import { expect } from 'chai';
import { cgroupMode } from '../../src/core/cgroups/index.js';
import type { LoadedLesson } from '../../src/core/lesson.js';
import { trial } from '../../src/workshop/harness.js';
import { load } from '../../src/workshop/loader.js';

const SECURITY = '09-security';
const script = [
  'grep -E "CapEff|NoNewPrivs|Seccomp:" /proc/self/status',
  'mknod /tmp/disk b 7 0 && echo MKNOD',
  'head -c1 /tmp/disk >/dev/null 2>/tmp/err; cat /tmp/err',
  'echo x > /dev/null && echo NULL-OK',
].join('; ');

describe(`the security lesson's device rules on cgroup ${cgroupMode()}`, function () {
  this.timeout(600_000);
  let lessons: LoadedLesson[];
  before(async function () {
    lessons = await load({ kind: 'cumulative', source: 'solutions' });
  });

  it('with the lesson: the block device is refused (EPERM from the eBPF program), /dev/null works, caps/nnp/seccomp hold, nothing left', async function () {
    expect(cgroupMode()).to.equal('v2');
    const t = await trial(lessons, { config: { argv: ['sh', '-c', script] }, timeoutMs: 300_000 });
    expect(t.error, t.error?.message).to.equal(undefined);
    expect(t.stdout).to.include('00000000a80425fb');
    expect(t.stdout).to.match(/NoNewPrivs:\s+1/);
    expect(t.stdout).to.match(/Seccomp:\s+2/);
    expect(t.stdout).to.include('MKNOD');
    expect(t.stdout).to.match(/Operation not permitted/);
    expect(t.stdout).to.include('NULL-OK');
    expect(t.leaks).to.deep.equal([]);
  });

  it('without the lesson: the same open is not refused by the device controller', async function () {
    const without = lessons.filter((l) => l.id !== SECURITY);
    const t = await trial(without, { config: { argv: ['sh', '-c', script] }, timeoutMs: 300_000 });
    expect(t.error, t.error?.message).to.equal(undefined);
    expect(t.stdout).to.include('MKNOD');
    expect(t.stdout).to.not.match(/Operation not permitted/);
    expect(t.leaks).to.deep.equal([]);
  });
});
