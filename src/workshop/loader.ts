/**
 * Which implementation of each lesson runs: the learner's (lessons/) or the
 * reference (solutions/).
 *
 *   verify N     lessons 00…N: the learner's N, the reference for the ones
 *                before it — so each lesson is graded on its own, and a
 *                learner stuck on 02 can still be graded on 03.
 *                Lessons after N are not loaded: their walls are not built yet.
 *   cumulative   every lesson from one tree (`cellblock run`: the learner's;
 *                `--solutions`: the reference). `run --lesson N` is verify N's.
 */
import { pathToFileURL } from 'node:url';
import type { LoadedLesson } from '../core/lesson.js';
import type { Lesson, ProcessSteps } from '../core/lesson.js';
import { builtFile, findLesson, manifest, type LessonEntry, type Source } from './manifest.js';

export interface LessonRef {
  entry: LessonEntry;
  source: Source;
}

export type Selection = { kind: 'verify'; id: string; source: Source } | { kind: 'cumulative'; source: Source };

export function selectLessons(selection: Selection): LessonRef[] {
  const all = manifest();
  if (selection.kind === 'cumulative') return all.map((entry) => ({ entry, source: selection.source }));
  const upTo = all.findIndex((l) => l.id === selection.id);
  if (upTo < 0) throw new Error(`no lesson ${selection.id} in the manifest`);
  return all.slice(0, upTo + 1).map((entry) => ({
    entry,
    source: entry.id === selection.id ? selection.source : 'solutions',
  }));
}

export async function loadLessons(refs: LessonRef[]): Promise<LoadedLesson[]> {
  return Promise.all(
    refs.map(async ({ entry, source }) => {
      const file = builtFile(entry, source);
      const mod = (await import(pathToFileURL(file).href)) as { default?: Lesson };
      const lesson = mod.default;
      if (!lesson || typeof lesson !== 'object') {
        throw new Error(`${source}/${entry.id}/${entry.file} must \`export default defineLesson({…})\``);
      }
      if (lesson.id !== entry.id) {
        throw new Error(
          `${source}/${entry.id}/${entry.file} says id ${JSON.stringify(lesson.id)}, expected ${entry.id}`,
        );
      }
      return { id: entry.id, file, lesson };
    }),
  );
}

/**
 * What `cellblock run` loads: every lesson from one tree, or with `--lesson N`
 * the learner's N on the reference of the lessons before it (verify's
 * selection) — so a README's by-hand section works before the earlier lessons are done.
 */
export function runSelection(opts: { lesson?: string | undefined; solutions: boolean }): Selection {
  const source: Source = opts.solutions ? 'solutions' : 'lessons';
  if (opts.lesson === undefined) return { kind: 'cumulative', source };
  return { kind: 'verify', id: findLesson(opts.lesson).id, source };
}

export async function load(selection: Selection): Promise<LoadedLesson[]> {
  return loadLessons(selectLessons(selection));
}

type SpawnChild = ProcessSteps['spawnChild'];

/**
 * The same lessons, with the process step's spawnChild wrapped: to count
 * spawns (proof that bad input created nothing), to add flags to the init, …
 */
export function wrapSpawnChild(lessons: LoadedLesson[], wrap: (spawnChild: SpawnChild) => SpawnChild): LoadedLesson[] {
  return lessons.map((l) => {
    const steps = l.lesson.process;
    if (!steps) return l;
    return { ...l, lesson: { ...l.lesson, process: { ...steps, spawnChild: wrap(steps.spawnChild.bind(steps)) } } };
  });
}

/**
 * The first lesson of the manifest, outside `loaded`, whose reference
 * satisfies `has` — what a bad-input message names when an option needs a
 * lesson the selection leaves out ("--net container:NAME: lesson NN-… provides it").
 * Only on that error path: it loads the other lessons' modules.
 */
export async function laterProvider(
  loaded: LoadedLesson[],
  has: (lesson: Lesson) => boolean,
): Promise<string | undefined> {
  const ids = new Set(loaded.map((l) => l.id));
  const refs = manifest()
    .filter((entry) => !ids.has(entry.id))
    .map((entry) => ({ entry, source: 'solutions' as Source }));
  for (const l of await loadLessons(refs)) if (has(l.lesson)) return l.id;
  return undefined;
}
