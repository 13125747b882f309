/** The default rootfs script: offline, complete, idempotent. */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';

/** Every path with its type, mode, mtime and link target: any change shows. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${p} ${st.mode.toString(8)} ${st.mtimeMs} ${st.isSymbolicLink() ? readlinkSync(p) : st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('scripts/build-rootfs.sh', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = join(mkdtempSync(join(tmpdir(), 'cellblock-rootfs-')), 'rootfs')));
  after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  const build = () => spawnSync('bash', [join(ROOT, 'scripts', 'build-rootfs.sh'), dir], { encoding: 'utf8' });

  it('builds a busybox rootfs with one link per applet', function () {
    const r = build();
    expect(r.status, r.stderr).to.equal(0);
    const applets = spawnSync(join(dir, 'bin', 'busybox'), ['--list'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n');
    expect(applets.length).to.be.greaterThan(100);
    for (const a of ['sh', 'ls', 'ps', 'hostname', 'mount', 'ping', 'ip']) {
      expect(applets, a).to.include(a);
    }
    expect(readlinkSync(join(dir, 'bin', 'sh'))).to.equal('/bin/busybox');
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root'])
      expect(lstatSync(join(dir, d)).isDirectory(), d).to.equal(true);
    expect(lstatSync(join(dir, 'tmp')).mode & 0o1777).to.equal(0o1777);
  });

  it('the busybox in it is static (it must run with no libraries in the container)', function () {
    const r = spawnSync('ldd', [join(dir, 'bin', 'busybox')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).to.match(/not a dynamic executable|statically linked/);
  });

  it('a second run changes nothing', function () {
    const before = snapshot(dir);
    const r = build();
    expect(r.status, r.stderr).to.equal(0);
    expect(snapshot(dir)).to.deep.equal(before);
  });
});
