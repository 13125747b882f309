/**
 * The workshop loop as a learner meets it: `run --lesson N` on the reference
 * of the lessons before N, what lesson 00's TODO says, one "next lesson"
 * everywhere, `hint --all` revealing nothing new, and what Ctrl-C says.
 */
import { once } from 'node:events';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../src/core/paths.js';
import { expect } from 'chai';
import { manifest } from '../../src/workshop/manifest.js';
import { learnerCheckout } from '../support/checkout.js';
import { cellblock, cellblockAsync, scratchEnv } from '../support/cli.js';

describe('the workshop loop', function () {
  this.timeout(60_000);

  describe('run --lesson N', function () {
    it('runs the learner’s lesson on the reference of the lessons before it', function () {
      // The untouched lesson-00 starter cannot start anything; with --lesson 01 it is not used.
      const plain = cellblock(['run', '--', 'echo', 'hi']);
      expect(plain.status, plain.stderr).to.equal(125);
      const r = cellblock(['run', '--lesson', '01', '--', 'echo', 'hi']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('hi\n');
      const eq = cellblock(['run', '--lesson=03', '--', 'echo', 'hi']);
      expect(eq.status, eq.stderr).to.equal(0);
    });

    it('loads only the lessons up to N: a later lesson’s option is unknown', function () {
      const r = cellblock(['run', '--lesson', '01', '--hostname', 'box', '--memory', '10m', '--', 'true']);
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.include('memory');
    });

    it('an unknown lesson names the choices', function () {
      const r = cellblock(['run', '--lesson', '77', '--', 'true']);
      expect(r.stderr).to.include('no lesson "77": choose one of 00-process');
    });

    it('lesson 00’s TODO names the user’s command, not the node binary', function () {
      const r = cellblock(['run', '--', 'echo', 'hi']);
      expect(r.stderr).to.include('cannot start `echo hi`').and.include('TODO (lesson 00)');
      expect(r.stderr).to.not.include(process.execPath);
    });
  });

  describe('one next lesson', function () {
    it('verify of the last lesson, with earlier ones pending, names the same next lesson as status', function () {
      this.timeout(240_000);
      const co = learnerCheckout();
      try {
        const last = manifest().at(-1)!;
        cpSync(join(ROOT, 'solutions', last.id), join(co.dir, 'lessons', last.id), { recursive: true });
        const env = { CELLBLOCK_PROGRESS: join(co.dir, '.cellblock', 'progress.json') };
        const v = co.run(['verify', last.id.slice(0, 2)], { env });
        expect(v.status, v.stdout + v.stderr).to.equal(0);
        const first = manifest()[0]!;
        expect(v.stdout).to.not.include('last lesson');
        expect(v.stdout).to.include(`Next: ${first.id}`);
        const status = JSON.parse(co.run(['status', '--json'], { env }).stdout) as { next: string };
        expect(status.next).to.equal(first.id);
      } finally {
        co.remove();
      }
    });
  });

  describe('hint --all', function () {
    it('shows every hint so far and reveals no new one', function () {
      const env = scratchEnv();
      const none = cellblock(['hint', '01', '--all'], { env }).stdout;
      expect(none).to.include('No hint of 01-uts shown yet');
      cellblock(['hint', '01'], { env });
      const all = cellblock(['hint', '01', '--all'], { env }).stdout;
      expect(all).to.match(/^Hint 1\/3 \(01-uts\)/);
      expect(all).to.not.include('Hint 2/3');
      expect(cellblock(['hint', '01'], { env }).stdout, 'the next plain hint is still the second').to.match(
        /^Hint 2\/3/,
      );
    });
  });

  describe('Ctrl-C', function () {
    it('a container that ends on SIGINT: no "press Ctrl-C twice more"', async function () {
      const p = cellblockAsync([
        'run',
        '--solutions',
        '--',
        'sh',
        '-c',
        'trap "exit 130" INT; echo ready; while :; do sleep 0.05; done',
      ]);
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve) =>
        p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
      );
      const exited = once(p, 'exit');
      p.kill('SIGINT');
      const [code] = (await exited) as [number];
      expect(code).to.equal(130);
      expect(stderr).to.not.include('twice more');
    });

    it('a PID 1 that ignores SIGINT: the message comes, and the third Ctrl-C kills it', async function () {
      // `sleep` as PID 1 has no handler: the kernel drops SIGINT for it (lesson 02).
      const p = cellblockAsync(['run', '--solutions', '--', 'sleep', '30']);
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(p, 'exit');
      await new Promise((r) => setTimeout(r, 2500));
      p.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 700));
      expect(stderr).to.include('press Ctrl-C twice more');
      // Signals of one kind do not queue: two sent at once may arrive as one.
      for (let i = 0; i < 2; i++) {
        p.kill('SIGINT');
        await new Promise((r) => setTimeout(r, 300));
      }
      const [code] = (await exited) as [number];
      expect(code).to.equal(137);
    });
  });
});
