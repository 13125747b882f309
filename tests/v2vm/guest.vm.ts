/**
 * Runs *inside* the cgroup-v2 micro-VM (scripts/v2vm/run.sh), started by
 * tests/v2vm/v2vm.test.ts: lesson 05's gate — every check passes on the
 * reference solution, the untouched starter passes exactly the provided ones
 * and fails the rest — exactly as tests/lessons.test.ts does on the host, with
 * the patience an emulated CPU needs. (Named .vm.ts so the host's suite does not pick it up.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { cgroupMode } from '../../src/core/cgroups/index.js';
import { LEFTOVER_CHECK, loadChecks, runLessonChecks, type LessonReport } from '../../src/workshop/checks.js';
import { findLesson } from '../../src/workshop/manifest.js';
import { starterMismatches } from '../support/starter-rule.js';

const entry = findLesson('05');
/** What verify would print, kept for the README's samples (the host copies it to .cellblock/v2vm/). */
function keep(report: LessonReport, source: string): void {
  const out = process.env['CELLBLOCK_V2VM_OUT'];
  if (out) writeFileSync(join(out, `lesson05-${source}.json`), JSON.stringify(report.checks, null, 2));
}

const names = [...(await loadChecks(entry)).checks.map((c) => c.name), LEFTOVER_CHECK];

describe(`lesson ${entry.id} on cgroup ${cgroupMode()}`, function () {
  this.timeout(900_000);

  describe('reference solution', function () {
    let report: LessonReport;
    before(async function () {
      report = await runLessonChecks(entry, 'solutions');
      keep(report, 'solutions');
    });
    for (const name of names) {
      it(name, function () {
        const c = report.checks.find((x) => x.name === name);
        expect(c, `check "${name}" did not run`).to.not.equal(undefined);
        expect(c!.ok, `expected: ${c!.expected}\nfound:    ${c!.found}`).to.equal(true);
      });
    }
  });

  describe('starter', function () {
    it('passes exactly its provided checks, and fails the learner’s', async function () {
      const report = await runLessonChecks(entry, 'lessons');
      keep(report, 'lessons');
      expect(starterMismatches(report), 'the `provided` flags do not match the starter on v2').to.deep.equal([]);
      const failed = report.checks.filter((c) => !c.ok);
      expect(failed.length, 'the untouched starter passes every check').to.be.greaterThan(0);
      for (const c of failed) expect(c.found, c.name).to.not.equal('');
    });
  });
});
