/**
 * Hints of checks that escalate with the learner's own request for help: the
 * same counter `cellblock hint` (and `h` in watch) advances, kept in the
 * progress file. A module of its own: the progress module already depends on
 * checks.ts, and checks.ts must not depend back.
 */
import { readProgress } from './progress.js';

/**
 * A check's hint in steps: first what was found and the concept (with its man
 * page), then more precise. Which step a learner reads follows the same
 * counter as `cellblock hint` for the lesson — nothing taken yet, or one: the
 * first; each further hint taken, one step more precise. No step is ever a
 * line of the solution (tests/unit/hints.test.ts).
 */
export function hintSteps(lesson: string, ...steps: string[]): string {
  let taken = 0;
  try {
    taken = readProgress().hints[lesson] ?? 0;
  } catch {
    // No readable progress file: the first step.
  }
  return steps[Math.min(Math.max(taken - 1, 0), steps.length - 1)] ?? '';
}
