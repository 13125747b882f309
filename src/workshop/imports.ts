/**
 * The static half of "a lesson may not use the reference solution": every
 * string literal in the learner's lesson directory that points into
 * solutions/ — `import … from '../../solutions/…'`, `import('…')`,
 * `require('…')`, a path handed to readFileSync. Comments are skipped, so a
 * starter may say "compare with solutions/ afterwards".
 *
 * A literal assembled at run time ('solu' + 'tions') escapes this scan; the
 * runtime guard (guard.ts) refuses the module when it is resolved.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../core/paths.js';
import { filesBelow } from '../core/read.js';
import type { LessonEntry } from './manifest.js';

export interface SolutionReference {
  file: string;
  line: number;
  literal: string;
}

/** String literals (quotes and template strings without ${}) outside comments, with their line. */
export function stringLiterals(code: string): { value: string; line: number }[] {
  const out: { value: string; line: number }[] = [];
  let line = 1;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (c === '\n') line++;
    else if (c === '/' && code[i + 1] === '/') {
      while (i < code.length && code[i] !== '\n') i++;
      line++;
    } else if (c === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      const stop = end < 0 ? code.length : end + 2;
      for (let j = i; j < stop; j++) if (code[j] === '\n') line++;
      i = stop - 1;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = line;
      let value = '';
      let j = i + 1;
      for (; j < code.length && code[j] !== c; j++) {
        if (code[j] === '\\') {
          value += code[j + 1] ?? '';
          j++;
          continue;
        }
        if (code[j] === '\n') line++;
        value += code[j];
      }
      out.push({ value, line: start });
      i = j;
    }
  }
  return out;
}

const POINTS_INTO_SOLUTIONS = /(^|[/\\])solutions([/\\]|$)/;

/** Every reference to solutions/ in the learner's files of one lesson. */
export function solutionReferences(entry: LessonEntry, root = ROOT): SolutionReference[] {
  const files = filesBelow(join(root, 'lessons', entry.id)).filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f));
  return files.flatMap((f) =>
    stringLiterals(readFileSync(f, 'utf8'))
      .filter((s) => POINTS_INTO_SOLUTIONS.test(s.value))
      .map((s) => ({ file: relative(root, f), line: s.line, literal: s.value })),
  );
}
