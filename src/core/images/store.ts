/**
 * The local image store. An image is an ordered list of layers — directories,
 * bottom first — plus what a container of it runs by default (command, env).
 * A container of the image mounts them as the lower layers of an overlay
 * (lesson 06), read-only and shared by every container: nothing is copied.
 *
 *   IMAGES_DIR/layers/<sha256>/            a layer: its tree, named by its content (tree.ts)
 *   IMAGES_DIR/images/<name>/<tag>.json    an image: layer ids, cmd, env
 *   IMAGES_DIR/cache/<key>.json            the build cache: step key → layer id (build.ts)
 *   IMAGES_DIR/tmp/                        staging for imports and builds
 *
 * Every write lands in tmp/ first and moves into place with rename(2), so an
 * interrupted import or build leaves nothing but tmp/ entries (removed by the
 * next store operation of this kind, and by `cellblock cleanup`).
 *
 * The base image `busybox` is the workshop's busybox rootfs, copied in as one
 * layer the first time it is asked for (and again if the rootfs changes).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_ENV } from '../config.js';
import { listStates } from '../host/state.js';
import { CONTAINERS_DIR, IMAGES_DIR } from '../names.js';
import { defaultRootfs } from '../paths.js';
import { listDir, readJson } from '../read.js';
import { treeDigest, treeSize } from './tree.js';

export interface ImageRef {
  name: string;
  tag: string;
}

export interface Image extends ImageRef {
  /** Layer ids (sha256 hex of their content), bottom first. */
  layers: string[];
  /** What a container of this image runs when no command is given. */
  cmd: string[];
  /** Its environment (KEY=VALUE), before the user's -e. */
  env: string[];
  created: string;
  /** Where it came from: "rootfs DIR", "import FILE", "build FILE". */
  source: string;
}

/** A problem with an image, a layer or the store, phrased for the user. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
}

export const BASE_IMAGE = 'busybox';
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** "alpine" → alpine:latest; "app:v2" → app:v2. Throws on anything that cannot be a file name. */
export function parseRef(ref: string): ImageRef {
  const i = ref.lastIndexOf(':');
  const name = i < 0 ? ref : ref.slice(0, i);
  const tag = i < 0 ? 'latest' : ref.slice(i + 1);
  if (!NAME.test(name)) {
    throw new ImageError(
      `image name ${JSON.stringify(name)} is invalid: use 1–64 characters from a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  if (!TAG.test(tag)) {
    throw new ImageError(`image tag ${JSON.stringify(tag)} is invalid: use 1–64 characters from A-Z a-z 0-9 . _ -`);
  }
  return { name, tag };
}

export const refString = (r: ImageRef): string => `${r.name}:${r.tag}`;

/** The short form of a layer id that `images` and `build` print. */
export const shortId = (hex: string): string => hex.slice(0, 12);

/** The record lesson 06 leaves in a container's directory: which layers its overlay stacked. */
export interface OverlayRecord {
  id: string;
  image?: string;
  /** Lower layer directories, top first (as in lowerdir=). */
  lower: string[];
  upper: string;
  work: string;
  merged: string;
  /** `run --keep`: the user asked for the upper to stay; the runtime's own backstop leaves it. */
  keep?: boolean;
}

export class ImageStore {
  constructor(readonly root: string = IMAGES_DIR) {}

  get layersDir(): string {
    return join(this.root, 'layers');
  }

  layerPath(id: string): string {
    return join(this.layersDir, id);
  }

  hasLayer(id: string): boolean {
    return existsSync(this.layerPath(id));
  }

  /** The directories to give overlayfs as lowerdir, top layer first. */
  lowerdirs(image: Image): string[] {
    return image.layers.map((l) => this.layerPath(l)).reverse();
  }

  private imageFile(r: ImageRef): string {
    return join(this.root, 'images', r.name, `${r.tag}.json`);
  }

  /** A fresh directory under tmp/, on the store's filesystem (so it can move into layers/ by rename). */
  staging(what: string): string {
    const tmp = join(this.root, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const dir = mkdtempSync(join(tmp, `${what}-`));
    chmodSync(dir, 0o755); // it becomes a layer's root: mkdtemp's 0700 would be the image's /
    return dir;
  }

  /** Remove a staging directory, and tmp/ itself once it is empty: a failed import leaves nothing. */
  discard(stage: string): void {
    rmSync(stage, { recursive: true, force: true });
    try {
      rmdirSync(join(this.root, 'tmp'));
    } catch {
      // another import or build is staging there
    }
  }

  /** The image, or undefined. `busybox` is made from the rootfs on first use. */
  get(ref: string | ImageRef): Image | undefined {
    const r = typeof ref === 'string' ? parseRef(ref) : ref;
    if (r.name === BASE_IMAGE && r.tag === 'latest') this.ensureBase();
    try {
      const image = JSON.parse(readFileSync(this.imageFile(r), 'utf8')) as Image;
      const missing = image.layers.find((l) => !this.hasLayer(l));
      if (missing) throw new ImageError(`image ${refString(r)} is damaged: its layer ${shortId(missing)} is missing`);
      return image;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The image, or an ImageError that says what exists. */
  resolve(ref: string): Image {
    const image = this.get(ref);
    if (image) return image;
    const known = this.list().map(refString);
    throw new ImageError(
      `unknown image ${JSON.stringify(ref)}: ${known.length ? `the store has ${known.join(', ')}` : 'the store is empty'} — build one with \`cellblock build -t NAME\`, or import a rootfs tarball with \`cellblock import FILE NAME\``,
    );
  }

  list(): Image[] {
    this.ensureBase();
    const dir = join(this.root, 'images');
    const out: Image[] = [];
    for (const name of listDir(dir)) {
      for (const file of listDir(join(dir, name)).filter((f) => f.endsWith('.json'))) {
        // a half-written file cannot exist (rename), a hand-edited broken one is skipped
        const image = readJson<Image>(join(dir, name, file));
        if (image) out.push(image);
      }
    }
    return out.sort((a, b) => refString(a).localeCompare(refString(b)));
  }

  save(image: Image): void {
    const file = this.imageFile(image);
    mkdirSync(join(this.root, 'images', image.name), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(image, null, 2)}\n`);
    renameSync(tmp, file);
  }

  /**
   * Move a directory into the store as a layer; returns its id. The directory
   * is consumed: renamed into layers/<id>, or removed if that layer exists.
   */
  addLayer(dir: string): string {
    const id = treeDigest(dir);
    const target = this.layerPath(id);
    mkdirSync(this.layersDir, { recursive: true });
    if (existsSync(target)) {
      rmSync(dir, { recursive: true, force: true });
      return id;
    }
    try {
      renameSync(dir, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        rmSync(dir, { recursive: true, force: true }); // another process added the same content
      } else if (code === 'EXDEV') {
        copyTree(dir, target); // CONTAINERS_DIR on another filesystem than the store
        rmSync(dir, { recursive: true, force: true });
      } else throw err;
    }
    return id;
  }

  /**
   * Remove an image; then every layer no image and no container uses any more,
   * and the build-cache entries that pointed at them. Returns the removed layer ids.
   */
  remove(ref: string): string[] {
    const r = parseRef(ref);
    const image = this.get(r);
    if (!image) this.resolve(ref); // throws the "unknown image" message
    const users = runningUsers(new Set(this.lowerdirs(image!)));
    if (users.length > 0) {
      throw new ImageError(`image ${refString(r)} is in use by running container ${users.join(', ')}: stop it first`);
    }
    rmSync(this.imageFile(r));
    try {
      rmSync(join(this.root, 'images', r.name)); // the name's directory, if that was its last tag
    } catch {
      // other tags remain
    }
    return this.collectGarbage();
  }

  /** Layers referenced by no image and no container directory go; so do cache entries pointing at them. */
  collectGarbage(): string[] {
    const used = new Set(this.list().flatMap((i) => i.layers));
    for (const rec of containerRecords()) for (const l of rec.lower) used.add(l.split('/').at(-1)!);
    const removed: string[] = [];
    for (const id of listDir(this.layersDir)) {
      if (used.has(id)) continue;
      rmSync(this.layerPath(id), { recursive: true, force: true });
      removed.push(id);
    }
    const cache = join(this.root, 'cache');
    for (const f of listDir(cache)) {
      const layer = this.cacheGet(f.replace(/\.json$/, ''))?.layer;
      if (layer && !this.hasLayer(layer)) rmSync(join(cache, f), { force: true });
    }
    return removed;
  }

  cacheGet(key: string): { layer: string } | undefined {
    return readJson<{ layer: string }>(join(this.root, 'cache', `${key}.json`));
  }

  cachePut(key: string, value: { layer: string }): void {
    const dir = join(this.root, 'cache');
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${key}.${randomBytes(4).toString('hex')}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(value)}\n`);
    renameSync(tmp, join(dir, `${key}.json`));
  }

  /** Bytes of regular files in an image's layers (apparent size: what the layers hold, counted once). */
  size(image: Image): number {
    return image.layers.reduce((n, l) => n + treeSize(this.layerPath(l)).bytes, 0);
  }

  /**
   * busybox:latest = the workshop's busybox rootfs as one layer. Checked on
   * every use (a digest of ~400 entries, a few ms): after scripts/setup.sh
   * rebuilt the rootfs, the image follows, and images built on the old one
   * keep their own copy of it.
   */
  ensureBase(rootfs: string = defaultRootfs()): void {
    if (!existsSync(rootfs)) return;
    const id = treeDigest(rootfs);
    const ref = { name: BASE_IMAGE, tag: 'latest' };
    const current = readJson<Image>(this.imageFile(ref)); // undefined: not imported yet
    if (current?.layers.length === 1 && current.layers[0] === id && this.hasLayer(id)) return;
    if (!this.hasLayer(id)) {
      const stage = this.staging('base');
      try {
        copyTree(rootfs, stage);
        this.addLayer(stage);
      } finally {
        this.discard(stage);
      }
    }
    this.save({
      ...ref,
      layers: [id],
      cmd: ['sh'],
      env: DEFAULT_ENV,
      created: new Date().toISOString(),
      source: `rootfs ${rootfs}`,
    });
  }
}

/**
 * `cp -a`: owners, modes, timestamps, links, device nodes and xattrs (overlayfs'
 * opaque marks) as they are. The contents of directory `from` into `to`; with
 * `single`, the one file (or link) `from` as `to`.
 */
export function copyTree(from: string, to: string, single = false): void {
  mkdirSync(single ? dirname(to) : to, { recursive: true });
  const r = spawnSync('cp', ['-a', '--', single ? from : `${from}/.`, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new ImageError(`copying ${from} to ${to} failed: ${(r.stderr || r.error?.message) ?? ''}`);
}

/** Every container directory's overlay record (running or kept with --keep). */
export function containerRecords(dir: string = CONTAINERS_DIR): OverlayRecord[] {
  return listDir(dir).flatMap((id) => readJson<OverlayRecord>(join(dir, id, 'overlay.json')) ?? []);
}

/** Ids of running containers whose overlay stacks any of these layer directories. */
function runningUsers(layerDirs: Set<string>): string[] {
  const running = new Set(
    listStates()
      .filter((s) => existsSync(`/proc/${s.pid}`))
      .map((s) => s.id),
  );
  return containerRecords()
    .filter((r) => running.has(r.id) && r.lower.some((l) => layerDirs.has(l)))
    .map((r) => r.id);
}
