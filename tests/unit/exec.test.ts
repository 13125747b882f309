/** cellblock exec's pure parts: where a process's cgroups are on this host, and --user. */
import { expect } from 'chai';
import { memberships } from '../../src/core/cgroups/member.js';
import { parseUser } from '../../src/core/host/exec.js';

const MOUNTINFO = [
  '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw',
  '32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:6 - cgroup cgroup rw,xattr,name=systemd',
  '35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory',
  '36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct',
].join('\n');

describe('cellblock exec', function () {
  it('finds each hierarchy of /proc/<pid>/cgroup under its mount point (v1, named, co-mounted, v2)', function () {
    const cgroup = [
      '12:memory:/cellblock/cb-1',
      '4:cpu,cpuacct:/cellblock/cb-1',
      '1:name=systemd:/user.slice',
      '0::/cellblock/cb-1',
      '7:pids:/cellblock/cb-1',
    ].join('\n');
    expect(memberships(cgroup, MOUNTINFO).map((m) => m.dir)).to.deep.equal([
      '/sys/fs/cgroup/memory/cellblock/cb-1',
      '/sys/fs/cgroup/cpu,cpuacct/cellblock/cb-1',
      '/sys/fs/cgroup/systemd/user.slice',
      '/sys/fs/cgroup/unified/cellblock/cb-1',
      undefined, // pids is not mounted in this fixture
    ]);
  });

  it('reads --user as UID[:GID], numbers only', function () {
    expect(parseUser('1000')).to.deep.equal({ uid: 1000, gid: 1000 });
    expect(parseUser('1000:50')).to.deep.equal({ uid: 1000, gid: 50 });
    for (const bad of ['root', '1000:', ':5', '-1', '4294967295', '1:2:3'])
      expect(parseUser(bad), bad).to.equal(undefined);
  });
});
