/** What a run of checks counts for the learner (docs/grading.md), and the rule that keeps `provided` honest. No root. */
import { expect } from 'chai';
import { tally, type CheckOutcome, type LessonReport } from '../../src/workshop/checks.js';
import { starterMismatches } from '../support/starter-rule.js';

const check = (name: string, provided: boolean, ok: boolean, skipped?: string): CheckOutcome => ({
  name,
  provided,
  ok,
  expected: 'x',
  found: ok ? 'x' : 'y',
  ms: 0,
  ...(skipped ? { skipped } : {}),
});

const starterRun = (checks: CheckOutcome[]): LessonReport => ({
  lesson: '09-x',
  source: 'lessons',
  passed: checks.filter((c) => c.ok).length,
  total: checks.length,
  tally: tally(checks),
  ms: 0,
  checks,
});

describe('the learner’s tally', function () {
  it('counts learner checks only; a broken provided check is named', function () {
    expect(
      tally([check('a', false, true), check('b', false, false), check('v', true, true), check('w', true, false)]),
    ).to.deep.equal({ passed: 1, total: 2, broken: ['w'] });
  });

  it('a skipped check counts for neither side: an untouched starter cannot earn a point by it', function () {
    expect(tally([check('a', false, false), check('io', false, true, 'no loop device')])).to.deep.equal({
      passed: 0,
      total: 1,
      broken: [],
    });
  });
});

describe('the starter rule', function () {
  it('holds when the starter passes exactly the provided checks (skipped ones aside)', function () {
    const run = starterRun([check('a', false, false), check('v', true, true), check('io', false, true, 'no loop')]);
    expect(starterMismatches(run)).to.deep.equal([]);
  });

  it('names a provided check the starter fails, and a learner check it passes', function () {
    const m = starterMismatches(starterRun([check('v', true, false), check('a', false, true)]));
    expect(m).to.have.length(2);
    expect(m[0]).to.match(/"v" is marked provided, but the starter fails it/);
    expect(m[1]).to.match(/"a" passes on the untouched starter: mark it `provided: true`/);
  });
});
