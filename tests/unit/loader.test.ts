/** Which implementation of each lesson runs. No root needed. */
import { expect } from 'chai';
import { findLesson, manifest, UnknownLessonError } from '../../src/workshop/manifest.js';
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

  it('finds lessons by number or full id, and nothing else', function () {
    expect(findLesson('1').id).to.equal('01-uts');
    expect(findLesson('01').id).to.equal('01-uts');
    expect(findLesson('01-uts').id).to.equal('01-uts');
    expect(findLesson(' 01-UTS ').id).to.equal('01-uts');
    expect(() => findLesson('42')).to.throw(UnknownLessonError, /no lesson "42": choose one of 00-process, 01-uts/);
    for (const q of ['uts', '', '1.0', '-1', '01-ut', 'x01'])
      expect(() => findLesson(q), q).to.throw(UnknownLessonError);
  });

  it('an unknown lesson lists every id and number, and suggests the one a name points at', function () {
    const err = (q: string): UnknownLessonError => {
      try {
        findLesson(q);
      } catch (e) {
        return e as UnknownLessonError;
      }
      throw new Error(`${q} was found`);
    };
    expect(err('uts').suggestion).to.equal('01-uts');
    expect(err('cgroup').suggestion).to.equal('05-cgroups');
    expect(err('99').suggestion).to.equal(undefined);
    for (const l of manifest()) {
      expect(err('99').message).to.contain(l.id);
      expect(err('99').choices).to.match(new RegExp(`number: .*\\b${Number(l.id.slice(0, 2))}\\b`));
    }
  });

  it('loads each module from the tree it was asked for', async function () {
    const [zero, one] = await load({ kind: 'verify', id: '01-uts', source: 'lessons' });
    expect(zero!.file).to.match(/dist\/solutions\/00-process\/process\.js$/);
    expect(one!.file).to.match(/dist\/lessons\/01-uts\/uts\.js$/);
    expect(one!.lesson.id).to.equal('01-uts');
  });
});
