/**
 * The lesson gate, for every lesson in the manifest:
 *  - each check passes against the reference solution (one `it` per check);
 *  - the untouched starter passes exactly the checks marked `provided` and
 *    fails every other one — so grades count only the learner's work, and
 *    the checks can tell done from not done;
 *  - what the checks print on the starter contains no line of the solution;
 *  - the starter carries at least one TODO: a learner always has something to do.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { LEFTOVER_CHECK, loadChecks, runLessonChecks, type LessonReport } from '../src/workshop/checks.js';
import { manifest, sourceFile } from '../src/workshop/manifest.js';
import { skipBecause } from './support/skip.js';
import { printedText, solutionLinesIn } from './support/solution-lines.js';
import { starterMismatches } from './support/starter-rule.js';

// Check names are loaded up front so mocha can list one `it` per check.
const namesById = new Map<string, string[]>();
for (const entry of manifest()) {
  namesById.set(
    entry.id,
    (await loadChecks(entry)).checks.map((c) => c.name),
  );
}

for (const entry of manifest()) {
  describe(`lesson ${entry.id} — ${entry.title}`, function () {
    this.timeout(120_000);

    describe('reference solution', function () {
      let report: LessonReport;
      before(async function () {
        report = await runLessonChecks(entry, 'solutions');
      });
      // One test per check, named after it: a grader reads the list as the spec.
      const names = [...(namesById.get(entry.id) ?? []), LEFTOVER_CHECK];
      for (const name of names) {
        it(name, function () {
          const c = report.checks.find((x) => x.name === name);
          expect(c, `check "${name}" did not run: ${JSON.stringify(report.checks.map((x) => x.name))}`).to.not.equal(
            undefined,
          );
          if (c!.skipped) skipBecause(this, c!.skipped);
          expect(c!.ok, `expected: ${c!.expected}\nfound:    ${c!.found}`).to.equal(true);
        });
      }
    });

    describe('starter', function () {
      it('passes exactly its provided checks, and fails every one of the learner’s', async function () {
        const report = await runLessonChecks(entry, 'lessons');
        expect(starterMismatches(report), 'the `provided` flags of the checks do not match the starter').to.deep.equal(
          [],
        );
        const failed = report.checks.filter((c) => !c.ok);
        expect(
          failed.length,
          'the untouched starter passes every check: the checks cannot tell done from not done',
        ).to.be.greaterThan(0);
        // A failing check must say what it found: an empty "found" helps nobody.
        for (const c of failed) expect(c.found, c.name).to.not.equal('');
        // What the learner reads on the first try must not be the answer.
        expect(
          solutionLinesIn(entry, printedText(report.checks)),
          'a check prints a line of the solution',
        ).to.deep.equal([]);
      });
      it('has at least one TODO for the learner', function () {
        expect(readFileSync(sourceFile(entry, 'lessons'), 'utf8')).to.match(/TODO/);
      });
    });
  });
}
