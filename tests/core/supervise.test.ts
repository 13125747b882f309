/**
 * `run --init` (src/core/init/supervise.ts): the init stays PID 1 and runs the
 * command as its child. The command must get exactly what an exec'd command
 * gets — clean fds and signals, its status passed through — and the init must
 * reap whatever ends up re-parented to it.
 */
import { expect } from 'chai';
import type { LoadedLesson } from '../../src/core/lesson.js';
import { InitError } from '../../src/core/init/protocol.js';
import { load } from '../../src/workshop/loader.js';
import { trial } from '../../src/workshop/harness.js';

describe('run --init: the init stays PID 1', function () {
  this.timeout(30_000);
  let lessons: LoadedLesson[];
  before(async () => (lessons = await load({ kind: 'cumulative', source: 'solutions' })));

  const withInit = (argv: string[], over: Record<string, unknown> = {}) =>
    trial(lessons, { config: { argv, init: true, ...over } });

  it('the command is a child of PID 1, with only fds 0, 1 and 2', async function () {
    // `exit 0` keeps sh from exec'ing ls, whose own handle on the directory would be listed too.
    const t = await withInit(['sh', '-c', 'echo "ppid=$PPID"; ls /proc/$$/fd; exit 0']);
    expect(t.stdout).to.equal('ppid=1\n0\n1\n2\n');
    expect(t.leaks).to.deep.equal([]);
  });

  it('no signal is ignored or blocked in the command', async function () {
    const t = await withInit(['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']);
    expect(t.stdout).to.equal('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('passes the status through: exit code, 128 + signal', async function () {
    expect((await withInit(['sh', '-c', 'exit 7'])).status).to.equal(7);
    expect((await withInit(['sh', '-c', 'kill -TERM $$'])).status).to.equal(143);
  });

  it('a missing command is 127 and a non-executable one 126, as without --init', async function () {
    const missing = await withInit(['no-such-command']);
    expect(missing.error).to.be.instanceOf(InitError).with.property('exitCode', 127);
    expect(missing.error?.message).to.match(/execve\(no-such-command\): ENOENT/);
    const notExec = await withInit(['/etc/passwd']);
    expect(notExec.error).to.be.instanceOf(InitError).with.property('exitCode', 126);
  });

  it('runs in the working directory given with -w', async function () {
    expect((await withInit(['pwd'], { cwd: '/tmp' })).stdout).to.equal('/tmp\n');
  });

  it('ends when the command ends, even with a grandchild still running (the kernel kills it)', async function () {
    const t0 = performance.now();
    const t = await withInit(['sh', '-c', 'sleep 30 & exit 0']);
    expect(t.status).to.equal(0);
    expect(performance.now() - t0).to.be.lessThan(5000);
    expect(t.leaks).to.deep.equal([]);
  });
});
