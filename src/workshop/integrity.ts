/**
 * Is the workshop itself as shipped? `cellblock grade` trusts a lesson's result
 * only if the checks, the manifest and the shared code that run it are the
 * committed ones: a learner must not pass by editing tests/.
 *
 * The reference, in order:
 *   1. SHA256SUMS at the root of the checkout (a sealed release: `cellblock grade
 *      --seal`; it works without .git, e.g. a downloaded zip copied into a VM);
 *   2. the git HEAD commit (`git ls-tree -r HEAD`), when the checkout is a clone;
 *   3. neither: the result is "unverified", never "ok".
 *
 * Either reference lives in the learner's hands, so the last word is the
 * fingerprint: a hash over every protected file as it is on disk. It is the same
 * on every untouched copy of a release, whatever the reference says, and every
 * grade report carries it — an instructor compares it with their own
 * (`--expect-fingerprint`), and one differing machine in a classroom stands out.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ROOT } from '../core/paths.js';
import { filesBelow } from '../core/read.js';

/** What grading depends on. Lessons the learner edits (lessons/<id>/) are not in it; the manifest is. */
export const PROTECTED = [
  'src',
  'tests',
  'solutions',
  'scripts',
  'lessons/manifest.json',
  'package.json',
  'tsconfig.json',
];

/** Files that can change behaviour. Editor droppings (.swp, .orig, .DS_Store) are not worth a tampering report. */
const CODE = /\.(ts|mts|cts|js|mjs|cjs|json|sh)$/;

export const SUMS_FILE = 'SHA256SUMS';

export type ChangeKind = 'modified' | 'added' | 'deleted';

export interface Change {
  path: string;
  change: ChangeKind;
}

export interface Integrity {
  status: 'ok' | 'tampered' | 'unverified';
  /** What the tree was compared with: "SHA256SUMS", "git HEAD <sha>", or why nothing could be. */
  reference: string;
  changes: Change[];
  /** sha256 over "<sha256>  <path>" of every protected file, as on disk. */
  fingerprint: string;
  /** Set when --expect-fingerprint was given and it differs. */
  fingerprintMismatch?: { expected: string };
}

/** Every protected file that exists, relative to root, sorted. */
export function protectedFiles(root = ROOT): string[] {
  const out: string[] = [];
  for (const rel of PROTECTED) {
    const abs = join(root, rel);
    if (!existsSync(abs)) continue;
    if (!statSync(abs).isDirectory()) out.push(rel);
    else
      out.push(
        ...filesBelow(abs)
          .filter((f) => CODE.test(basename(f)))
          .map((f) => relative(root, f)),
      );
  }
  return out.sort();
}

/** Line endings normalised: a checkout through a Windows host's autocrlf is not tampering. */
function content(root: string, rel: string): Buffer {
  const b = readFileSync(join(root, rel));
  return b.includes(13) ? Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1') : b;
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The SHA256SUMS text for the tree as it is (what --seal writes; its hash is the fingerprint). */
export function sumsOf(root = ROOT): string {
  return protectedFiles(root)
    .map((p) => `${sha256(content(root, p))}  ${p}\n`)
    .join('');
}

export function fingerprintOf(sums: string): string {
  return sha256(sums);
}

/** Write SHA256SUMS: for whoever publishes a release (see docs/instructor-guide.md). */
export function seal(root = ROOT): { file: string; files: number; fingerprint: string } {
  const sums = sumsOf(root);
  writeFileSync(join(root, SUMS_FILE), sums);
  return {
    file: join(root, SUMS_FILE),
    files: sums.split('\n').filter(Boolean).length,
    fingerprint: fingerprintOf(sums),
  };
}

function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hit = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (hit) m.set(hit[2]!, hit[1]!);
  }
  return m;
}

/** git's blob id of a file: sha1("blob <size>\0" + content). */
function gitBlob(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function git(root: string, args: string[]): { ok: boolean; out: string; err: string } {
  // safe.directory: in a VM the synced folder belongs to another uid, and git
  // (≥ 2.35.2) refuses it unless told — on the command line, not in the repo.
  const r = spawnSync('git', ['-c', `safe.directory=${root}`, '-C', root, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20_000,
  });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr || r.error?.message || '').trim() };
}

function isProtected(rel: string): boolean {
  return PROTECTED.some((p) => rel === p || rel.startsWith(`${p}/`));
}

function compare(root: string, reference: Map<string, string>, hashOf: (rel: string) => string[]): Change[] {
  const changes: Change[] = [];
  const onDisk = new Set(protectedFiles(root));
  for (const [rel, want] of reference) {
    if (!isProtected(rel)) continue;
    if (!onDisk.has(rel)) {
      if (CODE.test(rel) || !existsSync(join(root, rel))) changes.push({ path: rel, change: 'deleted' });
      continue;
    }
    if (!hashOf(rel).includes(want)) changes.push({ path: rel, change: 'modified' });
  }
  for (const rel of onDisk) if (!reference.has(rel)) changes.push({ path: rel, change: 'added' });
  return changes.sort((a, b) => a.path.localeCompare(b.path));
}

export function checkIntegrity(root = ROOT, opts: { expectFingerprint?: string } = {}): Integrity {
  const fingerprint = fingerprintOf(sumsOf(root));
  let result: Integrity;
  const sumsPath = join(root, SUMS_FILE);
  if (existsSync(sumsPath)) {
    const ref = parseSums(readFileSync(sumsPath, 'utf8'));
    const changes = compare(root, ref, (rel) => [sha256(content(root, rel))]);
    result = { status: changes.length ? 'tampered' : 'ok', reference: SUMS_FILE, changes, fingerprint };
  } else {
    const head = git(root, ['rev-parse', '--verify', '-q', 'HEAD']);
    const tree = head.ok ? git(root, ['ls-tree', '-r', '-z', '--full-tree', 'HEAD', '--', ...PROTECTED]) : head;
    if (head.ok && tree.ok) {
      const ref = new Map<string, string>();
      for (const entry of tree.out.split('\0')) {
        const m = /^\d+ blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
        if (m) ref.set(m[2]!, m[1]!);
      }
      // The raw bytes first; then with CRLF turned into LF (autocrlf checkouts).
      const changes = compare(root, ref, (rel) => [
        gitBlob(readFileSync(join(root, rel))),
        gitBlob(content(root, rel)),
      ]);
      result = {
        status: changes.length ? 'tampered' : 'ok',
        reference: `git HEAD ${head.out.trim().slice(0, 12)}`,
        changes,
        fingerprint,
      };
    } else {
      const why = existsSync(join(root, '.git')) ? `git failed: ${tree.err || head.err}` : 'no .git and no SHA256SUMS';
      result = { status: 'unverified', reference: why, changes: [], fingerprint };
    }
  }
  const expected = opts.expectFingerprint?.replace(/^sha256:/, '').toLowerCase();
  if (expected && !fingerprint.startsWith(expected)) {
    result.fingerprintMismatch = { expected };
    result.status = 'tampered';
  }
  return result;
}

/** A path relative to the checkout, for messages. */
export function rel(path: string, root = ROOT): string {
  return relative(root, path) || '.';
}
