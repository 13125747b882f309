/**
 * linux.cgroupsPath (runtime-spec config-linux.md#cgroups-path), cgroupfs
 * form: the container's cgroup is where the caller says — containerd's
 * /default/<id>, Podman's /libpod_parent/libpod-<id> — so the caller's own
 * stats, `ctr task metrics` and `podman stats` find it. An absolute path is
 * from each hierarchy's root, and so is a relative one: runc reads that as
 * below its own cgroup, which for a runtime that exits at create names
 * nothing stable; and below the workshop's parent (cellblock/) the cgroup
 * area's inventory would attribute its first level as a container id of its
 * own — a running container's cgroup `cellblock cleanup` would take.
 *
 * Such a cgroup is outside what the cgroup area's inventory knows
 * (cellblock/…): the levels create makes and the leaf are recorded in the
 * container's OCI state directory (cgroup.json) *before* any is made, so a
 * create killed half way still leaves a record its leftovers are found by
 * (inventory.ts) — attributed by that record, never by the look of a path.
 * The leaf is lesson 05's (openCgroup of an absolute name: made and removed
 * by the lesson); the levels above it that did not exist are this module's to
 * remove once nothing is below them. Levels that existed are never touched.
 */
import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupRoots } from '../cgroups/detect.js';
import { realCgroupFs } from '../cgroups/fs.js';
import { levels, removeCgroupDir } from '../cgroups/manager.js';
import { CGROUP_PARENT } from '../names.js';
import { listDir, readJson, readText } from '../read.js';

export interface CgroupRecord {
  /** The container's cgroup from each hierarchy's root: "/default/abc". */
  path: string;
  /** Directories above it that create made (they did not exist), deepest first: <hierarchy root>/default. */
  made: string[];
  /** The container's cellblock id (what leak probes attribute by). */
  cellblockId: string;
}

/** A cgroup path segment: no "." or "..", nothing a path could escape with. */
const SEGMENT = /^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]{0,254}$/;

/**
 * The absolute cgroup path for a cgroupsPath value, or a sentence saying what
 * is wrong with it (for the caller's error).
 */
export function ociCgroupPath(value: string): string | { problem: string } {
  const parts = value.split('/').filter(Boolean);
  if (parts.length === 0) return { problem: 'names no cgroup (the root cannot be a container’s cgroup)' };
  if (parts.length > 16) return { problem: 'has more than 16 levels' };
  const bad = parts.find((p) => !SEGMENT.test(p));
  if (bad !== undefined) {
    return {
      problem: `level ${JSON.stringify(bad)} is not a cgroup name cellblock makes (letters, digits, _ . @ : + -)`,
    };
  }
  if (parts[0] === CGROUP_PARENT) {
    return {
      problem: `is below ${CGROUP_PARENT}/, the workshop's own cgroups (named by container id): choose another`,
    };
  }
  return `/${parts.join('/')}`;
}

/** Every cgroup hierarchy's root on this host (v2: one; v1: one per mount, co-mounted ones once). */
export function hierarchyRoots(): string[] {
  return cgroupRoots(readText('/proc/self/mountinfo'));
}

/** The directories above `path` that do not exist, in every hierarchy: what create will make (deepest first). */
export function missingLevels(path: string, roots: string[] = hierarchyRoots()): string[] {
  const parent = path.replace(/^\/+/, '').split('/').slice(0, -1).join('/');
  return levels(parent).flatMap((l) => roots.map((r) => join(r, l)).filter((d) => !existsSync(d)));
}

/** The leaf exists in some hierarchy already: not ours to take (delete would kill what is in it). */
export function cgroupTaken(path: string, roots: string[] = hierarchyRoots()): string | undefined {
  return roots.map((r) => join(r, path)).find((d) => existsSync(d));
}

export function writeCgroupRecord(dir: string, record: CgroupRecord): void {
  writeFileSync(join(dir, 'cgroup.json'), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

export function readCgroupRecord(dir: string): CgroupRecord | undefined {
  const r = readJson<CgroupRecord>(join(dir, 'cgroup.json'));
  // Only what ociCgroupPath could have produced: a record is never a way to point rmdir elsewhere.
  if (!r || typeof r.path !== 'string' || typeof ociCgroupPath(r.path) !== 'string') return undefined;
  if (ociCgroupPath(r.path) !== r.path || !Array.isArray(r.made)) return undefined;
  const above = levels(r.path.slice(1)).slice(1);
  const ok = (d: unknown): boolean =>
    typeof d === 'string' && hierarchyRoots().some((root) => above.some((l) => join(root, l) === d));
  return { ...r, made: r.made.filter(ok) };
}

/** A cgroup directory with a child cgroup (any directory below it is one: cgroupfs has no others). */
function hasChildren(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

/**
 * Remove the levels create made, deepest first, in every hierarchy, each once
 * nothing is below it (another container of the caller's may be). rmdir of an
 * empty cgroup is all it takes; one still in use (EBUSY) stays.
 */
export async function removeRecorded(record: CgroupRecord): Promise<string[]> {
  // The leaf first, in every hierarchy: the lessons' cleanup removes it where it knows it is (lesson 05's
  // managers); a hierarchy only one lesson looks after (lesson 09's devices) may still hold it.
  for (const r of hierarchyRoots()) {
    const d = join(r, record.path);
    if (existsSync(d)) await removeCgroupDir(realCgroupFs, d);
  }
  return removeMadeLevels(record);
}

export function removeMadeLevels(record: CgroupRecord): string[] {
  const left: string[] = [];
  for (const d of record.made) {
    if (!existsSync(d)) continue;
    if (hasChildren(d)) {
      left.push(d);
      continue;
    }
    try {
      rmdirSync(d);
    } catch {
      left.push(d);
    }
  }
  return left;
}

/**
 * Levels create made that another container's cgroup is below now (two of
 * containerd's containers in /default): handed over to the records of those
 * containers, so the last one out removes them — none is ever left behind
 * because the container that made it ended first.
 */
export function handOver(ociRoot: string, selfId: string, left: string[]): void {
  if (left.length === 0) return;
  for (const id of listDir(ociRoot)) {
    if (id === selfId) continue;
    const dir = join(ociRoot, id);
    const r = readCgroupRecord(dir);
    if (!r) continue;
    const below = left.filter(
      (d) => !r.made.includes(d) && hierarchyRoots().some((h) => join(h, r.path).startsWith(`${d}/`)),
    );
    // Deepest first, as removeMadeLevels takes them.
    if (below.length > 0)
      writeCgroupRecord(dir, { ...r, made: [...r.made, ...below].sort((a, b) => b.length - a.length) });
  }
}
