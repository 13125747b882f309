/** Which implementation of each lesson runs. No root needed. */
import { expect } from 'chai';
import { findLesson, manifest } from '../../src/workshop/manifest.js';
import { load, selectLessons } from '../../src/workshop/loader.js';

describe('lesson loader', function () {
  it('verify N: the learner’s N, the reference before it, nothing after it', function () {
    const refs = selectLessons({ kind: 'verify', id: '01-uts', source: 'lessons' });
    expect(refs.map((r) => `${r.source}/${r.entry.id}`)).to.deep.equal(['solutions/00-process', 'lessons/01-uts']);
  });

  it('verify N --solutions: the reference throughout', function () {
    const refs = selectLessons({ kind: 'verify', id: '01-uts', source: 'solutions' });
    expect(refs.every((r) => r.source === 'solutions')).to.equal(true);
  });

  it('cumulative: every lesson of the manifest from one tree', function () {
    const refs = selectLessons({ kind: 'cumulative', source: 'lessons' });
    expect(refs.map((r) => r.entry.id)).to.deep.equal(manifest().map((l) => l.id));
    expect(refs.every((r) => r.source === 'lessons')).to.equal(true);
  });

  it('refuses an unknown lesson', function () {
    expect(() => selectLessons({ kind: 'verify', id: '99-nope', source: 'lessons' })).to.throw(/no lesson 99-nope/);
  });

  it('finds lessons by number, id or name', function () {
    expect(findLesson('1').id).to.equal('01-uts');
    expect(findLesson('01').id).to.equal('01-uts');
    expect(findLesson('uts').id).to.equal('01-uts');
    expect(findLesson('01-uts').id).to.equal('01-uts');
    expect(() => findLesson('42')).to.throw(/no lesson "42": choose one of 00-process/);
  });

  it('loads each module from the tree it was asked for', async function () {
    const [zero, one] = await load({ kind: 'verify', id: '01-uts', source: 'lessons' });
    expect(zero!.file).to.match(/dist\/solutions\/00-process\/process\.js$/);
    expect(one!.file).to.match(/dist\/lessons\/01-uts\/uts\.js$/);
    expect(one!.lesson.id).to.equal('01-uts');
  });
});
