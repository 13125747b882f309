/**
 * A lesson's starter — the file as the workshop ships it — and putting it back
 * (`cellblock reset N`) with a backup of the learner's version first.
 *
 * The starter comes from git: the file at HEAD (or at `from`, for a learner who
 * committed their own work over it). A checkout without .git has no history to
 * restore from, and says so with the fix.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { STATE_DIR } from '../core/paths.js';
import { ROOT, sourceFile, type LessonEntry } from './manifest.js';
import { updateProgress } from './progress.js';

export class StarterError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export function starterOf(entry: LessonEntry, opts: { from?: string; root?: string } = {}): string {
  const root = opts.root ?? ROOT;
  const rel = relative(root, sourceFile(entry, 'lessons')).split('\\').join('/');
  const rev = opts.from ?? 'HEAD';
  const r = spawnSync('git', ['-c', `safe.directory=${root}`, '-C', root, 'show', `${rev}:${rel}`], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status === 0) return r.stdout;
  if (!existsSync(join(root, '.git'))) {
    throw new StarterError(
      `cannot find the starter of ${rel}: this checkout has no git history`,
      `download ${rel} again from the workshop repository, or work in a git clone`,
    );
  }
  throw new StarterError(
    `cannot read ${rel} at ${rev}: ${(r.stderr || r.error?.message || '').trim()}`,
    opts.from ? 'give a commit that has the starter (git log -- ' + rel + ')' : 'is the file tracked? (git status)',
  );
}

export interface ResetResult {
  file: string;
  /** Where the learner's version was saved; absent when it already was the starter. */
  backup?: string;
  changed: boolean;
}

/** Put the starter back, keeping the learner's file in .cellblock/backups/, and forget the lesson's progress. */
export function resetLesson(entry: LessonEntry, opts: { from?: string } = {}): ResetResult {
  const file = sourceFile(entry, 'lessons');
  const starter = starterOf(entry, opts);
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  let backup: string | undefined;
  if (current !== undefined && current !== starter) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    backup = join(STATE_DIR, 'backups', entry.id, `${entry.file}.${stamp}`);
    mkdirSync(dirname(backup), { recursive: true });
    copyFileSync(file, backup);
  }
  if (current !== starter) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, starter);
  }
  updateProgress((p) => {
    delete p.lessons[entry.id];
    delete p.hints[entry.id];
  });
  return { file, ...(backup ? { backup } : {}), changed: current !== starter };
}
