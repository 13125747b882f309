/**
 * Safety rails for lesson code running in the init.
 *
 * A lesson step that runs before its namespace exists would act on the *host*:
 * sethostname without CLONE_NEWUTS renames the machine; pivot_root or a
 * MS_PRIVATE remount without CLONE_NEWNS rearranges the host's mounts. On a
 * shared classroom machine that is the worst possible failure of a half-done
 * exercise, so the init hands lessons a `sys` whose namespace-scoped calls first
 * check that the init is no longer in the host's namespace of that kind.
 */
import { readlinkSync } from 'node:fs';
import type { Sys } from '../../native/sys.js';

export type HostNamespaces = Partial<Record<'uts' | 'mnt' | 'net' | 'ipc' | 'pid' | 'cgroup', string>>;

export function readNamespaces(pid: number | 'self' = 'self'): HostNamespaces {
  const out: HostNamespaces = {};
  for (const type of ['uts', 'mnt', 'net', 'ipc', 'pid', 'cgroup'] as const) {
    try {
      out[type] = readlinkSync(`/proc/${pid}/ns/${type}`);
    } catch {
      // a kernel without this namespace type
    }
  }
  return out;
}

export class HostNamespaceError extends Error {
  override readonly name = 'HostNamespaceError';
}

/**
 * `sys` with its namespace-scoped calls refused while still in the host's
 * namespace of that kind. Any implementation of Sys: the libc one in the init,
 * the recording one in the unit tests; every other member passes through.
 */
export function guardedSys(sys: Sys, host: HostNamespaces): Sys {
  const own = (type: keyof HostNamespaces, call: string, flag: string): void => {
    let mine: string;
    try {
      mine = readlinkSync(`/proc/self/ns/${type}`);
    } catch {
      // No /proc in sight: the init has already left the host's root (a lesson
      // pivoted or chrooted — both guarded below — and mounts /proc after).
      return;
    }
    if (host[type] !== undefined && mine === host[type]) {
      throw new HostNamespaceError(
        `refused ${call}: the container is still in the host's ${type} namespace (${mine}), so this would change the host. Ask for ${flag} in cloneFlags first.`,
      );
    }
  };
  return {
    ...sys,
    sethostname: (name) => (own('uts', 'sethostname', 'CLONE_NEWUTS'), sys.sethostname(name)),
    mount: (source, target, fstype, flags, data) => (
      own('mnt', `mount(${target})`, 'CLONE_NEWNS'),
      sys.mount(source, target, fstype, flags, data)
    ),
    umount2: (target, flags) => (own('mnt', `umount2(${target})`, 'CLONE_NEWNS'), sys.umount2(target, flags)),
    pivot_root: (newRoot, putOld) => (own('mnt', 'pivot_root', 'CLONE_NEWNS'), sys.pivot_root(newRoot, putOld)),
    // chroot changes no mount, but the workshop only teaches it inside a mount
    // namespace of its own (lesson 03's --chroot demo): outside one, refuse.
    chroot: (path) => (own('mnt', `chroot(${path})`, 'CLONE_NEWNS'), sys.chroot(path)),
    // Device nodes belong in the container's own /dev tmpfs; outside a mount
    // namespace they would land in the host's (or the shared rootfs') tree.
    mknod: (path, mode, dev) => (own('mnt', `mknod(${path})`, 'CLONE_NEWNS'), sys.mknod(path, mode, dev)),
  };
}
