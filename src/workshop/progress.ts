/**
 * The learner's progress: a small JSON file in the checkout
 * (.cellblock/progress.json), so it moves with the checkout between machines.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { STATE_DIR } from '../core/paths.js';
import { readJson } from '../core/read.js';
import type { LessonReport } from './checks.js';
import { manifest, type LessonEntry } from './manifest.js';

export interface LessonProgress {
  /** Every check passed, provided ones included: the lesson is done. */
  passed: boolean;
  /** The learner's checks, "passed/total" — those the starter fails; the same numbers grade counts. */
  checks: string;
  /** Provided checks that failed (behaviour the starter had, broken); absent when none. */
  broken?: string[];
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
export function recordRun(r: LessonReport): Progress {
  const { passed, total, broken } = r.tally;
  return updateProgress((p) => {
    p.lessons[r.lesson] = {
      passed: r.passed === r.total,
      checks: `${passed}/${total}`,
      ...(broken.length ? { broken } : {}),
      at: new Date().toISOString(),
    };
  });
}

/**
 * The learner's next lesson: the first one not done, in manifest order, or
 * undefined when every one is — what `status`, `verify`'s "Next:" and `watch`
 * all say, so they never disagree.
 */
export function pendingLesson(p: Progress, lessons: readonly LessonEntry[] = manifest()): LessonEntry | undefined {
  return lessons.find((l) => !p.lessons[l.id]?.passed);
}

/** The lesson to work on: the next pending one, or the last when every one is done. */
export function nextLesson(p: Progress, lessons: readonly LessonEntry[] = manifest()): LessonEntry {
  return pendingLesson(p, lessons) ?? lessons.at(-1)!;
}

export interface HintShown {
  /** 1-based: which hint this is… */
  number: number;
  /** …of how many. 0 when the lesson has none. */
  of: number;
}

/**
 * One more hint of a lesson each time (`cellblock hint`, `h` in watch): a
 * nudge first, then more precise; after the last, the last again. The count
 * is kept in the progress file, so both ways share it.
 */
export function takeHint(entry: LessonEntry): HintShown {
  let number = 0;
  updateProgress((p) => {
    number = Math.min((p.hints[entry.id] ?? 0) + 1, entry.hints.length);
    p.hints[entry.id] = number;
  });
  return { number, of: entry.hints.length };
}

/** The hints of a lesson shown so far, without taking one more (`hint --all`). */
export function hintsShown(entry: LessonEntry): HintShown {
  return { number: Math.min(readProgress().hints[entry.id] ?? 0, entry.hints.length), of: entry.hints.length };
}
