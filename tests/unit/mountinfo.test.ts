/** mountinfo parsing: optional fields, the " - " separator, octal escapes. */
import { expect } from 'chai';
import { parseMountinfo, readMountinfo } from '../../src/core/mountinfo.js';

describe('mountinfo', function () {
  it('parses the fields around the optional ones, and unescapes paths', function () {
    const [m, n] = parseMountinfo(
      [
        '36 35 98:0 /mnt1 /my\\040disk rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue',
        '40 25 0:34 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
        '',
      ].join('\n'),
    );
    expect(m).to.deep.include({
      mountId: 36,
      parentId: 35,
      root: '/mnt1',
      mountPoint: '/my disk',
      options: 'rw,noatime',
      optional: ['master:1', 'shared:7'],
      fstype: 'ext3',
      source: '/dev/root',
      superOptions: 'rw,errors=continue',
    });
    expect(n).to.deep.include({ mountPoint: '/sys/fs/cgroup/memory', optional: [], superOptions: 'rw,memory' });
  });

  it('reads this process’s mounts, and none for a process that is gone', function () {
    expect(readMountinfo('self').some((m) => m.mountPoint === '/')).to.equal(true);
    expect(readMountinfo(2 ** 22 + 1)).to.deep.equal([]);
  });
});
