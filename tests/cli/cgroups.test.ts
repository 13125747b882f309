/**
 * The cgroup commands end to end, as a learner types them: an OOM kill is
 * reported (exit 137, "OOM-killed"), bad limits are refused naming the value,
 * `stats`, `pause` and `unpause` work on a running container — and its cgroup
 * is gone afterwards. Runs on this machine's cgroup version, and in the v2 VM.
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { openCgroup } from '../../src/core/cgroups/index.js';
import { stateFile } from '../../src/core/host/state.js';
import { cellblock, cellblockAsync, scratchEnv } from '../support/cli.js';

const SLOW = Number(process.env['CELLBLOCK_SLOW'] ?? 1) || 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  id: string;
  cpuPercent?: number;
  stats?: { frozen: boolean; memory?: { limit: number | 'max' }; pids?: { current: number; limit: number | 'max' } };
}

function statsOf(id: string): Row {
  const r = cellblock(['stats', id, '--json']);
  expect(r.status, r.stderr).to.equal(0);
  return (JSON.parse(r.stdout) as Row[])[0]!;
}

describe('cellblock run with limits, stats, pause, unpause', function () {
  this.timeout(60_000 * SLOW);

  it('an OOM kill: exit 137 and "OOM-killed" on stderr', function () {
    const r = cellblock([
      'run',
      '--solutions',
      '-m',
      '16m',
      '--memory-swap',
      '16m',
      '--',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=64M',
      'count=1',
    ]);
    expect(r.status, r.stderr).to.equal(137);
    expect(r.stderr).to.match(/OOM-killed: the kernel killed a process in the container for going over --memory 16m/);
  });

  it('-m 6m, docker’s minimum, is enough for a small command', function () {
    const r = cellblock(['run', '--solutions', '-m', '6m', '--memory-swap', '6m', '--', 'echo', 'fits']);
    expect(r.stdout, r.stderr).to.equal('fits\n');
    expect(r.status).to.equal(0);
  });

  for (const [flags, message] of [
    [['-m', '512Q'], /invalid input: --memory 512Q: "512Q" is not a size/],
    [['--memory=-5m'], /invalid input: --memory -5m: "-5m" is negative/],
    [['--memory', '1.5.3G'], /invalid input: --memory 1\.5\.3G: "1\.5\.3G" is not a size/],
    [['--cpus', '0'], /invalid input: --cpus 0: 0 must be more than 0/],
    [['--device-write-bps', '/dev/cellblock-nope:1mb'], /invalid input: --device-write-bps .*does not exist/],
  ] as [string[], RegExp][]) {
    it(`refuses ${flags.join(' ')} before anything exists (125)`, function () {
      const r = cellblock(['run', '--solutions', ...flags, '--', 'true']);
      expect(r.stderr).to.match(message);
      expect(r.stderr).to.include('nothing was created.');
      expect(r.status).to.equal(125);
    });
  }

  it('stats, pause, unpause a running container; its cgroup is gone after it', async function () {
    const id = `cb-cli-${process.pid.toString(36)}`;
    const child = cellblockAsync([
      'run',
      '--solutions',
      '--id',
      id,
      '--cpus',
      '0.5',
      '-m',
      '64m',
      '--pids-limit',
      '20',
      '--',
      'sh',
      '-c',
      'echo ready; while :; do :; done',
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 200 * SLOW && !out.includes('ready'); i++) await sleep(50);
      expect(out).to.include('ready');

      const running = statsOf(id);
      expect(running.stats?.frozen).to.equal(false);
      expect(running.stats?.memory?.limit).to.equal(64 * 1024 * 1024);
      expect(running.stats?.pids).to.deep.include({ current: 1, limit: 20 });
      // 0.5 CPU: 50 % of one CPU, give or take (one 500 ms sample).
      expect(running.cpuPercent).to.be.within(25, 75);

      const table = cellblock(['stats']);
      expect(table.stdout).to.match(new RegExp(`^${id} +\\d+\\.\\d% +[\\d.]+[KM]iB / 64\\.0MiB .* running$`, 'm'));

      expect(cellblock(['pause', id]).stdout).to.equal(`${id} paused\n`);
      const paused = statsOf(id);
      expect(paused.stats?.frozen).to.equal(true);
      expect(paused.cpuPercent).to.be.below(5);
      const again = cellblock(['pause', id]);
      expect(again.status).to.equal(1);
      expect(again.stderr).to.include(`container ${id} is already paused`);

      expect(cellblock(['unpause', id]).stdout).to.equal(`${id} unpaused\n`);
      const resumed = statsOf(id);
      expect(resumed.stats?.frozen).to.equal(false);
      expect(resumed.cpuPercent).to.be.above(20);
    } finally {
      // The busy loop ignores SIGTERM as PID 1: end it for good.
      if (existsSync(stateFile(id))) {
        const pid = (JSON.parse(readFileSync(stateFile(id), 'utf8')) as { pid: number }).pid;
        process.kill(pid, 'SIGKILL');
      } else child.kill('SIGKILL');
    }
    expect(await exited).to.equal(137);
    expect(openCgroup(id).exists(), 'the cgroup is removed').to.equal(false);
  });

  it('verify 05 on the untouched starter fails, with hints drawn from what it found', function () {
    const r = cellblock(['verify', '05'], { env: scratchEnv() });
    expect(r.status).to.equal(1);
    expect(r.stdout).to.include('✗ the container’s /proc/<pid>/cgroup points at its own cgroup, /cellblock/<id>');
    expect(r.stdout).to.match(/found: +it is in /);
    // Said from what was there while the container ran, pointing at the concept and the man page.
    expect(r.stdout).to.match(
      /hint: +there was no \/sys\/fs\/cgroup\/.*cellblock\/<id> while the container ran: a cgroup is a directory .*\(man 7 cgroups/,
    );
    // The learner's v2 code is checked on every machine, and the line says where.
    expect(r.stdout).to.match(/✗ v2, your node:fs code on a fixture cgroup2 tree/);
    expect(r.stdout).to.match(/createCgroup ✗ no <root>\/cellblock\/fixture/);
    expect(r.stdout).to.match(/this machine is cgroup v(1: ran against a fixture here|2: the checks above ran)/);
    expect(r.stdout).to.match(/found: +exit status 0; notes: none\n +hint: +the 64 MB dd was not killed/);
    expect(r.stdout).to.include('cellblock hint 05');
  });

  it('stats, pause and unpause of a container that does not exist say so', function () {
    for (const cmd of ['stats', 'pause', 'unpause']) {
      const r = cellblock([cmd, 'cb-no-such-container']);
      expect(r.status, cmd).to.equal(1);
      expect(r.stderr).to.include('no running container cb-no-such-container');
    }
  });
});
