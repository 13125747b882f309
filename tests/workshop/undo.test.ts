/**
 * A learner's mistake must not leak the machine: every undo step of every
 * lesson runs on its own. For each lesson with host-side undo steps, each of
 * its steps in turn is made to throw (as a wrong iptables rule made lesson
 * 04's unpublishPort throw): the failure is reported once, by name, the other
 * steps still run, and the leak probe (the inventories) finds nothing left.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { runUndoSteps, type LoadedLesson, type UndoFailure, type UndoSteps } from '../../src/core/lesson.js';
import { leftoverResult } from '../../src/workshop/checks.js';
import { trial, type TrialOptions } from '../../src/workshop/harness.js';
import { load } from '../../src/workshop/loader.js';
import { stopLoopbackProxies } from '../../src/core/net/publish.js';

describe('undo steps', function () {
  describe('runUndoSteps', function () {
    it('runs every step in order, records each failure once with its name, and never throws', async function () {
      const ran: string[] = [];
      const failures: UndoFailure[] = [];
      await runUndoSteps(
        '04-net',
        {
          first: () => ran.push('first'),
          broken: () => {
            throw new Error('iptables: Bad rule');
          },
          later: async () => {
            await new Promise((r) => setTimeout(r, 5));
            ran.push('later');
          },
          'rejects too': () => Promise.reject(new Error('async failure')),
        },
        failures,
      );
      expect(ran).to.deep.equal(['first', 'later']);
      expect(failures.map((f) => `${f.lesson}/${f.step}`)).to.deep.equal(['04-net/broken', '04-net/rejects too']);
    });
  });

  describe('the final check names the step that threw', function () {
    it('once, with the runs it failed in, and a summary instead of every path', function () {
      const failure = '05-cgroups: undo step "remove the cgroup" threw: EBUSY';
      const removed = Array.from({ length: 70 }, (_, i) => `cgroup /sys/fs/cgroup/x/cb-${i}`);
      const r = leftoverResult([
        { leaks: [], undoFailures: [failure], leftoversRemoved: removed.slice(0, 40) },
        { leaks: [], undoFailures: [failure], leftoversRemoved: removed.slice(40) },
      ]);
      expect(r.ok).to.equal(false);
      expect(r.found.split(failure).length - 1, r.found).to.equal(1);
      expect(r.found).to.include('(in 2 runs)').and.include('70 items:').and.include('(67 more)');
      expect(r.hint).to.include('05-cgroups: undo step "remove the cgroup"');
      expect(r.hint).to.not.include('something is created and never undone');
      expect(leftoverResult([{ leaks: [], undoFailures: [], leftoversRemoved: [] }]).ok).to.equal(true);
      // A missing destroy(): one cgroup per hierarchy per run — a count and the first few, not 70 paths.
      const leaks = removed.map((r) => `${r} (new on the host after the run)`);
      const left = leftoverResult([{ leaks, undoFailures: [], leftoversRemoved: [] }]);
      expect(left.found).to.match(/^left: 70 items: cgroup \S+cb-0 \(new on the host after the run\); /);
      expect(left.found.length).to.be.lessThan(400);
      expect(left.hint).to.include('something is created and never undone');
    });
  });

  describe('a throwing step leaves nothing behind (real kernel, reference lessons)', function () {
    this.timeout(120_000);

    // Each lesson with host-side undo, and a run that gives every one of its steps something to undo.
    // (A new host port each time: the loopback proxy is a server in this process, and with its
    // step planted it stays — in `cellblock run` it ends with the process.)
    const cases: { lesson: string; config: (n: number) => TrialOptions['config'] }[] = [
      {
        lesson: '04-net',
        config: (n) => ({ argv: ['sh', '-c', 'read _'], publish: [`${18470 + n}:80`], name: 'undo' }),
      },
      { lesson: '05-cgroups', config: () => ({ argv: ['sh', '-c', 'read _'], memory: '64m', 'pids-limit': '50' }) },
      { lesson: '06-overlay', config: () => ({ argv: ['sh', '-c', 'echo x > /file; read _'] }) },
    ];

    /** The lessons with `lesson`'s undo going through `plant`: it sees, and may change, the steps. */
    function planted(lessons: LoadedLesson[], lesson: string, plant: (steps: UndoSteps) => UndoSteps): LoadedLesson[] {
      return lessons.map((l) => {
        const cleanup = l.lesson.hostCleanup;
        if (l.id !== lesson || !cleanup) return l;
        return {
          ...l,
          lesson: {
            ...l.lesson,
            hostCleanup: (ctx) => cleanup({ ...ctx, undo: (steps) => ctx.undo(plant(steps)) }),
          },
        };
      });
    }

    for (const { lesson, config } of cases) {
      it(`${lesson}: each undo step in turn throws — reported once by name, nothing left`, async function () {
        const lessons = await load({ kind: 'verify', id: lesson, source: 'solutions' });
        let names: string[] = [];
        const clean = await trial(
          planted(lessons, lesson, (s) => ((names = Object.keys(s)), s)),
          {
            config: config(0),
          },
        );
        expect(clean.error, clean.stderr).to.equal(undefined);
        expect(clean.undoFailures).to.deep.equal([]);
        expect(clean.leaks).to.deep.equal([]);
        expect(names.length, `${lesson} declares its undo steps through ctx.undo`).to.be.greaterThan(1);

        for (const [i, name] of names.entries()) {
          const t = await trial(
            planted(lessons, lesson, (steps) => ({
              ...steps,
              [name]: () => {
                throw new Error(`planted failure in "${name}"`);
              },
            })),
            { config: config(i + 1) },
          );
          await stopLoopbackProxies(t.config.id);
          expect(t.error, `${name}: ${t.stderr}`).to.equal(undefined);
          expect(t.undoFailures, name).to.deep.equal([
            `${lesson}: undo step "${name}" threw: planted failure in "${name}"`,
          ]);
          expect(t.leaks, `${name} threw: what is left ${t.leaks.map(describePid).join(' / ')}`).to.deep.equal([]);
        }
      });
    }
  });
});

/** For a leaked process: what it is, to tell a leftover from another container's process. */
function describePid(leak: string): string {
  const pid = /^process (\d+)/.exec(leak)?.[1];
  if (!pid) return '';
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const keep = status.split('\n').filter((l) => /^(Name|State|PPid|NSpid):/.test(l));
    return `${pid}: ${keep.join(', ')} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`;
  } catch {
    return `${pid}: gone`;
  }
}
