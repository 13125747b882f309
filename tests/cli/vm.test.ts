/**
 * The workshop VM (vagrant/), verified as far as a machine without a
 * hypervisor allows: the Vagrantfile validates (every provider block included),
 * the provisioning script passes shellcheck and really runs — twice, the
 * second time changing nothing — on a copy of the checkout, both as a local
 * disk and as a synced folder; and the syscall numbers that differ between the
 * two architectures the VM runs on match the kernel headers.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';
import { syscallNumber } from '../../src/native/libc.js';
import { readMountinfo } from '../../src/core/mountinfo.js';
import { learnerCheckout, type Checkout } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

const PROVISION = join(ROOT, 'vagrant', 'provision.sh');

function has(cmd: string): boolean {
  return !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;
}

/** path → size:mtime:mode of every file and link under dir (what a second run must not change). */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      const st = lstatSync(p);
      out.set(rel, `${st.size}:${st.mtimeMs}:${st.mode}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function changedBetween(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

describe('the workshop VM (vagrant/)', function () {
  this.timeout(120_000);

  it('provision.sh passes shellcheck', function () {
    if (!has('shellcheck')) skipBecause(this, 'shellcheck is not installed (apt-get install shellcheck)');
    const r = spawnSync('shellcheck', ['--severity=style', PROVISION, join(ROOT, 'scripts', 'setup.sh')], {
      encoding: 'utf8',
    });
    expect(r.status, r.stdout).to.equal(0);
  });

  it('the Vagrantfile validates, provider blocks included', function () {
    if (!has('vagrant')) skipBecause(this, 'vagrant is not installed (Debian: apt-get install vagrant)');
    // A copy: validate writes .vagrant/ next to the Vagrantfile. libvirt's built-in
    // test driver stands in for a hypervisor, so vagrant-libvirt checks its block
    // (with no usable provider at all, vagrant validate stops before the config).
    const dir = mkdtempSync(join(tmpdir(), 'vagrant-validate-'));
    try {
      cpSync(join(ROOT, 'vagrant'), join(dir, 'vagrant'), { recursive: true, filter: (s) => !s.includes('.vagrant') });
      const env = {
        ...process.env,
        VAGRANT_HOME: join(dir, 'home'),
        VAGRANT_CWD: join(dir, 'vagrant'),
        LIBVIRT_DEFAULT_URI: 'test:///default',
      };
      const r = spawnSync('vagrant', ['validate'], { encoding: 'utf8', env, timeout: 100_000 });
      const out = `${r.stdout}${r.stderr}`;
      if (/provider .* (isn't usable|that exists)/i.test(out)) {
        const p = spawnSync('vagrant', ['validate', '--ignore-provider'], { encoding: 'utf8', env, timeout: 100_000 });
        expect(p.status, `${p.stdout}${p.stderr}`).to.equal(0);
        skipBecause(
          this,
          `core config validated; no provider usable here to check the provider blocks: ${out.split('\n')[0]}`,
        );
      }
      expect(r.status, out).to.equal(0);
      expect(out).to.contain('Vagrantfile validated successfully');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('provision.sh, run twice on this machine', function () {
    let co: Checkout;
    let dest: string;
    let state: string;
    const runs: { r: SpawnSyncReturns<string>; ms: number }[] = [];

    const provision = (extra: NodeJS.ProcessEnv = {}): { r: SpawnSyncReturns<string>; ms: number } => {
      const t0 = Date.now();
      const r = spawnSync('bash', [PROVISION], {
        encoding: 'utf8',
        env: {
          ...process.env,
          CELLBLOCK_DIR: co.dir,
          CELLBLOCK_DESTDIR: dest,
          CELLBLOCK_VM_STATE: state,
          ...extra,
        },
        timeout: 110_000,
      });
      return { r, ms: Date.now() - t0 };
    };

    before(function () {
      if (process.getuid?.() !== 0) skipBecause(this, 'provisioning runs as root');
      if (!existsSync('/etc/os-release') || !/^ID=(debian|ubuntu)$/m.test(readFileSync('/etc/os-release', 'utf8'))) {
        skipBecause(this, 'provisioning is for Debian/Ubuntu');
      }
      const major = Number(process.versions.node.split('.')[0]);
      if (major < 20) skipBecause(this, 'a Node ≥ 20 is needed here, or provisioning would install one');
      co = learnerCheckout();
      dest = mkdtempSync(join(tmpdir(), 'provision-dest-'));
      state = mkdtempSync(join(tmpdir(), 'provision-state-'));
    });

    after(function () {
      co?.remove();
      if (dest) rmSync(dest, { recursive: true, force: true });
      if (state) rmSync(state, { recursive: true, force: true });
    });

    it('first run: a ready machine (the command, the login, the rootfs, the build)', function () {
      runs.push(provision());
      const { r } = runs[0]!;
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/provision: node v\d+/);
      expect(r.stderr).to.match(/provision: ready/);
      // The command a learner types, as root through sudo, with the VM's environment.
      const wrapper = readFileSync(join(dest, 'usr', 'local', 'sbin', 'cellblock'), 'utf8');
      expect(wrapper).to.match(/exec sudo/);
      expect(statSync(join(dest, 'usr', 'local', 'sbin', 'cellblock')).mode & 0o111).to.not.equal(0);
      expect(readFileSync(join(dest, 'etc', 'profile.d', 'cellblock.sh'), 'utf8')).to.contain(`cd ${co.dir}`);
      // cellblockd at boot, through the same wrapper; its shims outlive a restart of it.
      const unit = readFileSync(join(dest, 'etc', 'systemd', 'system', 'cellblockd.service'), 'utf8');
      expect(unit).to.contain(`ExecStart=${join(dest, 'usr', 'local', 'sbin', 'cellblock')} daemon`);
      expect(unit).to.match(/^KillMode=process$/m);
      expect(existsSync(join(co.dir, '.cellblock', 'rootfs', 'bin', 'busybox'))).to.equal(true);
      expect(existsSync(join(co.dir, 'dist', 'src', 'cli', 'main.js'))).to.equal(true);
      // setup.sh's link, under the same prefix: this machine's /usr/local/bin is not touched.
      expect(lstatSync(join(dest, 'usr', 'local', 'bin', 'cellblock')).isSymbolicLink()).to.equal(true);
      // The wrapper works.
      const d = spawnSync(join(dest, 'usr', 'local', 'sbin', 'cellblock'), ['doctor', '--json'], { encoding: 'utf8' });
      const rootfs = (
        JSON.parse(d.stdout) as { findings: { name: string; level: string; value: string }[] }
      ).findings.find((f) => f.name === 'rootfs')!;
      expect(rootfs).to.deep.include({ level: 'ok', value: join(co.dir, '.cellblock', 'rootfs') });
    });

    it('second run: nothing to change, and no file touched', function () {
      const skip = (rel: string): boolean => rel === 'node_modules' || rel.startsWith('.cellblock/progress');
      const before = [snapshot(co.dir, skip), snapshot(dest), snapshot(state)];
      runs.push(provision());
      const { r, ms } = runs[1]!;
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.contain('provision: nothing to change');
      expect(r.stderr).to.not.contain('changed:');
      const after = [snapshot(co.dir, skip), snapshot(dest), snapshot(state)];
      expect(before.flatMap((b, i) => changedBetween(b, after[i]!))).to.deep.equal([]);
      this.test!.title += ` [first ${runs[0]!.ms} ms, second ${ms} ms]`;
    });

    it('as a synced folder: node_modules and the rootfs on the VM’s disk, and again nothing changes the second time', function () {
      // A real node_modules directory to bind over, as on a vboxsf share; the
      // VM-local one holds the packages (hard links: fast, nothing written).
      const synced = learnerCheckout();
      const local = join(state, 'node_modules');
      const nm = join(synced.dir, 'node_modules');
      try {
        rmSync(nm);
        mkdirSync(nm);
        const cp = spawnSync('cp', ['-al', join(ROOT, 'node_modules'), local]);
        if (cp.status !== 0) skipBecause(this, 'cannot hard-link node_modules here');
        const env = { CELLBLOCK_DIR: synced.dir, CELLBLOCK_SYNCED_FOLDER: '1' };
        const first = provision(env);
        expect(first.r.status, first.r.stderr).to.equal(0);
        expect(first.r.stderr).to.match(/is a synced folder/);
        expect(first.r.stderr).to.contain(`changed: bound ${local} on ${nm}`);
        expect(readMountinfo('self').some((m) => m.mountPoint === nm)).to.equal(true);
        const envFile = readFileSync(join(dest, 'etc', 'cellblock.env'), 'utf8');
        expect(envFile).to.contain(`CELLBLOCK_ROOTFS=${join(state, 'rootfs')}`);
        expect(envFile).to.contain(`CELLBLOCK_CONTAINERS_DIR=${join(state, 'containers')}`);
        expect(existsSync(join(state, 'rootfs', 'bin', 'busybox'))).to.equal(true);
        expect(existsSync(join(synced.dir, '.cellblock', 'rootfs'))).to.equal(false);

        const second = provision(env);
        expect(second.r.status, second.r.stderr).to.equal(0);
        expect(second.r.stderr).to.contain('provision: nothing to change');
      } finally {
        spawnSync('umount', [nm], { stdio: 'ignore' });
        synced.remove();
        // Put the local-disk checkout's environment back for anyone after us.
        provision();
      }
    });
  });

  it('the syscall numbers that differ by architecture match the kernel headers (x86_64 and arm64)', function () {
    const headers = {
      x64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
      arm64: '/usr/include/asm-generic/unistd.h', // arm64 uses the generic table
    };
    if (!existsSync(headers.x64) || !existsSync(headers.arm64))
      skipBecause(this, 'no kernel headers (apt-get install linux-libc-dev)');
    // Every syscall the native layer calls by number.
    const used = new Set<string>();
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts'))
          for (const m of readFileSync(p, 'utf8').matchAll(/syscallNumber\('(\w+)'/g)) used.add(m[1]!);
      }
    };
    walk(join(ROOT, 'src'));
    expect(used.size).to.be.greaterThan(0);
    for (const name of used) {
      for (const [arch, file] of Object.entries(headers)) {
        const m = new RegExp(`#define __NR_${name}\\s+(\\d+)`).exec(readFileSync(file, 'utf8'));
        expect(m, `${name} in ${file}`).to.not.equal(null);
        expect(syscallNumber(name, arch), `${name} on ${arch}`).to.equal(Number(m![1]));
      }
    }
  });
});
