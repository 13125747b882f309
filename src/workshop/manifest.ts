/**
 * The lesson manifest (lessons/manifest.json): the one list of lessons, in
 * order, with the file the learner edits and the hints. Everything that walks
 * lessons (loader, verify, status, the test suite) reads it from here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../core/paths.js';

export { ROOT };
export const DIST = join(ROOT, 'dist');

export interface LessonEntry {
  id: string;
  title: string;
  /** The file the learner edits, inside lessons/<id>/ (mirrored in solutions/<id>/). */
  file: string;
  hints: string[];
}

export type Source = 'lessons' | 'solutions';

let cached: LessonEntry[] | undefined;

export function manifest(): LessonEntry[] {
  cached ??= (JSON.parse(readFileSync(join(ROOT, 'lessons', 'manifest.json'), 'utf8')) as { lessons: LessonEntry[] })
    .lessons;
  return cached;
}

/** A lesson asked for by a name the manifest does not have: says which ones it does. */
export class UnknownLessonError extends Error {
  override readonly name = 'UnknownLessonError';
  constructor(
    readonly query: string,
    /** "did you mean 01-uts?", when the query is the name part of an id. */
    readonly suggestion: string | undefined,
    readonly choices: string,
  ) {
    super(`no lesson ${JSON.stringify(query)}: choose one of ${choices}`);
  }
}

/** A lesson's number: the digits its id starts with ('01-uts' → 1). */
export function lessonNumber(entry: LessonEntry): number {
  return Number(entry.id.split('-')[0]);
}

/**
 * The one lesson lookup of every command (verify, hint, reset, watch --lesson,
 * grade --lesson): a lesson's number ('1', '01') or its full id ('01-uts').
 * Nothing else — a bare name such as 'uts' would make ids and names two ways
 * to say the same thing, and a typo must not quietly pick a lesson.
 */
export function findLesson(query: string): LessonEntry {
  const all = manifest();
  const q = query.trim().toLowerCase();
  const hit = /^\d+$/.test(q) ? all.find((l) => lessonNumber(l) === Number(q)) : all.find((l) => l.id === q);
  if (hit) return hit;
  const name = (l: LessonEntry): string => l.id.slice(l.id.indexOf('-') + 1);
  const named = q ? (all.find((l) => name(l) === q) ?? all.find((l) => name(l).startsWith(q))) : undefined;
  throw new UnknownLessonError(
    query,
    named ? named.id : undefined,
    `${all.map((l) => l.id).join(', ')} — or its number: ${all.map((l) => lessonNumber(l)).join(', ')}`,
  );
}

/** The TypeScript file for a lesson in the learner's tree or the reference tree. */
export function sourceFile(entry: LessonEntry, source: Source): string {
  return join(ROOT, source, entry.id, entry.file);
}

/** The built JavaScript the runtime loads for it. */
export function builtFile(entry: LessonEntry, source: Source): string {
  return join(DIST, source, entry.id, entry.file.replace(/\.ts$/, '.js'));
}

/** The host-side checks of a lesson (tests/<id>.checks.ts), built. */
export function checksFile(entry: LessonEntry): string {
  return join(DIST, 'tests', `${entry.id}.checks.js`);
}
