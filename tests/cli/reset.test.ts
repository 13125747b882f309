/**
 * `cellblock reset N`: asks first, keeps the learner's file, restores the
 * starter (from git), forgets the lesson's progress, and cleans the kernel.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { learnerCheckout, type Checkout } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

describe('cellblock reset', function () {
  this.timeout(60_000);
  let co: Checkout;
  let uts: string;
  let starter: string;
  const mine = '// my attempt\n';

  before(function () {
    co = learnerCheckout({ git: true });
    uts = join(co.dir, 'lessons', '01-uts', 'uts.ts');
    starter = readFileSync(uts, 'utf8');
  });
  after(() => co?.remove());

  it('asks first: anything but yes keeps the file', function () {
    writeFileSync(uts, mine);
    const r = co.run(['reset', '01'], { input: 'n\n' });
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(
      /Reset lessons\/01-uts\/uts\.ts to the starter\? Your version is backed up first\. \[y\/N\]/,
    );
    expect(r.stdout).to.contain('Not reset.');
    expect(readFileSync(uts, 'utf8')).to.equal(mine);
    // End of input (no terminal, nothing typed) is a no, too.
    expect(co.run(['reset', '01']).status).to.equal(1);
    expect(readFileSync(uts, 'utf8')).to.equal(mine);
  });

  it('yes: the starter is back, the learner’s file kept, the lesson’s progress and hints forgotten', function () {
    writeFileSync(
      join(co.dir, '.cellblock', 'progress.json'),
      JSON.stringify({
        lessons: {
          '00-process': { passed: true, checks: '7/7', at: 'x' },
          '01-uts': { passed: false, checks: '4/7', at: 'x' },
        },
        hints: { '01-uts': 2 },
      }),
    );
    const r = co.run(['reset', '01-uts'], { input: 'y\n' });
    expect(r.status, r.stderr).to.equal(0);
    expect(readFileSync(uts, 'utf8')).to.equal(starter);
    const backup = /Your version is kept in (\S+?)\.\n/.exec(r.stdout)![1]!;
    expect(backup).to.match(/^\.cellblock\/backups\/01-uts\/uts\.ts\./);
    expect(readFileSync(join(co.dir, backup), 'utf8')).to.equal(mine);
    const progress = JSON.parse(readFileSync(join(co.dir, '.cellblock', 'progress.json'), 'utf8')) as {
      lessons: Record<string, unknown>;
      hints: Record<string, unknown>;
    };
    expect(Object.keys(progress.lessons)).to.deep.equal(['00-process']);
    expect(progress.hints).to.deep.equal({});
    // Again: nothing to restore, nothing backed up.
    const again = co.run(['reset', '1', '--yes']);
    expect(again.stdout).to.contain('already is the starter');
    expect(again.stdout).to.not.contain('kept in');
  });

  it('a learner who committed over the starter: --from takes it from an earlier commit', function () {
    writeFileSync(uts, mine);
    co.git(['commit', '-qam', 'my work']);
    expect(co.run(['reset', '01', '--yes']).stdout).to.contain('already is the starter'); // HEAD is theirs now
    const r = co.run(['reset', '01', '--yes', '--from', 'HEAD~1']);
    expect(r.status, r.stderr).to.equal(0);
    expect(readFileSync(uts, 'utf8')).to.equal(starter);
  });

  it('tears down what the lesson’s runs left in the kernel', function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (a veth leftover)');
    if (spawnSync('ip', ['-V']).status !== 0) skipBecause(this, 'no iproute2');
    const veth = `cbv${randomBytes(3).toString('hex')}r`;
    spawnSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]);
    try {
      expect(existsSync(`/sys/class/net/${veth}`)).to.equal(true);
      const r = co.run(['reset', '01', '--yes']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`removed veth\\s+${veth}`));
      expect(existsSync(`/sys/class/net/${veth}`)).to.equal(false);
    } finally {
      spawnSync('ip', ['link', 'del', veth], { stdio: 'ignore' });
    }
  });

  it('without git history it says what to do instead', function () {
    rmSync(join(co.dir, '.git'), { recursive: true, force: true });
    writeFileSync(uts, mine);
    const r = co.run(['reset', '01', '--yes']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/cannot find the starter of lessons\/01-uts\/uts\.ts: this checkout has no git history/);
    expect(r.stderr).to.match(/→ download lessons\/01-uts\/uts\.ts again/);
    expect(readFileSync(uts, 'utf8')).to.equal(mine);
  });

  it('an unknown lesson is an error that lists the lessons', function () {
    const r = co.run(['reset', '99', '--yes']);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/no lesson "99": choose one of 00-process, 01-uts/);
  });
});
