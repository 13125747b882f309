/**
 * Which cgroups a process is in, as directories of this host: what a process
 * joining a running container (`cellblock exec`) must be moved into.
 *
 * /proc/<pid>/cgroup has one line per hierarchy, `ID:CONTROLLERS:PATH` (man 7
 * cgroups): v1 lines name their controllers ("memory", "cpu,cpuacct",
 * "name=systemd"), the v2 line has none ("0::/cellblock/cb-1"). PATH is
 * relative to the *reader's* cgroup namespace root — read from the host, the
 * whole path, whatever cgroup namespace the process itself made. Each line's
 * directory is that hierarchy's mount point (mountinfo) + PATH.
 */
import { join } from 'node:path';
import { parseMountinfo } from '../mountinfo.js';
import { readText } from '../read.js';

export interface Membership {
  /** "memory", "cpu,cpuacct", "name=systemd"; '' for the v2 hierarchy. */
  controllers: string;
  /** As /proc/<pid>/cgroup shows it, e.g. /cellblock/cb-1a2b. */
  path: string;
  /** The directory on this host, or undefined when the hierarchy is not mounted here. */
  dir?: string;
}

/** Parse /proc/<pid>/cgroup text against mountinfo text (both injectable for tests). */
export function memberships(cgroupText: string, mountinfoText: string): Membership[] {
  const mounts = parseMountinfo(mountinfoText).filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  return cgroupText
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, controllers = '', ...rest] = line.split(':');
      const path = rest.join(':');
      const mount =
        controllers === ''
          ? mounts.find((m) => m.fstype === 'cgroup2')
          : mounts.find(
              (m) =>
                m.fstype === 'cgroup' && controllers.split(',').every((c) => m.superOptions.split(',').includes(c)),
            );
      return { controllers, path, ...(mount ? { dir: join(mount.mountPoint, path) } : {}) };
    });
}

/** The cgroups process `pid` is in, with their directories on this host. */
export function cgroupsOf(pid: number): Membership[] {
  return memberships(readText(`/proc/${pid}/cgroup`), readText('/proc/self/mountinfo'));
}

/**
 * Is process `pid` in a frozen cgroup (`cellblock pause`)? A process moved
 * into it would freeze at once — before it could report back — so joining a
 * paused container must be refused first, as `docker exec` does.
 * v1: freezer.state FROZEN (or FREEZING); v2: cgroup.freeze 1 (asked, frozen or not yet).
 */
export function isFrozen(pid: number): boolean {
  for (const m of cgroupsOf(pid)) {
    if (!m.dir) continue;
    if (m.controllers.split(',').includes('freezer')) {
      if ((readText(join(m.dir, 'freezer.state')).trim() || 'THAWED') !== 'THAWED') return true;
    } else if (m.controllers === '') {
      if (readText(join(m.dir, 'cgroup.freeze')).trim() === '1') return true;
    }
  }
  return false;
}
