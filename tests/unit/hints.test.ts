/**
 * Hints nudge; they never hand over the answer. For every lesson, none of
 * these contains a line the learner is meant to write (a line of the solution
 * that the starter does not have, tests/support/solution-lines.ts), so none
 * can be pasted in as is:
 *  - the manifest's hints (`cellblock hint`), at least two of them;
 *  - the lesson's README;
 *  - every string literal of its checks file — each step of every hint a
 *    check can print, found or expected text, whichever the learner sees.
 * What the checks actually print is scanned too, from real runs: against the
 * untouched starter (tests/lessons.test.ts) and against every mutant
 * (tests/mutations.test.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { hintSteps } from '../../src/workshop/hint-steps.js';
import { manifest, ROOT } from '../../src/workshop/manifest.js';
import { solutionLinesIn } from '../support/solution-lines.js';

/** The string literals of a TypeScript file: '…', "…" and `…` (template holes kept as they are). */
function stringLiterals(source: string): string[] {
  const out: string[] = [];
  const re = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g;
  for (const m of source.matchAll(re)) out.push(m[0].slice(1, -1));
  return out;
}

describe('lesson hints', function () {
  for (const entry of manifest()) {
    describe(entry.id, function () {
      it('the manifest hints are progressive, and none is a line of the solution', function () {
        expect(entry.hints.length, 'at least a nudge and a more precise hint').to.be.at.least(2);
        for (const [i, hint] of entry.hints.entries()) {
          expect(solutionLinesIn(entry, [hint]), `hint ${i + 1} of ${entry.id} gives the answer away`).to.deep.equal(
            [],
          );
        }
      });

      it('the README repeats no line of the solution', function () {
        const readme = join(ROOT, 'lessons', entry.id, 'README.md');
        if (!existsSync(readme)) this.skip();
        const text = readFileSync(readme, 'utf8');
        expect(solutionLinesIn(entry, text.split('\n')), `lessons/${entry.id}/README.md`).to.deep.equal([]);
      });

      it('no string its checks can print is a line of the solution', function () {
        const source = readFileSync(join(ROOT, 'tests', `${entry.id}.checks.ts`), 'utf8');
        expect(solutionLinesIn(entry, stringLiterals(source)), `tests/${entry.id}.checks.ts`).to.deep.equal([]);
      });
    });
  }

  it('the scan finds a solution line when there is one', function () {
    const entry = manifest().find((l) => l.id === '01-uts')!;
    const line = readFileSync(join(ROOT, 'solutions', entry.id, entry.file), 'utf8')
      .split('\n')
      .find((l) => l.includes('sethostname('))!;
    expect(solutionLinesIn(entry, [`try this: ${line.trim()}`])).to.have.length(1);
  });

  it('a check’s hint gets more precise with the `cellblock hint` counter of its lesson', function () {
    const dir = mkdtempSync(join(tmpdir(), 'cellblock-hints-'));
    const saved = process.env['CELLBLOCK_PROGRESS'];
    process.env['CELLBLOCK_PROGRESS'] = join(dir, 'progress.json');
    const at = (taken: number | undefined): string => {
      writeFileSync(
        process.env['CELLBLOCK_PROGRESS']!,
        JSON.stringify({ lessons: {}, hints: taken === undefined ? {} : { '01-uts': taken } }),
      );
      return hintSteps('01-uts', 'nudge', 'closer', 'precise');
    };
    try {
      expect([at(undefined), at(0), at(1), at(2), at(3), at(9)]).to.deep.equal([
        'nudge',
        'nudge',
        'nudge',
        'closer',
        'precise',
        'precise',
      ]);
      rmSync(process.env['CELLBLOCK_PROGRESS']!);
      expect(hintSteps('01-uts', 'nudge', 'closer'), 'no progress file yet').to.equal('nudge');
    } finally {
      if (saved === undefined) delete process.env['CELLBLOCK_PROGRESS'];
      else process.env['CELLBLOCK_PROGRESS'] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
