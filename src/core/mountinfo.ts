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
import { readFileSync } from 'node:fs';

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
  try {
    return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  } catch {
    return [];
  }
}
