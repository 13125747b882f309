/** `cellblock watch`'s state machine: keys in, the next state and effects out. No terminal, no root. */
import { expect } from 'chai';
import { current, startState, step, type Effect, type WatchState } from '../../src/cli/watch/state.js';
import { manifest, UnknownLessonError, type LessonEntry } from '../../src/workshop/manifest.js';
import type { Progress } from '../../src/workshop/progress.js';

const lesson = (id: string): LessonEntry => ({ id, title: id, file: 'x.ts', hints: [] });
const none: Progress = { lessons: {}, hints: {} };
const done = (...ids: string[]): Progress => ({
  lessons: Object.fromEntries(ids.map((id) => [id, { passed: true, checks: '1/1', at: 'x' }])),
  hints: {},
});

/** Keys one after the other: the state after the last, and every effect asked for on the way. */
function press(s: WatchState, ...keys: string[]): { state: WatchState; effects: Effect[] } {
  const effects: Effect[] = [];
  for (const key of keys) {
    const r = step(s, { type: 'key', key });
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

describe('watch: the state machine', function () {
  // Lessons 00–06 only, not the whole manifest: later lessons are added (07–12) while these keys stay the same.
  const lessons = manifest().filter((l) => Number(l.id.slice(0, 2)) <= 6);

  describe('where it starts', function () {
    it('at the first lesson not done', function () {
      expect(current(startState(lessons, none)).id).to.equal('00-process');
      expect(current(startState(lessons, done('00-process', '01-uts'))).id).to.equal('02-pid');
    });
    it('at the last lesson when every one is done', function () {
      expect(current(startState(lessons, done(...lessons.map((l) => l.id)))).id).to.equal(lessons.at(-1)!.id);
    });
    it('at --lesson, by number or id; anything else is an error, not lesson 00', function () {
      expect(current(startState(lessons, none, '3')).id).to.equal('03-mount');
      expect(current(startState(lessons, none, '03-mount')).id).to.equal('03-mount');
      expect(() => startState(lessons, none, 'uts')).to.throw(UnknownLessonError, /did you mean|choose one of/);
      expect(() => startState(lessons, none, '99')).to.throw(UnknownLessonError);
    });
  });

  it('n: the next lesson is checked at once; on the last one it says so', function () {
    // The last two lessons of the manifest, whichever they are.
    const [before, final] = [lessons.at(-2)!.id, lessons.at(-1)!.id];
    const s = startState(lessons, none, before);
    const r = press(s, 'n');
    expect(current(r.state).id).to.equal(final);
    expect(r.effects).to.deep.equal([{ type: 'check', reason: `lesson ${final}` }]);
    const last = press(r.state, 'n');
    expect(current(last.state).id).to.equal(final);
    expect(last.effects).to.deep.equal([{ type: 'last-lesson' }]);
  });

  it('h, l, c: a hint, the list, every lesson', function () {
    expect(press(startState(lessons, none), 'h', 'l', 'c').effects.map((e) => e.type)).to.deep.equal([
      'hint',
      'list',
      'check-all',
    ]);
  });

  it('r asks first: y resets, anything else does not (and is not taken as a key)', function () {
    const s = startState(lessons, none, '01');
    const asked = press(s, 'r');
    expect(asked.state.confirming).to.equal(true);
    expect(asked.effects).to.deep.equal([{ type: 'ask-reset' }]);
    expect(press(asked.state, 'y').effects).to.deep.equal([{ type: 'reset' }]);
    const no = press(asked.state, 'n');
    expect(no.effects).to.deep.equal([{ type: 'not-reset' }]);
    expect(current(no.state).id, '"n" answered the question, it did not move on').to.equal('01-uts');
    expect(no.state.confirming).to.equal(false);
  });

  it('q, Ctrl-C, Ctrl-D, the end of input and a signal quit, with their status', function () {
    const s = startState(lessons, none);
    for (const k of ['q', '\x03', '\x04']) expect(press(s, k).effects).to.deep.equal([{ type: 'quit', code: 0 }]);
    expect(step(s, { type: 'end', code: 130 }).effects).to.deep.equal([{ type: 'quit', code: 130 }]);
  });

  describe('typing a lesson number', function () {
    it('one digit goes there at once when no longer number starts with it', function () {
      const r = press(startState(lessons, none), '4');
      expect(current(r.state).id).to.equal('04-net');
      expect(r.effects).to.deep.equal([{ type: 'check', reason: 'lesson 04-net' }]);
      expect(r.state.digits).to.equal('');
    });
    it('a number no lesson has is ignored', function () {
      const r = press(startState(lessons, none, '2'), '9');
      expect(current(r.state).id).to.equal('02-pid');
      expect(r.effects).to.deep.equal([]);
    });
    it('with lessons 1 and 10–12, "1" waits for a second digit; "1","1" is 11; "1" and a pause is 1', function () {
      const many = ['00-a', '01-b', '02-c', '10-k', '11-l', '12-m'].map(lesson);
      const s = startState(many, none);
      const one = press(s, '1');
      expect(one.effects).to.deep.equal([{ type: 'wait-for-digit' }]);
      expect(current(one.state).id).to.equal('00-a');
      expect(current(press(one.state, '1').state).id).to.equal('11-l');
      const paused = step(one.state, { type: 'digits-timeout' });
      expect(current(paused.state).id).to.equal('01-b');
      expect(paused.state.digits).to.equal('');
    });
  });

  it('remembers whether the last finished run was done: the farewell says so', function () {
    let s = startState(lessons, none);
    expect(s.lastDone).to.equal(undefined);
    s = step(s, { type: 'checked', done: true }).state;
    expect(s.lastDone).to.equal(true);
    expect(step(s, { type: 'checked', done: false }).state.lastDone).to.equal(false);
  });
});
