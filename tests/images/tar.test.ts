/**
 * Importing rootfs tarballs: real archives from GNU tar (gzip, GNU and pax
 * long names) round-trip exactly; hostile ones — absolute paths, `..`, device
 * nodes, writes through a symlink, hard links out — are refused whole, with a
 * message naming the entry, and leave nothing on disk or outside it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { ImageError, ImageStore } from '../../src/core/images/store.js';
import { importTarball, readTar } from '../../src/core/images/tar.js';
import { treeDigest } from '../../src/core/images/tree.js';
import { defaultRootfs } from '../../src/core/paths.js';
import { skipBecause } from '../support/skip.js';

/** One ustar header + data, as a hostile archive would hold it. */
function entry(name: string, opts: { type?: string; data?: string; link?: string; mode?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  const data = Buffer.from(opts.data ?? '');
  h.write(name, 0, 100);
  h.write(`${(opts.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(opts.type ?? '0', 156);
  h.write(opts.link ?? '', 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(pad);
  return Buffer.concat([h, pad]);
}

const archive = (...entries: Buffer[]): Buffer => Buffer.concat([...entries, Buffer.alloc(1024)]);

/** Every path under a directory (to prove "nothing left"). */
function listing(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(`${rel}${e.name}`);
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('images: importing a rootfs tarball', function () {
  this.timeout(60_000);
  let tmp: string;
  let store: ImageStore;

  beforeEach(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (ownership of extracted files)');
    tmp = mkdtempSync(join(tmpdir(), 'cellblock-tar-'));
    store = new ImageStore(join(tmp, 'store'));
  });
  afterEach(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('imports the busybox rootfs tarred by GNU tar (gzip): the layer is the same tree, byte for byte', function () {
    const rootfs = defaultRootfs();
    if (!existsSync(rootfs)) skipBecause(this, `no rootfs at ${rootfs}: run scripts/setup.sh`);
    const file = join(tmp, 'rootfs.tar.gz');
    const r = spawnSync('tar', ['-C', rootfs, '--numeric-owner', '-czf', file, '.']);
    expect(r.status, String(r.stderr)).to.equal(0);
    const { image, entries } = importTarball(store, file, 'bb:v1');
    expect(entries).to.be.greaterThan(200);
    expect(image.layers).to.deep.equal([treeDigest(rootfs)]);
    expect(store.get('bb:v1')?.cmd).to.deep.equal(['sh']);
    expect(readdirSync(join(tmp, 'store'))).to.not.include('tmp');
  });

  for (const format of ['gnu', 'pax']) {
    it(`reads ${format} long names and long link targets (> 100 bytes)`, function () {
      const src = join(tmp, 'src');
      const deep = join(src, 'd'.repeat(60), 'e'.repeat(60));
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(deep, `${'f'.repeat(90)}.txt`), 'deep\n');
      spawnSync('ln', ['-s', join('/', 'x'.repeat(120)), join(src, 'longlink')]);
      const file = join(tmp, `${format}.tar`);
      const r = spawnSync('tar', ['-C', src, `--format=${format}`, '-cf', file, '.']);
      expect(r.status, String(r.stderr)).to.equal(0);
      const { image } = importTarball(store, file, `long-${format}`);
      expect(image.layers).to.deep.equal([treeDigest(src)]);
    });
  }

  const hostile: [string, () => Buffer, RegExp][] = [
    ['an absolute path', () => archive(entry('/etc/cellblock-evil', { data: 'x' })), /absolute path/],
    ['a ../ entry', () => archive(entry('../cellblock-evil', { data: 'x' })), /climbs out of the image with "\.\."/],
    ['a .. in the middle', () => archive(entry('a/../../cellblock-evil', { data: 'x' })), /"\.\."/],
    ['a character device', () => archive(entry('dev/sda', { type: '3' })), /device node/],
    ['a block device', () => archive(entry('dev/vda', { type: '4' })), /device node/],
    [
      'a write through a symlink made by an earlier entry',
      () => archive(entry('lib', { type: '2', link: '/tmp' }), entry('lib/cellblock-evil', { data: 'x' })),
      /through the symlink lib/,
    ],
    [
      'a hard link to a file outside',
      () => archive(entry('passwd', { type: '1', link: '../../etc/passwd' })),
      /"\.\."/,
    ],
    ['a hard link to an absolute path', () => archive(entry('passwd', { type: '1', link: '/etc/passwd' })), /absolute/],
  ];
  for (const [what, make, message] of hostile) {
    it(`refuses ${what}, and leaves nothing on disk`, function () {
      const file = join(tmp, 'evil.tar');
      writeFileSync(file, make());
      const before = listing(join(tmp, 'store'));
      expect(() => importTarball(store, file, 'evil')).to.throw(ImageError, message);
      expect(listing(join(tmp, 'store'))).to.deep.equal(before);
      expect(existsSync('/tmp/cellblock-evil')).to.equal(false);
      expect(existsSync(join(tmp, 'cellblock-evil'))).to.equal(false);
    });
  }

  it('the same hostile entry compressed: refused the same way', function () {
    const file = join(tmp, 'evil.tar.gz');
    writeFileSync(file, gzipSync(archive(entry('ok', { data: 'fine' }), entry('../evil', { data: 'x' }))));
    expect(() => importTarball(store, file, 'evil')).to.throw(ImageError, /"\.\."/);
    expect(store.get('evil')).to.equal(undefined);
    expect(existsSync(join(tmp, 'store', 'tmp'))).to.equal(false);
  });

  it('a file planted where a later entry writes is replaced, never followed', function () {
    const outside = join(tmp, 'outside');
    writeFileSync(outside, 'untouched\n');
    const file = join(tmp, 'plant.tar');
    writeFileSync(file, archive(entry('x', { type: '2', link: outside }), entry('x', { data: 'inside\n' })));
    const { image } = importTarball(store, file, 'plant');
    expect(spawnSync('cat', [outside], { encoding: 'utf8' }).stdout).to.equal('untouched\n');
    expect(spawnSync('cat', [join(store.layerPath(image.layers[0]!), 'x')], { encoding: 'utf8' }).stdout).to.equal(
      'inside\n',
    );
  });

  it('names other compressions and broken archives instead of guessing', function () {
    const xz = join(tmp, 'r.tar.xz');
    writeFileSync(xz, Buffer.concat([Buffer.from('\xfd7zXZ\0', 'latin1'), Buffer.alloc(600)]));
    expect(() => importTarball(store, xz, 'x')).to.throw(ImageError, /xz-compressed: decompress it first/);
    const cut = join(tmp, 'cut.tar');
    writeFileSync(cut, entry('big', { data: 'y'.repeat(5000) }).subarray(0, 1024));
    expect(() => importTarball(store, cut, 'x')).to.throw(ImageError, /truncated/);
    const junk = join(tmp, 'junk.tar');
    writeFileSync(junk, Buffer.alloc(1024, 0x41));
    expect(() => importTarball(store, junk, 'x')).to.throw(ImageError, /checksum/);
    expect(() => importTarball(store, join(tmp, 'missing.tar'), 'x')).to.throw(ImageError, /cannot read .*ENOENT/);
    expect(() => importTarball(store, xz, 'Bad Name')).to.throw(ImageError, /image name "Bad Name" is invalid/);
    expect(listing(join(tmp, 'store'))).to.deep.equal([]);
  });

  it('readTar: the entries as written', function () {
    const names = [...readTar(archive(entry('a/', { type: '5', mode: 0o755 }), entry('a/b', { data: 'hi' })))].map(
      (e) => `${e.type} ${e.path} ${e.mode.toString(8)} ${e.data.toString()}`,
    );
    expect(names).to.deep.equal(['dir a/ 755 ', 'file a/b 644 hi']);
  });
});
