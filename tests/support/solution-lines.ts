/**
 * "No hint is the answer", as code: the lines a learner writes (a line of the
 * solution that the starter does not have, a call or an assignment), and a
 * scan of any text — a manifest hint, a README, what a check printed — for them.
 */
import { readFileSync } from 'node:fs';
import type { CheckOutcome } from '../../src/workshop/checks.js';
import { sourceFile, type LessonEntry } from '../../src/workshop/manifest.js';

/**
 * Code with its spacing and the punctuation that ends a statement removed,
 * one kind of quote, and C's NULL as JavaScript's null: a README that writes
 * a call C-style still repeats it.
 */
export const squash = (s: string): string =>
  s
    .replace(/\s+/g, '')
    .replace(/[;,]+$/, '')
    .replace(/["`]/g, "'")
    .replace(/\bNULL\b/g, 'null');

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

/**
 * The forms a solution line can be repeated in: as written; as a call without
 * its receiver (`sys.mount(…)` → `mount(…)`); and, for an argument array of
 * four or more strings (`ip(['link', 'set', 'lo', 'up'])`), as the command
 * line it stands for (`link set lo up`).
 */
function forms(line: string): { squashed: string[]; words?: string } {
  const squashed = [line];
  const bare = line.replace(/^(?:[\w$]+\.)+(?=[\w$]+\()/, '');
  if (bare !== line && bare.length >= 16) squashed.push(bare);
  const literals = [...line.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
  return literals.length >= 4 ? { squashed, words: literals.join(' ') } : { squashed };
}

/** The solution lines that appear in any of `texts` (spacing ignored). */
export function solutionLinesIn(entry: LessonEntry, texts: string[]): string[] {
  const lines = learnerLines(entry).map((l) => ({ l, ...forms(l) }));
  const hits = new Set<string>();
  for (const t of texts) {
    const s = squash(t);
    const spaced = t.replace(/\s+/g, ' ');
    for (const { l, squashed, words } of lines) {
      if (squashed.some((f) => s.includes(f)) || (words !== undefined && spaced.includes(words))) hits.add(l);
    }
  }
  return [...hits];
}

/** Everything a run of checks prints for the learner: each check's hint, found and expected. */
export function printedText(checks: CheckOutcome[]): string[] {
  return checks.flatMap((c) => [c.hint ?? '', c.found, c.expected]).filter(Boolean);
}
