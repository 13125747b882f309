/**
 * "No hint is the answer", as code: the lines a learner writes (a line of the
 * solution that the starter does not have, a call or an assignment), and a
 * scan of any text — a manifest hint, a README, what a check printed — for them.
 */
import { readFileSync } from 'node:fs';
import type { CheckOutcome } from '../../src/workshop/checks.js';
import { sourceFile, type LessonEntry } from '../../src/workshop/manifest.js';

/** Code with its spacing and the punctuation that ends a statement removed. */
export const squash = (s: string): string => s.replace(/\s+/g, '').replace(/[;,]+$/, '');

/** The lines of code the learner writes: in the solution, not in the starter, not comments; squashed. */
export function learnerLines(entry: LessonEntry): string[] {
  const starter = new Set(readFileSync(sourceFile(entry, 'lessons'), 'utf8').split('\n').map(squash));
  return readFileSync(sourceFile(entry, 'solutions'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('//') && !l.startsWith('*') && !l.startsWith('/*'))
    .map(squash)
    .filter((l) => !starter.has(l))
    .filter((l) => l.length >= 16 && /[(=]/.test(l)); // a call or an assignment, not a lone brace
}

/** The solution lines that appear in any of `texts` (spacing ignored). */
export function solutionLinesIn(entry: LessonEntry, texts: string[]): string[] {
  const lines = learnerLines(entry);
  const hits = new Set<string>();
  for (const t of texts) {
    const s = squash(t);
    for (const l of lines) if (s.includes(l)) hits.add(l);
  }
  return [...hits];
}

/** Everything a run of checks prints for the learner: each check's hint, found and expected. */
export function printedText(checks: CheckOutcome[]): string[] {
  return checks.flatMap((c) => [c.hint ?? '', c.found, c.expected]).filter(Boolean);
}
