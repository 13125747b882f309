/** verify, status, hint and doctor, as a learner (or a grader) uses them. */
import { expect } from 'chai';
import { cellblock, scratchEnv } from '../support/cli.js';

describe('cellblock verify / status / hint / doctor', function () {
  this.timeout(60_000);

  it('verify on the untouched starter fails with expected/found/hint', function () {
    const env = scratchEnv();
    const r = cellblock(['verify', '01'], { env });
    expect(r.status).to.equal(1);
    expect(r.stdout).to.include('✗ the container has its own UTS namespace');
    expect(r.stdout).to.match(/found: +uts:\[\d+\]/);
    // The hint says what was found and where to read, never the line to write.
    expect(r.stdout).to.include('man 7 uts_namespaces').and.not.include('CLONE_NEWUTS');
    expect(r.stdout).to.include('cellblock hint 01');
  });

  it('verify --solutions passes and exits 0', function () {
    const r = cellblock(['verify', '01', '--solutions'], { env: scratchEnv() });
    expect(r.status, r.stdout).to.equal(0);
    expect(r.stdout).to.match(/(\d+)\/\1 checks passed/);
  });

  it('verify --json is a report a grader can parse', function () {
    const r = cellblock(['verify', '00', '--json'], { env: scratchEnv() });
    const report = JSON.parse(r.stdout) as { lesson: string; passed: number; total: number; checks: unknown[] };
    expect(report.lesson).to.equal('00-process');
    expect(report.passed).to.be.lessThan(report.total);
    expect(report.checks).to.have.length(report.total);
    expect(r.status).to.equal(1);
  });

  it('status shows progress after a verify, and --json says what is next', function () {
    const env = scratchEnv();
    // The starter's own passes (provided checks) count for nothing: progress starts at zero.
    expect(cellblock(['verify', '00'], { env }).stdout).to.match(/\n0\/\d+ checks passed/);
    const text = cellblock(['status'], { env });
    expect(text.stdout).to.match(/Progress: \[-+\] 0\/\d+/);
    expect(text.stdout).to.match(/→ next +00-process .*\(0\/\d+\)/);
    const json = JSON.parse(cellblock(['status', '--json'], { env }).stdout) as {
      next: string;
      done: number;
      lessons: { id: string; checks: string | null }[];
    };
    expect(json).to.include({ next: '00-process', done: 0 });
    expect(json.lessons[0]!.checks).to.match(/^0\/[1-9]\d*$/);
  });

  it('hint shows one more hint per call, nudge first', function () {
    const env = scratchEnv();
    const first = cellblock(['hint', '01'], { env }).stdout;
    const second = cellblock(['hint', '01'], { env }).stdout;
    expect(first).to.match(/^Hint 1\/3 \(01-uts\)/);
    expect(second).to.match(/^Hint 2\/3 \(01-uts\)/);
    expect(first).to.not.include('sethostname(');
  });

  it('hint for an unknown lesson names the choices', function () {
    const r = cellblock(['hint', '77'], { env: scratchEnv() });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('no lesson "77": choose one of 00-process');
  });

  // One lookup for every command: a number or a full id. Anything else is a
  // bad command line that names the lessons — never a lesson picked by a guess.
  for (const args of [
    ['watch', '--lesson', 'uts'],
    ['grade', '--lesson', 'uts'],
    ['verify', '99'],
  ]) {
    it(`${args.join(' ')}: exits 2 and names the valid lessons`, function () {
      const r = cellblock(args, { env: scratchEnv() });
      expect(r.status, r.stdout + r.stderr).to.equal(2);
      expect(r.stderr).to.include(`no lesson "${args.at(-1)}": choose one of 00-process, 01-uts`);
      expect(r.stderr).to.match(/or its number: 0, 1, 2/);
      if (args.at(-1) === 'uts') expect(r.stderr).to.include('did you mean 01-uts?');
      expect(r.stdout, 'nothing ran').to.equal('');
    });
  }

  it('doctor reports root, kernel, cgroup mode and the rootfs', function () {
    const r = cellblock(['doctor', '--json']);
    const d = JSON.parse(r.stdout) as { ok: boolean; findings: { name: string; level: string; value: string }[] };
    const names = d.findings.map((f) => f.name);
    for (const n of [
      'root',
      'kernel',
      'architecture',
      'cgroups',
      'overlayfs',
      'veth',
      'inside a container',
      'node',
      'rootfs',
    ]) {
      expect(names).to.include(n);
    }
    expect(d.findings.find((f) => f.name === 'cgroups')!.value).to.match(/^(v1|v2|hybrid)/);
    expect(r.status).to.equal(d.ok ? 0 : 1);
  });
});
