/**
 * The TODO-marker convention the mutation test relies on
 * (tests/support/mutants.ts), on small made-up files: a mistake in a lesson's
 * markers is reported as a sentence that names the file, the line and the fix.
 */
import { expect } from 'chai';
import { markers, mutate, pairMarkers } from '../support/mutants.js';

const labels = { starter: 'lessons/x/x.ts', solution: 'solutions/x/x.ts' };

const STARTER = [
  'export default {',
  '  // TODO [flag]: ask for it.',
  '  // HINT: man 2 unshare.',
  '  flags: () => 0,',
  '',
  '  // TODO [init]: set it.',
  '  init() {},',
  '};',
].join('\n');

const SOLUTION = [
  'export default {',
  '  // [flag] why the flag.',
  '  flags: () => 1,',
  '',
  '  // [init] why the call.',
  '  init() {',
  '    set();',
  '  },',
  '};',
].join('\n');

describe('TODO markers', function () {
  it('pair up key for key, in order', function () {
    expect(pairMarkers(STARTER, SOLUTION, labels)).to.deep.equal({ keys: ['flag', 'init'], problems: [] });
  });

  it('a mutant is the solution with one paragraph put back to the starter’s', function () {
    const m = mutate(STARTER, SOLUTION, 'flag');
    expect(m).to.include('flags: () => 0,').and.include('set();').and.not.include('flags: () => 1');
    expect(mutate(STARTER, SOLUTION, 'init'))
      .to.include('init() {},')
      .and.include('flags: () => 1,');
  });

  it('a starter without markers fails, and says how to write one', function () {
    const bare = STARTER.replace(/TODO \[\w+\]:/g, 'TODO:');
    const p = pairMarkers(bare, SOLUTION, labels);
    expect(p.keys).to.deep.equal([]);
    expect(p.problems.join('\n')).to.match(
      /lessons\/x\/x\.ts:2: a TODO without a key — write it as `\/\/ TODO \[some-key\]/,
    );
    expect(markers('const a = 1;\n', 'starter', 'lessons/y.ts').problems).to.deep.equal([
      'lessons/y.ts: no `// TODO [key]: …` marker — a starter needs at least one keyed TODO',
    ]);
  });

  it('a solution missing a paragraph fails, naming the key and the file', function () {
    const p = pairMarkers(STARTER, SOLUTION.replace('// [init] why', '// why'), labels);
    expect(p.keys).to.deep.equal(['flag']);
    expect(p.problems).to.deep.equal(["solutions/x/x.ts: no `// [init]` paragraph for the starter's TODO [init]"]);
  });

  it('a solution paragraph with no TODO fails too', function () {
    const p = pairMarkers(STARTER.replace('// TODO [init]: set it.', '// set it.'), SOLUTION, labels);
    expect(p.problems.join('\n')).to.match(
      /lessons\/x\/x\.ts: no `\/\/ TODO \[init\]:` for the solution's paragraph \[init\]/,
    );
  });

  it('two TODOs in one paragraph, or a key used twice, are reported', function () {
    const joined = STARTER.replace('flags: () => 0,\n\n', 'flags: () => 0,\n');
    expect(markers(joined, 'starter', 'a.ts').problems.join('\n')).to.match(
      /a\.ts:5: \[init\] starts inside the paragraph of \[flag\]/,
    );
    const twice = STARTER.replace('[init]', '[flag]');
    expect(markers(twice, 'starter', 'a.ts').problems.join('\n')).to.match(/the key \[flag\] is used twice/);
    const inner = STARTER.replace('// HINT: man 2 unshare.', '// TODO: more.');
    expect(markers(inner, 'starter', 'a.ts').problems.join('\n')).to.match(
      /a\.ts:3: a second TODO inside the paragraph of \[flag\]/,
    );
  });
});
