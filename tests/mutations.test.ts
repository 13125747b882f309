/**
 * Every TODO is checked: putting any single TODO of a lesson back to its
 * starter form (the solution with that one `// [key]` paragraph replaced by
 * the starter's `// TODO [key]:` paragraph) must make at least one of the
 * learner's checks fail — as `verify N` would report it. A mutant that passes
 * names its key: that TODO can be left undone and still earn "done".
 *
 * Also, for every lesson: the markers pair up (tests/support/mutants.ts has
 * the convention), and the hints and findings the checks print for each
 * mutant never contain a line of the solution (the same scan
 * tests/unit/hints.test.ts makes of the manifest and the READMEs).
 *
 * The cgroup-v2 micro-VM runs lesson 05's mutants with the same module
 * (tests/v2vm/guest.vm.ts); here they run on this machine's cgroup version.
 */
import { expect } from 'chai';
import { availableParallelism } from 'node:os';
import { manifest } from '../src/workshop/manifest.js';
import { lessonMarkers, buildMutants, runMutants, uncaught, type MutantOutcome } from './support/mutants.js';
import { printedText, solutionLinesIn } from './support/solution-lines.js';

const lessons = manifest().map(lessonMarkers);

describe('mutation: every TODO is checked', function () {
  this.timeout(900_000);

  describe('TODO markers pair up', function () {
    for (const l of lessons) {
      it(`${l.entry.id}: every starter TODO has its solution paragraph, and the other way round`, function () {
        expect(l.pairing.problems, l.pairing.problems.join('\n')).to.deep.equal([]);
        expect(l.pairing.keys.length, 'no keyed TODO at all').to.be.greaterThan(0);
      });
    }
  });

  describe('each TODO put back to its starter form makes a learner check fail', function () {
    const outcomes = new Map<string, MutantOutcome[]>();
    before(async function () {
      const set = await buildMutants(lessons.filter((l) => l.pairing.problems.length === 0));
      try {
        // The record a reviewer reads: which check caught each TODO, and how long it took.
        // Two at a time: most of a mutant's run is waiting (for a container, a
        // timeout), so two overlap well on two cores; the retries run alone.
        const all = await runMutants(set, {
          workers: Math.min(2, availableParallelism()),
          // Lesson 04 judges the bridge every container shares: its mutants run alone.
          alone: (m) => m.entry.id === '04-net',
          onRun: (o) => {
            // What it found too: a catch by an unrelated check (a run that failed on a busy machine) shows here.
            const found = o.caught ? o.caught.found.replace(/\s+/g, ' ').slice(0, 100) : '';
            const by = o.caught ? `caught by "${o.caught.name}" — ${found}` : 'not caught';
            console.log(`      ${o.mutant.entry.id} [${o.mutant.key}] ${by} (${(o.ms / 1000).toFixed(1)} s)`);
          },
        });
        for (const o of all) {
          const id = o.mutant.entry.id;
          outcomes.set(id, [...(outcomes.get(id) ?? []), o]);
        }
      } finally {
        set.remove();
      }
    });
    for (const l of lessons) {
      it(`${l.entry.id}: ${l.pairing.keys.map((k) => `[${k}]`).join(' ') || '(no keys)'}`, function () {
        const got = outcomes.get(l.entry.id) ?? [];
        expect(
          got.map((o) => o.mutant.key),
          'every key ran',
        ).to.deep.equal(l.pairing.keys);
        expect(uncaught(got), uncaught(got).join('\n')).to.deep.equal([]);
        // What a learner with this TODO undone reads must not be the answer.
        const leaks = got.flatMap((o) =>
          solutionLinesIn(l.entry, printedText(o.checks)).map((line) => `[${o.mutant.key}] prints ${line}`),
        );
        expect(leaks, 'a check prints a line of the solution').to.deep.equal([]);
      });
    }
  });
});
