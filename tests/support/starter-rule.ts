/**
 * The rule that keeps `provided: true` honest (docs/grading.md): run against
 * the untouched starter, a lesson's checks split exactly into those it passes
 * (provided: no credit) and those it fails (the learner's part). Used on the
 * host (tests/lessons.test.ts) and in the cgroup-v2 VM (tests/v2vm/guest.vm.ts).
 */
import type { LessonReport } from '../../src/workshop/checks.js';

/**
 * Every check whose declaration the starter's run contradicts, as a sentence.
 * A check that could not look on this machine (skipped) proves nothing either
 * way, and is left out.
 */
export function starterMismatches(r: LessonReport): string[] {
  return r.checks.flatMap((c) => {
    if (c.skipped || c.ok === c.provided) return [];
    return c.provided
      ? [`"${c.name}" is marked provided, but the starter fails it (found: ${c.found}): remove \`provided: true\``]
      : [
          `"${c.name}" passes on the untouched starter: mark it \`provided: true\` (it earns no credit), or make it test the learner's part`,
        ];
  });
}
