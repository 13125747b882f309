/**
 * User-namespace ranges, maps and kernel support (core/host/userns.ts), and
 * the IPC inventory's parsing: fixtures only, no root needed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  defaultRemapRange,
  mapText,
  parseRange,
  rangesOf,
  remapRangeProblem,
  rootlessMaps,
  usernsSupportProblem,
} from '../../src/core/host/userns.js';
import { hostShmKeys } from '../../src/core/ipc/inventory.js';
import { isWorkshopIpcKey } from '../../src/core/names.js';

describe('user namespaces: ranges, maps, support (fixtures)', function () {
  let t: string;
  let subuid: string;
  let subgid: string;
  beforeEach(() => {
    t = mkdtempSync(join(tmpdir(), 'cellblock-unit-'));
    subuid = join(t, 'subuid');
    subgid = join(t, 'subgid');
    writeFileSync(subuid, 'alice:100000:65536\n# a comment\nbob:165536:65536\n');
    writeFileSync(subgid, 'alice:100000:65536\n');
  });
  afterEach(() => rmSync(t, { recursive: true, force: true }));

  it('parses START:COUNT, and nothing else', function () {
    expect(parseRange('100000:65536')).to.deep.equal({ start: 100000, count: 65536 });
    expect(parseRange('100000')).to.equal(undefined);
    expect(parseRange('-1:5')).to.equal(undefined);
  });

  it('the default remap range starts at 100000, past every subordinate range', function () {
    expect(defaultRemapRange([join(t, 'none'), join(t, 'none')])).to.deep.equal({ start: 100000, count: 65536 });
    // alice 100000:65536 and bob 165536:65536 → the first free 65536-aligned block.
    expect(defaultRemapRange([subuid, subgid])).to.deep.equal({ start: 262144, count: 65536 });
  });

  it('rejects a too-small, host-overlapping, subuid-overlapping or malformed range, naming value and fix', function () {
    const files = [subuid, subgid];
    expect(remapRangeProblem('300000:1000', files)).to.match(/300000:1000: 1000 ids are too few .* at least 65536/);
    expect(remapRangeProblem('1000:65536', files)).to.match(/overlaps the host's own ids .* e\.g\. 262144/);
    expect(remapRangeProblem('150000:65536', files)).to.match(
      /overlaps alice's subordinate range 100000:65536 in .*subuid/,
    );
    expect(remapRangeProblem('4294960000:65536', files)).to.match(/ends past the largest uid/);
    expect(remapRangeProblem('x', files)).to.match(/"x" is not START:COUNT/);
    expect(remapRangeProblem('262144:65536', files)).to.equal(undefined);
  });

  it('says when the kernel has no user namespaces, or they are switched off', function () {
    const proc = join(t, 'proc');
    expect(usernsSupportProblem(proc)).to.match(/no user namespaces .* CONFIG_USER_NS/);
    mkdirSync(join(proc, 'sys/user'), { recursive: true });
    writeFileSync(join(proc, 'sys/user/max_user_namespaces'), '0\n');
    expect(usernsSupportProblem(proc)).to.match(/max_user_namespaces is 0.*sysctl user\.max_user_namespaces=/);
    writeFileSync(join(proc, 'sys/user/max_user_namespaces'), '96365\n');
    expect(usernsSupportProblem(proc)).to.equal(undefined);
  });

  it('rootless maps: the user as root, then the subordinate range when there is one', function () {
    expect(rangesOf({ name: 'alice', uid: 1000 }, subuid)).to.deep.equal([{ start: 100000, count: 65536 }]);
    const none = rootlessMaps({ name: 'carol', uid: 1002, gid: 1002 }, [subuid, subgid]);
    expect(none.helper).to.equal(false);
    expect(mapText(none.uid)).to.equal('0 1002 1\n');
    const chosen = rootlessMaps({ name: 'alice', uid: 1000, gid: 1000 }, [subuid, subgid], {
      start: 100000,
      count: 65536,
    });
    // With newuidmap installed, the range follows as ids 1…; without it, only uid 0 exists inside.
    expect(mapText(chosen.uid)).to.equal(chosen.helper ? '0 1000 1\n1 100000 65536\n' : '0 1000 1\n');
  });
});

describe('IPC inventory: what it reads (fixtures)', function () {
  it('reads System V keys from /proc/sysvipc/shm as 0x%08x, and knows the workshop’s', function () {
    const proc = mkdtempSync(join(tmpdir(), 'cellblock-unit-'));
    try {
      mkdirSync(join(proc, 'sysvipc'));
      writeFileSync(
        join(proc, 'sysvipc/shm'),
        '       key      shmid perms size\n 212926465          0   600 4096\n         0          1   600 4096\n',
      );
      const keys = hostShmKeys(proc);
      expect(keys).to.deep.equal(['0x0cb10001', '0x00000000']);
      expect(keys.map((k) => isWorkshopIpcKey(Number(k)))).to.deep.equal([true, false]);
      expect(hostShmKeys(join(proc, 'nope'))).to.deep.equal([]);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
