/**
 * Idmapped mounts (Linux 5.12+): the new mount API's open_tree(2),
 * mount_setattr(2) and move_mount(2), through syscall(2) — glibc wraps them
 * only since 2.36 (Ubuntu 22.04 has 2.35).
 *
 * An idmapped mount shows a directory with its owners translated through a
 * user namespace's uid_map/gid_map: with "0 100000 65536", a file owned by
 * host root appears owned by 100000 through the mount — which a container
 * root that *is* host 100000 sees as its own uid 0. Nothing on disk changes,
 * and it costs one mount, whatever the number of files (a chown'd copy costs
 * a copy and a chown per file, per range).
 *
 * The kernel's rules, measured (tests/unit and docs: the userns findings):
 *   - only a *detached* clone can be idmapped: open_tree(OPEN_TREE_CLONE),
 *     then mount_setattr, then move_mount to attach it (else EINVAL);
 *   - the initial user namespace cannot be the idmap (EPERM), nor can an
 *     idmapped mount be idmapped again (EPERM);
 *   - overlayfs itself cannot be idmapped (EINVAL): idmap its layers (5.19+);
 *   - only a process with CAP_SYS_ADMIN in the initial user namespace may do
 *     it on a disk filesystem: rootless cannot (EPERM).
 */
import { check, syscall, syscallNumber } from './libc.js';

export const OPEN_TREE_CLONE = 1;
export const OPEN_TREE_CLOEXEC = 0o2000000; // O_CLOEXEC
export const AT_FDCWD = -100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const MOUNT_ATTR_IDMAP = 0x00100000;

/** open_tree(2): with OPEN_TREE_CLONE, an fd for a detached copy of the mount tree at `path`. */
export function open_tree(dfd: number, path: string, flags: number): number {
  return check(
    syscall(syscallNumber('open_tree'), 'int', dfd, 'const char *', path, 'unsigned int', flags),
    'open_tree',
    path,
  );
}

/**
 * mount_setattr(2) with `struct mount_attr { u64 attr_set, attr_clr,
 * propagation, userns_fd }` (32 bytes), filled from the arguments.
 */
export function mount_setattr(
  dfd: number,
  path: string,
  flags: number,
  attr: { attr_set: number; attr_clr?: number; propagation?: number; userns_fd?: number },
): void {
  const buf = Buffer.alloc(32);
  buf.writeBigUInt64LE(BigInt(attr.attr_set), 0);
  buf.writeBigUInt64LE(BigInt(attr.attr_clr ?? 0), 8);
  buf.writeBigUInt64LE(BigInt(attr.propagation ?? 0), 16);
  buf.writeBigUInt64LE(BigInt(attr.userns_fd ?? 0), 24);
  check(
    syscall(
      syscallNumber('mount_setattr'),
      'int',
      dfd,
      'const char *',
      path,
      'unsigned int',
      flags,
      'void *',
      buf,
      'size_t',
      buf.length,
    ),
    'mount_setattr',
    path || undefined,
  );
}

/** move_mount(2): attach a detached mount (from_dfd with MOVE_MOUNT_F_EMPTY_PATH) at `to_path`. */
export function move_mount(from_dfd: number, from_path: string, to_dfd: number, to_path: string, flags: number): void {
  check(
    syscall(
      syscallNumber('move_mount'),
      'int',
      from_dfd,
      'const char *',
      from_path,
      'int',
      to_dfd,
      'const char *',
      to_path,
      'unsigned int',
      flags,
    ),
    'move_mount',
    to_path,
  );
}
