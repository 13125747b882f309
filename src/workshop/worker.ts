/**
 * One lesson's checks in a process of their own, for `watch` and `grade`:
 *
 *   node [--import guard.js?lesson=<id>] dist/src/workshop/worker.js <id> <lessons|solutions> [--guard]
 *
 * A fresh process per run because ES modules are cached for the life of a
 * process (a re-import would return the file as it was before the save), and
 * because a learner's module runs code when loaded: whatever it does to globals
 * stays in this process, not in the grader or in the next lesson.
 *
 * Results go out on fd 3, one JSON message per line; the learner's own
 * console output stays on stdout/stderr, where it cannot be mistaken for them.
 */
import { wrapSpawnChild } from './loader.js';
import { writeSync } from 'node:fs';
import type { LoadedLesson } from '../core/lesson.js';
import { runLessonChecks, type CheckOutcome, type LessonReport } from './checks.js';
import { guardImport } from './guard.js';
import { findLesson, type Source } from './manifest.js';

export type WorkerMessage =
  | { type: 'check'; check: CheckOutcome }
  | { type: 'report'; report: LessonReport }
  | { type: 'error'; message: string };

const OUT = 3;

function send(m: WorkerMessage): void {
  writeSync(OUT, `${JSON.stringify(m)}\n`);
}

/** Every container's init gets the same guard: `node --import guard.js?lesson=<id> init.js`. */
function withGuardedInit(lesson: string): (lessons: LoadedLesson[]) => LoadedLesson[] {
  const flag = ['--import', guardImport(lesson)];
  return (lessons) =>
    wrapSpawnChild(lessons, (spawnChild) => (file, args, options) => spawnChild(file, [...flag, ...args], options));
}

async function main(): Promise<void> {
  const [id, source, ...rest] = process.argv.slice(2);
  try {
    const entry = findLesson(id ?? '');
    const guard = rest.includes('--guard');
    const report = await runLessonChecks(
      entry,
      (source ?? 'lessons') as Source,
      (check) => send({ type: 'check', check }),
      guard ? { wrapLessons: withGuardedInit(entry.id) } : {},
    );
    send({ type: 'report', report });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  // Whatever the lesson left running in this process (timers, handles) ends here.
  process.exit(0);
}

await main();
