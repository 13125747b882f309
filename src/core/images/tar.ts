/**
 * Importing a root filesystem tarball (e.g. an Alpine minirootfs) as a
 * one-layer image — safely. A tarball is untrusted input: its entries name
 * paths, and a path can point anywhere. Extraction refuses the whole archive,
 * and leaves nothing behind, when an entry
 *   - is absolute (/etc/passwd) or climbs out with `..` (../../etc/cron.d/x),
 *   - is a device node (a container must not get /dev/sda by unpacking an
 *     image) or another special file,
 *   - would be written *through* a symlink an earlier entry made
 *     (`lib -> /etc`, then `lib/passwd`), or is a hard link to anything outside.
 * Symlinks themselves are kept as they are — `/bin/sh -> /bin/busybox` is
 * normal in a rootfs — but never followed while extracting: every parent
 * directory is checked with lstat, and files are created with O_EXCL (which
 * does not follow a symlink at the final component either).
 *
 * Why a reader of our own instead of the `tar` package: the format part is
 * ~100 lines (ustar, pax and GNU long names, base-256 numbers, gzip via zlib),
 * synchronous and dependency-free; the part that matters — the refusal policy
 * above — would be ours either way, since node-tar's extractor strips or skips
 * unsafe entries with a warning instead of refusing the archive.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_ENV } from '../config.js';
import { ImageError, parseRef, type Image, type ImageStore } from './store.js';

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** As written in the archive (after pax/GNU long-name records). */
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkpath: string;
  data: Buffer;
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** An octal field, or GNU's base-256 when the top bit of the first byte is set. */
function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = str(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** pax extended header records: "<len> <key>=<value>\n"… */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const len = parseInt(data.toString('utf8', i, sp), 10);
    if (sp < 0 || !(len > 0)) throw new ImageError('not a valid tarball: a broken pax header');
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Every entry of an uncompressed tar archive, in order. */
export function* readTar(buf: Buffer): Generator<TarEntry> {
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) return; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== num(h, 148, 8)) throw new ImageError(`not a valid tarball: bad header checksum at byte ${off}`);
    const size = num(h, 124, 12);
    const flag = String.fromCharCode(h[156]!);
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new ImageError('not a valid tarball: it is truncated');
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (flag === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (flag === 'g') continue; // global pax header: nothing we use
    if (flag === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (flag === 'K') {
      longLink = str(data, 0, data.length);
      continue;
    }
    const magic = h.toString('latin1', 257, 262);
    const prefix = magic === 'ustar' ? str(h, 345, 155) : '';
    const name = str(h, 0, 100);
    const type = TYPES[flag];
    const path = pax['path'] ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    if (!type)
      throw new ImageError(
        `refusing the tarball: entry ${JSON.stringify(path)} has an unknown type ${JSON.stringify(flag)}`,
      );
    yield {
      path,
      type,
      mode: num(h, 100, 8) & 0o7777,
      uid: pax['uid'] ? Number(pax['uid']) : num(h, 108, 8),
      gid: pax['gid'] ? Number(pax['gid']) : num(h, 116, 8),
      mtime: pax['mtime'] ? Number(pax['mtime']) : num(h, 136, 12),
      linkpath: pax['linkpath'] ?? longLink ?? str(h, 157, 100),
      data,
    };
    pax = {};
    longName = longLink = undefined;
  }
}

/** The archive's bytes, gunzipped if they are gzip; other compressions are named, not guessed. */
export function tarBytes(file: string, raw: Buffer): Buffer {
  // The smallest tar is one 512-byte block; anything shorter (after gunzip) is not one.
  const tooShort = (b: Buffer): Buffer => {
    if (b.length < 512)
      throw new ImageError(`${file} is not a tar archive (${b.length} bytes): give a rootfs .tar or .tar.gz`);
    return b;
  };
  if (raw.length < 4) return tooShort(raw);
  if (raw[0] === 0x1f && raw[1] === 0x8b) return tooShort(gunzipSync(raw));
  if (raw.subarray(0, 6).toString('latin1') === '\xfd7zXZ\0')
    throw new ImageError(`${file} is xz-compressed: decompress it first (xz -dk ${file})`);
  if (raw.subarray(0, 3).toString('latin1') === 'BZh')
    throw new ImageError(`${file} is bzip2-compressed: decompress it first (bunzip2 -k ${file})`);
  if (raw.readUInt32LE(0) === 0xfd2fb528)
    throw new ImageError(`${file} is zstd-compressed: decompress it first (zstd -d ${file})`);
  return tooShort(raw);
}

/** 'a/./b/' → ['a', 'b']; refuses absolute paths and `..`. */
function safeParts(path: string, what: string, entry: string): string[] {
  if (path.startsWith('/')) {
    throw new ImageError(
      `refusing the tarball: entry ${JSON.stringify(entry)} has an absolute ${what} (${path}): a rootfs tarball holds relative paths`,
    );
  }
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new ImageError(
      `refusing the tarball: entry ${JSON.stringify(entry)} climbs out of the image with ".." in its ${what} (${path})`,
    );
  }
  return parts;
}

/**
 * The parent directories of `parts` inside `root`, created as needed — each
 * checked with lstat, so no write ever goes through a symlink.
 */
function parentDir(root: string, parts: string[], entry: string): string {
  let dir = root;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st) mkdirSync(dir, { mode: 0o755 });
    else if (st.isSymbolicLink()) {
      throw new ImageError(
        `refusing the tarball: entry ${JSON.stringify(entry)} would be written through the symlink ${parts.slice(0, parts.indexOf(p) + 1).join('/')} (a link can point outside the image)`,
      );
    } else if (!st.isDirectory()) {
      throw new ImageError(
        `refusing the tarball: entry ${JSON.stringify(entry)} needs ${p} to be a directory, and an earlier entry made it a file`,
      );
    }
  }
  return dir;
}

/** Unpack every entry into `root` (an empty directory), or throw at the first unsafe one. */
export function extractTar(buf: Buffer, root: string): number {
  let n = 0;
  for (const e of readTar(buf)) {
    n++;
    if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
      throw new ImageError(
        `refusing the tarball: entry ${JSON.stringify(e.path)} is a ${e.type === 'fifo' ? 'FIFO' : 'device node'} — an image carries files, the runtime makes /dev`,
      );
    }
    const parts = safeParts(e.path, 'path', e.path);
    if (parts.length === 0) {
      if (e.type === 'dir') {
        // "./": the root itself — its mode and owner become the image's /
        lchownSync(root, e.uid, e.gid);
        chmodSync(root, e.mode);
        continue;
      }
      throw new ImageError(`refusing the tarball: entry ${JSON.stringify(e.path)} has no name`);
    }
    const dir = parentDir(root, parts, e.path);
    const target = join(dir, parts.at(-1)!);
    const existing = lstatSync(target, { throwIfNoEntry: false });
    if (existing && !(existing.isDirectory() && e.type === 'dir')) rmSync(target, { recursive: true, force: true });

    if (e.type === 'dir') {
      if (!existing?.isDirectory()) mkdirSync(target);
      lchownSync(target, e.uid, e.gid);
      chmodSync(target, e.mode);
    } else if (e.type === 'symlink') {
      symlinkSync(e.linkpath, target);
      lchownSync(target, e.uid, e.gid);
    } else if (e.type === 'hardlink') {
      const linkParts = safeParts(e.linkpath, 'link target', e.path);
      if (linkParts.length === 0)
        throw new ImageError(`refusing the tarball: entry ${JSON.stringify(e.path)} is a hard link to nothing`);
      const source = join(parentDir(root, linkParts, e.path), linkParts.at(-1) ?? '');
      const st = lstatSync(source, { throwIfNoEntry: false });
      if (!st?.isFile()) {
        throw new ImageError(
          `refusing the tarball: entry ${JSON.stringify(e.path)} is a hard link to ${e.linkpath}, which is not a file earlier in the archive`,
        );
      }
      linkSync(source, target);
    } else {
      // O_EXCL: a symlink planted at this very name is not followed.
      const fd = openSync(target, 'wx', 0o600);
      try {
        if (e.data.length > 0) writeSync(fd, e.data);
        fchownSync(fd, e.uid, e.gid);
        fchmodSync(fd, e.mode); // after chown, which clears setuid bits
        futimesSync(fd, e.mtime, e.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }
  return n;
}

export interface ImportResult {
  image: Image;
  entries: number;
}

/** `cellblock import FILE NAME[:TAG]`: the tarball as a one-layer image, or an error and nothing on disk. */
export function importTarball(store: ImageStore, file: string, ref: string, cmd: string[] = ['sh']): ImportResult {
  const r = parseRef(ref);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new ImageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const bytes = tarBytes(file, raw);
  const stage = store.staging('import');
  try {
    const entries = extractTar(bytes, stage);
    if (entries === 0) throw new ImageError(`${file} holds no entries: is it a tar archive?`);
    const layer = store.addLayer(stage);
    const image: Image = {
      ...r,
      layers: [layer],
      cmd,
      env: DEFAULT_ENV,
      created: new Date().toISOString(),
      source: `import ${file}`,
    };
    store.save(image);
    return { image, entries };
  } finally {
    store.discard(stage);
  }
}
