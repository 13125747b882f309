/**
 * `cellblock doctor`: every finding a broken environment needs explained, a
 * fix line for each problem, and the problems it must notice.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { ROOT as ROOT_DIR } from '../../src/core/paths.js';
import { commandFinding, osFinding, type Finding } from '../../src/workshop/doctor.js';
import { cli } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

interface DoctorJson {
  ok: boolean;
  cellblock: string;
  findings: Finding[];
}

function doctor(env: NodeJS.ProcessEnv = {}): { status: number | null; json: DoctorJson } {
  const r = cli(['doctor', '--json'], { env });
  return { status: r.status, json: JSON.parse(r.stdout) as DoctorJson };
}

describe('cellblock doctor', function () {
  this.timeout(30_000);

  it('reports everything that explains a broken environment', function () {
    const { json } = doctor();
    const names = json.findings.map((f) => f.name);
    expect(names).to.include.members([
      'root',
      'kernel',
      'architecture',
      'cgroups',
      'overlayfs',
      'veth',
      'inside a container',
      'node',
      'npm',
      'iproute2',
      'rootfs',
      'os',
      'unshare',
      'user namespaces',
      'userns helper',
      'idmapped layers',
      '/etc/subuid',
      'newuidmap',
      'rootless network',
      'busybox',
      'checkout',
      'cellblock command',
      'leftovers',
      'workshop files',
    ]);
    const cgroups = json.findings.find((f) => f.name === 'cgroups')!;
    expect(cgroups.value).to.match(/^(v2|v1|hybrid|none)/);
    expect(cgroups.value).to.match(/controllers: /);
    expect(json.findings.find((f) => f.name === 'architecture')!.value).to.equal(process.arch);
    expect(json.findings.find((f) => f.name === 'node')!.value).to.equal(process.version);
    for (const f of json.findings) {
      expect(['ok', 'warn', 'fail']).to.include(f.level);
      if (f.level !== 'ok')
        expect(f.fix, `${f.name} has a problem and no fix line`).to.be.a('string').and.not.equal('');
    }
  });

  it('a missing rootfs fails, with the command that makes it', function () {
    const r = cli(['doctor'], { env: { CELLBLOCK_ROOTFS: '/nonexistent/rootfs' } });
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(/\[FAIL\] rootfs\s+\/nonexistent\/rootfs missing\n\s+fix: bash scripts\/setup\.sh/);
    // One block to paste: a rule, the findings, a rule, then the summary.
    expect(r.stdout).to.match(
      /^-{72}\ncellblock doctor · cellblock \S+ · \S+\n[\s\S]*\n-{72}\n\d+ problem\(s\): [^\n]*rootfs/,
    );
  });

  it('leftovers from an earlier run are a warning that says `cellblock cleanup`', function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (a veth leftover)');
    const veth = `cbv${randomBytes(3).toString('hex')}d`;
    if (spawnSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]).status !== 0) {
      skipBecause(this, 'cannot create a veth pair here');
    }
    try {
      const f = doctor().json.findings.find((x) => x.name === 'leftovers')!;
      expect(f.level).to.equal('warn');
      expect(f.value).to.match(/\d+ from earlier runs \(.*veth.*\)/);
      expect(f.fix).to.equal('cellblock cleanup');
    } finally {
      spawnSync('ip', ['link', 'del', veth], { stdio: 'ignore' });
    }
  });

  it('not root is a warning — containers run rootless — with the fix for the workshop', function () {
    const runuser = spawnSync('runuser', ['--help'], { stdio: 'ignore' });
    if (process.getuid?.() !== 0 || runuser.error) skipBecause(this, 'needs root and runuser to become nobody');
    const r = spawnSync(
      'runuser',
      [
        '-u',
        'nobody',
        '--',
        process.execPath,
        '--input-type=module',
        '-e',
        "await (await import(process.argv[1])).main(['doctor', '--json'])",
        new URL('../../src/cli/main.js', import.meta.url).href,
      ],
      { encoding: 'utf8', env: { PATH: process.env['PATH'], NO_COLOR: '1' } },
    );
    if (r.status !== 0 && r.status !== 1)
      skipBecause(this, `nobody cannot run this checkout: ${r.stderr.split('\n')[0]}`);
    const root = (JSON.parse(r.stdout) as DoctorJson).findings.find((f) => f.name === 'root')!;
    expect(root.level).to.equal('warn');
    expect(root.value).to.match(
      new RegExp(
        `^uid ${spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim()}: containers run rootless`,
      ),
    );
    expect(root.fix).to.match(/sudo/);
  });

  it('an outdated VM box is a warning that says how to get a current one', function () {
    const dir = mkdtempSync(join(tmpdir(), 'os-release-'));
    try {
      const file = join(dir, 'os-release');
      writeFileSync(file, 'PRETTY_NAME="Ubuntu 20.04.6 LTS"\nID=ubuntu\nVERSION_ID="20.04"\n');
      const old = osFinding(file);
      expect(old.level).to.equal('warn');
      expect(old.fix).to.match(/vagrant box update && vagrant destroy -f && vagrant up/);
      writeFileSync(file, 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n');
      expect(osFinding(file)).to.deep.equal({ name: 'os', level: 'ok', value: 'Ubuntu 24.04.1 LTS' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('which checkout the `cellblock` command runs', function () {
    const ROOT = resolve(ROOT_DIR);
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cellblock-path-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('doctor: a link to a deleted checkout fails, with setup in this checkout as the fix', function () {
      symlinkSync('/nonexistent/checkout/src/bin/cellblock.mjs', join(dir, 'cellblock'));
      const f = commandFinding(`/nonexistent-bin:${dir}`, ROOT);
      expect(f.level).to.equal('fail');
      expect(f.value).to.include('/nonexistent/checkout/src/bin/cellblock.mjs, which no longer exists');
      expect(f.fix).to.include(`cd ${ROOT} && sudo bash scripts/setup.sh`);
    });

    it('doctor: this checkout, another one, or none on PATH', function () {
      symlinkSync(join(ROOT, 'src', 'bin', 'cellblock.mjs'), join(dir, 'cellblock'));
      expect(commandFinding(dir, ROOT)).to.deep.include({ level: 'ok' });
      expect(commandFinding(dir, ROOT).value).to.include(`this checkout (${ROOT})`);
      const other = commandFinding(dir, '/some/other/checkout');
      expect(other.level).to.equal('warn');
      expect(other.value).to.include(`runs another checkout: ${ROOT}`);
      expect(commandFinding('/nonexistent-bin', ROOT)).to.deep.include({ level: 'warn', value: 'not on PATH' });
    });

    it('setup relinks a dangling link and says which checkout the command runs', function () {
      if (process.getuid?.() !== 0) skipBecause(this, 'setup.sh needs root');
      const bin = join(dir, 'usr', 'local', 'bin', 'cellblock');
      mkdirSync(join(bin, '..'), { recursive: true });
      symlinkSync('/nonexistent/checkout/src/bin/cellblock.mjs', bin);
      const r = spawnSync('bash', [join(ROOT, 'scripts', 'setup.sh')], {
        encoding: 'utf8',
        env: { ...process.env, CELLBLOCK_DESTDIR: dir },
        timeout: 300_000,
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(readlinkSync(bin)).to.equal(join(ROOT, 'src', 'bin', 'cellblock.mjs'));
      expect(r.stderr).to.include('/nonexistent/checkout/src/bin/cellblock.mjs, which no longer exists: relinked');
      expect(r.stderr).to.include(`runs this checkout: ${ROOT}`);
    });
  });
});
