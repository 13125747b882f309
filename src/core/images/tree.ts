/**
 * Walking a layer directory: every entry with what makes it what it is, and
 * the layer's content digest.
 *
 * A layer is content-addressed: its id is the sha256 of a canonical listing of
 * its tree — path, type, permission bits, owner, and the content (file bytes,
 * link target, device numbers, overlayfs' opaque mark). Timestamps and inode
 * numbers are left out, so the same content always has the same id, whoever
 * made it and whenever.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { lgetxattr } from '../../native/fs.js';

/** overlayfs marks a directory that hides everything below it in the lower layers (rm -r, then mkdir). */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export type EntryType = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface TreeEntry {
  /** Relative to the tree's root, '/'-separated, no leading slash. */
  path: string;
  type: EntryType;
  stat: Stats;
}

export function entryType(st: Stats): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Every entry below `root` (not root itself), parents before children, names sorted by byte order. */
export function* walkTree(root: string, rel = ''): Generator<TreeEntry> {
  const names = readdirSync(join(root, rel)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const stat = lstatSync(join(root, path));
    const type = entryType(stat);
    yield { path, type, stat };
    if (type === 'dir') yield* walkTree(root, path);
  }
}

/** A whiteout: overlayfs' "deleted here", a character device 0:0 in the upper layer. */
export function isWhiteout(e: { type: EntryType; stat: Stats }): boolean {
  return e.type === 'char' && e.stat.rdev === 0;
}

/** The same mark, as overlayfs writes it when mounted with `userxattr` (in a user namespace). */
export const USER_OPAQUE_XATTR = 'user.overlay.opaque';

export function isOpaque(dir: string): boolean {
  return lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y' || lgetxattr(dir, USER_OPAQUE_XATTR)?.toString() === 'y';
}

const chunk = Buffer.alloc(1 << 20);

/** A file's bytes into the hash, 1 MiB at a time (a layer may hold files of any size). */
function hashFile(h: Hash, path: string): void {
  const fd = openSync(path, 'r');
  try {
    let n: number;
    while ((n = readSync(fd, chunk, 0, chunk.length, null)) > 0) h.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** sha256 (hex) of the tree's canonical listing: see the top of this file. */
export function treeDigest(root: string): string {
  const h = createHash('sha256');
  if (isOpaque(root)) h.update('. opaque\n');
  for (const e of walkTree(root)) {
    const abs = join(root, e.path);
    const perm = (e.stat.mode & 0o7777).toString(8);
    h.update(`${JSON.stringify(e.path)} ${e.type} ${perm} ${e.stat.uid}:${e.stat.gid}`);
    if (e.type === 'file') hashFile(h.update(` ${e.stat.size} `), abs);
    else if (e.type === 'symlink') h.update(` -> ${readlinkSync(abs)}`);
    else if (e.type === 'char' || e.type === 'block') h.update(` ${e.stat.rdev}`);
    else if (e.type === 'dir' && isOpaque(abs)) h.update(' opaque');
    h.update('\n');
  }
  return h.digest('hex');
}

/** Total bytes of regular files in a tree (apparent size), and how many entries it has. */
export function treeSize(root: string): { bytes: number; entries: number } {
  let bytes = 0;
  let entries = 0;
  for (const e of walkTree(root)) {
    entries++;
    if (e.type === 'file') bytes += e.stat.size;
  }
  return { bytes, entries };
}
