/**
 * The runtime half of "a lesson may not use the reference solution", loaded
 * with `node --import <this file>?lesson=<id>` into every process that runs a
 * learner's lesson during grading: the check worker, and — through its spawn
 * arguments — each container's init.
 *
 * It registers a resolve hook (guard-hooks.ts) that refuses, whatever the
 * spelling of the specifier:
 *   - any module under solutions/ imported by a module under lessons/;
 *   - the graded lesson's own reference (solutions/<id>/), imported by anything.
 * The reference for the *other* lessons stays loadable: grading lesson N uses it.
 */
import { register } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const GUARD_MARK = '[cellblock-guard]';

export interface GuardData {
  /** Directory URLs (ending in /) whose modules may not import from `forbidden`. */
  learner: string[];
  /** Directory URLs no learner module may import from. */
  forbidden: string[];
  /** Directory URLs nobody may import from (the graded lesson's reference). */
  sealed: string[];
  root: string;
}

export function guardData(lesson: string, root: string): GuardData {
  const dir = (p: string): string => pathToFileURL(join(root, p)).href.replace(/\/?$/, '/');
  return {
    learner: [dir('lessons'), dir('dist/lessons')],
    forbidden: [dir('solutions'), dir('dist/solutions')],
    sealed: [dir(`solutions/${lesson}`), dir(`dist/solutions/${lesson}`)],
    root: pathToFileURL(root).href.replace(/\/?$/, '/'),
  };
}

/** The --import argument for a lesson: this file, with the lesson in the query. */
export function guardImport(lesson: string): string {
  const url = new URL(import.meta.url);
  url.search = `?lesson=${encodeURIComponent(lesson)}`;
  return url.href;
}

// Loaded through --import: register the hooks for the lesson in our own URL.
const lesson = new URL(import.meta.url).searchParams.get('lesson');
if (lesson) {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  register('./guard-hooks.js', import.meta.url, { data: guardData(lesson, root) });
}
