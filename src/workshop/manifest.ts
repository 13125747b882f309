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

/** Find a lesson by id, number or prefix: '01', '1', '01-uts', 'uts'. */
export function findLesson(query: string): LessonEntry {
  const all = manifest();
  const q = query.trim().toLowerCase();
  const hit =
    all.find((l) => l.id === q) ??
    all.find((l) => /^\d+$/.test(q) && Number(l.id.split('-')[0]) === Number(q)) ??
    all.find((l) => l.id.split('-').slice(1).join('-') === q);
  if (!hit) throw new Error(`no lesson ${JSON.stringify(query)}: choose one of ${all.map((l) => l.id).join(', ')}`);
  return hit;
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
