/**
 * Names: each container's /etc/hosts lists itself and every *named* container
 * on the bridge (`--name`), the way Docker's legacy links did — no DNS server,
 * just a file the C library reads (busybox's static resolver too).
 *
 * The rootfs is shared by every container, so its /etc/hosts cannot be any
 * one container's: the network lesson's init step writes the file on a tmpfs
 * of the container's own and bind-mounts it over /etc/hosts. When a named
 * container starts or ends, the host rewrites the file of every running one
 * through /proc/<pid>/root/etc/hosts — that path goes through the container's
 * own root and mounts, so it reaches the bind-mounted file.
 */
import { readMountinfo } from '../mountinfo.js';
import { closeSync, ftruncateSync, openSync, readFileSync, readlinkSync, statSync, writeSync } from 'node:fs';
import type { Lease } from './ipam.js';

export interface HostsEntry {
  address: string;
  names: string[];
}

/** The file: localhost, then `self`, then the others (by --name only). */
export function hostsFile(self: HostsEntry, others: HostsEntry[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const e of [self, ...others]) {
    const names = [...new Set(e.names)];
    if (names.length > 0) lines.push(`${e.address}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What container `lease` sees in /etc/hosts, given every running lease. */
export function hostsFor(lease: Lease, all: Lease[]): string {
  return hostsFile(
    { address: lease.address, names: [lease.hostname, ...(lease.name ? [lease.name] : [])] },
    all
      .filter((l) => l.id !== lease.id && l.name !== undefined)
      .sort((a, b) => a.name!.localeCompare(b.name!))
      .map((l) => ({ address: l.address, names: [l.name!] })),
  );
}

/**
 * Has the container's own /etc/hosts been mounted yet? Only then does
 * /proc/<pid>/root/etc/hosts lead to *its* file: before its init step ran,
 * the same path is the rootfs's file — or, before pivot_root, the host's own
 * /etc/hosts. So: another mount namespace, another root, and a mount on
 * /etc/hosts in it.
 */
function hostsMounted(pid: number): boolean {
  try {
    if (readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt')) return false;
    const root = statSync(`/proc/${pid}/root/`);
    const host = statSync('/');
    if (root.dev === host.dev && root.ino === host.ino) return false;
    return readMountinfo(pid).some((m) => m.mountPoint === '/etc/hosts');
  } catch {
    return false; // gone
  }
}

/**
 * Rewrite /etc/hosts of every running container in `all` whose file differs.
 * In place (same inode: the bind mount keeps pointing at it). Call under the
 * network lock, so two writers never interleave.
 */
export function refreshHosts(all: Lease[]): void {
  for (const lease of all) {
    if (!hostsMounted(lease.pid)) continue;
    const path = `/proc/${lease.pid}/root/etc/hosts`;
    const content = Buffer.from(hostsFor(lease, all));
    try {
      if (readFileSync(path).equals(content)) continue;
      const fd = openSync(path, 'r+');
      try {
        writeSync(fd, content, 0, content.length, 0);
        ftruncateSync(fd, content.length);
      } finally {
        closeSync(fd);
      }
    } catch {
      // the container ended meanwhile
    }
  }
}
