/**
 * The lesson gate, for every lesson in the manifest:
 *  - each check passes against the reference solution (one `it` per check);
 *  - the untouched starter fails at least one check of its own lesson, and
 *    carries at least one TODO — so a learner always has something to do, and
 *    the checks can tell done from not done.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { loadChecks, runLessonChecks, type LessonReport } from '../src/workshop/checks.js';
import { manifest, sourceFile } from '../src/workshop/manifest.js';
import { skipBecause } from './support/skip.js';

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
      const names = [...(namesById.get(entry.id) ?? []), 'nothing is left behind (processes, mounts, links, cgroups)'];
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
      it('fails at least one of its own checks', async function () {
        const report = await runLessonChecks(entry, 'lessons');
        const failed = report.checks.filter((c) => !c.ok);
        expect(
          failed.length,
          'the untouched starter passes every check: the checks cannot tell done from not done',
        ).to.be.greaterThan(0);
        // A failing check must say what it found: an empty "found" helps nobody.
        for (const c of failed) expect(c.found, c.name).to.not.equal('');
      });
      it('has at least one TODO for the learner', function () {
        expect(readFileSync(sourceFile(entry, 'lessons'), 'utf8')).to.match(/TODO/);
      });
    });
  });
}
