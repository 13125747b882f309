/**
 * Hints nudge; they never hand over the answer. For every lesson: at least two
 * hints, and none contains a line the learner is meant to write (a line of the
 * solution that the starter does not have), so no hint can be pasted in as is.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { manifest, sourceFile } from '../../src/workshop/manifest.js';

/** Code with its spacing and the punctuation that ends a statement removed. */
const squash = (s: string): string => s.replace(/\s+/g, '').replace(/[;,]+$/, '');

/** The lines of code the learner writes: in the solution, not in the starter, not comments. */
function learnerLines(id: string): string[] {
  const entry = manifest().find((l) => l.id === id)!;
  const starter = new Set(readFileSync(sourceFile(entry, 'lessons'), 'utf8').split('\n').map(squash));
  return readFileSync(sourceFile(entry, 'solutions'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('//') && !l.startsWith('*') && !l.startsWith('/*'))
    .map(squash)
    .filter((l) => !starter.has(l))
    .filter((l) => l.length >= 16 && /[(=]/.test(l)); // a call or an assignment, not a lone brace
}

describe('lesson hints', function () {
  for (const entry of manifest()) {
    it(`${entry.id}: progressive, and none is a line of the solution`, function () {
      expect(entry.hints.length, 'at least a nudge and a more precise hint').to.be.at.least(2);
      const lines = learnerLines(entry.id);
      for (const [i, hint] of entry.hints.entries()) {
        const pasted = lines.filter((l) => squash(hint).includes(l));
        expect(pasted, `hint ${i + 1} of ${entry.id} gives the answer away`).to.deep.equal([]);
      }
    });
  }
});
