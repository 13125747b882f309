/**
 * /proc/<pid>/mountinfo, parsed once for everyone (proc(5), "/proc/pid/mountinfo"):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
 *
 * Field 7 is zero or more optional fields, so everything after them is found
 * from the " - " separator. Paths escape space, tab, newline and backslash as
 * \ooo (octal): unescaped here, so callers compare real paths.
 */
import { sep } from 'node:path';
import { STAGE, type InventoryItem, type Kind, type Liveness } from './inventory.js';
import { readText } from './read.js';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The directory of the filesystem that is mounted (field 4): "/" unless it is a bind of a subdirectory. */
  root: string;
  /** Where it is mounted, in this mount namespace (field 5). */
  mountPoint: string;
  /** Per-mount options (field 6): rw/ro, nosuid, … */
  options: string;
  /** Propagation tags (field 7): shared:N, master:N, … */
  optional: string[];
  fstype: string;
  source: string;
  /** Per-superblock options (field 11): for a v1 cgroup, its controllers. */
  superOptions: string;
}

const unescape = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue; // blank or malformed
    out.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      options: fields[5]!,
      optional: fields.slice(6, dash),
      fstype: fields[dash + 1] ?? '',
      source: unescape(fields[dash + 2] ?? ''),
      superOptions: fields[dash + 3] ?? '',
    });
  }
  return out;
}

/** The mounts of `pid`'s mount namespace; none when it cannot be read (the process is gone). */
export function readMountinfo(pid: number | 'self' = 'self'): MountEntry[] {
  return parseMountinfo(readText(`/proc/${pid}/mountinfo`));
}

/** Is `path` strictly below directory `dir`? */
export function isBelow(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

// ─── the mounts an area makes (core/inventory.ts) ─────────────────────────────

export interface MountItem extends InventoryItem {
  kind: 'mount';
  path: string;
  fstype: string;
}

export interface MountOps {
  /** umount2(MNT_DETACH): lazily, since a leftover may still be open by a process just killed. */
  umount(path: string): void;
}

/** Why a mount point is an area's, and whose it is; undefined: not the area's. */
export type MountClaim = (path: string) => { why: string; containerId?: string } | undefined;

/**
 * The mount kind of an area: the mount points in `scope.mountinfo` that the
 * area claims (`claims` reads what it needs once per listing, and returns the
 * claim of one path) — two areas never claim the same one — removed deepest
 * first, whichever area made them: a parent mount is never busy because of a
 * child. A path mounted over twice is listed twice: one umount each.
 */
export function mountKind<S extends { mountinfo: string }>(
  area: string,
  claims: (scope: S, liveness: Liveness) => MountClaim,
): Kind<MountItem, S, MountOps> {
  return {
    kind: 'mount',
    stage: STAGE.mounts,
    list(scope, liveness) {
      const claim = claims(scope, liveness);
      return parseMountinfo(readText(scope.mountinfo)).flatMap((m) => {
        const c = claim(m.mountPoint);
        if (!c) return [];
        const item: MountItem = {
          area,
          kind: 'mount',
          name: m.mountPoint,
          why: `${c.why} (${m.fstype})`,
          path: m.mountPoint,
          fstype: m.fstype,
          depth: m.mountPoint.split('/').length,
          ...(c.containerId !== undefined ? { containerId: c.containerId } : {}),
        };
        return [item];
      });
    },
    remove: (item, ops) => ops.umount(item.path),
  };
}
