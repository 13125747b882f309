/**
 * The learner's progress: a small JSON file in the checkout
 * (.cellblock/progress.json), so it moves with the checkout between machines.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { STATE_DIR } from '../core/paths.js';
import { readJson } from '../core/read.js';

export interface LessonProgress {
  passed: boolean;
  checks: string; // "7/7"
  at: string; // ISO time of the last verify
}

export interface Progress {
  lessons: Record<string, LessonProgress>;
  /** How many hints of each lesson have been shown. */
  hints: Record<string, number>;
}

export function progressFile(): string {
  return process.env['CELLBLOCK_PROGRESS'] ?? join(STATE_DIR, 'progress.json');
}

export function readProgress(): Progress {
  const p = readJson<Partial<Progress>>(progressFile());
  return { lessons: p?.lessons ?? {}, hints: p?.hints ?? {} };
}

export function writeProgress(p: Progress): void {
  const file = progressFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(p, null, 2)}\n`);
  renameSync(`${file}.tmp`, file); // atomic: a crash never leaves half a file
}

export function updateProgress(fn: (p: Progress) => void): Progress {
  const p = readProgress();
  fn(p);
  writeProgress(p);
  return p;
}

/** Record one run of a lesson's checks against the learner's file (verify, watch). */
export function recordRun(lesson: string, passed: number, total: number): Progress {
  return updateProgress((p) => {
    p.lessons[lesson] = { passed: passed === total, checks: `${passed}/${total}`, at: new Date().toISOString() };
  });
}
