/** The recording implementation of Sys: what it records, fails and answers, and that it never loads koffi. */
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { MNT_DETACH } from '../../src/native/constants.js';
import { SyscallError } from '../../src/native/errors.js';
import { recordingSys } from './recording-sys.js';

/**
 * Imports the given modules in a fresh `node` and lists what of koffi got in:
 * its JS files in the CommonJS module cache (koffi is CommonJS, and an ESM
 * import of it goes through that cache too) and its native addon among the
 * process's shared objects.
 */
const PROBE = `
import { createRequire } from 'node:module';
for (const url of process.argv.slice(1)) await import(url);
const koffi = /[\\\\/]koffi[\\\\/.]/;
const modules = Object.keys(createRequire(process.cwd() + '/').cache).filter((p) => koffi.test(p));
const objects = process.report.getReport().sharedObjects.filter((p) => koffi.test(p));
console.log(JSON.stringify({ modules, objects }));
`;

function koffiAfterImporting(...relative: string[]): { modules: string[]; objects: string[] } {
  const urls = relative.map((r) => new URL(r, import.meta.url).href);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE, ...urls], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as { modules: string[]; objects: string[] };
}

describe('the recording sys', function () {
  this.timeout(20_000);

  it('loads no koffi: a fresh node that imports it has neither koffi’s modules nor its addon', function () {
    expect(koffiAfterImporting('./recording-sys.js')).to.deep.equal({ modules: [], objects: [] });
  });

  it('(the probe sees koffi when it is there: the libc sys loads it)', function () {
    const seen = koffiAfterImporting('../../src/native/index.js');
    expect(seen.modules.join()).to.match(/koffi/);
    expect(seen.objects.join()).to.match(/koffi\.node/);
  });

  it('the reference lessons 01–03 load no koffi either: their steps need nothing but the sys they are given', function () {
    expect(
      koffiAfterImporting(
        './recording-sys.js',
        '../../solutions/01-uts/uts.js',
        '../../solutions/02-pid/pid.js',
        '../../solutions/03-mount/mount.js',
      ),
    ).to.deep.equal({ modules: [], objects: [] });
  });

  it('records every call, in order, with its arguments as given', function () {
    const { sys, calls } = recordingSys();
    sys.unshare(0x20000000);
    sys.chdir('/rootfs');
    sys.umount2('.', MNT_DETACH);
    expect(calls).to.deep.equal([
      { name: 'unshare', args: [0x20000000] },
      { name: 'chdir', args: ['/rootfs'] },
      { name: 'umount2', args: ['.', MNT_DETACH] },
    ]);
  });

  it('answers plausibly: PID 1, parent 0, the hostname last set, makedev’s real arithmetic (unrecorded)', function () {
    const { sys, calls } = recordingSys();
    expect([sys.getpid(), sys.getppid(), sys.gethostname()]).to.deep.equal([1, 0, 'recorded']);
    sys.sethostname('box');
    expect(sys.gethostname()).to.equal('box');
    expect(sys.makedev(1, 3)).to.equal(0x103n);
    expect(calls.map((c) => c.name)).to.deep.equal(['getpid', 'getppid', 'gethostname', 'sethostname', 'gethostname']);
  });

  it('takes other answers, and still records the call', function () {
    const { sys, calls } = recordingSys({}, { getpid: () => 7 });
    expect(sys.getpid()).to.equal(7);
    expect(calls).to.deep.equal([{ name: 'getpid', args: [] }]);
  });

  it('fails a call by name with the errno asked for, as the libc binding would: syscall, code, path, hint', function () {
    const { sys, calls } = recordingSys({ pivot_root: 'EINVAL' });
    expect(() => sys.pivot_root('/new', '/new/old'))
      .to.throw(SyscallError, /^pivot_root\(\/new\): EINVAL — new_root must be a mount point/)
      .that.includes({ syscall: 'pivot_root', code: 'EINVAL', path: '/new' });
    expect(calls).to.deep.equal([{ name: 'pivot_root', args: ['/new', '/new/old'] }]); // tried, then failed
  });

  it('fails one call only when asked per call', function () {
    const { sys, calls } = recordingSys((call) =>
      call.name === 'mount' && call.args[1] === '/b' ? 'EBUSY' : undefined,
    );
    sys.mount('tmpfs', '/a', 'tmpfs', 0, null);
    expect(() => sys.mount('tmpfs', '/b', 'tmpfs', 0, null)).to.throw(SyscallError, /^mount\(\/b\): EBUSY/);
    expect(() => sys.mount('tmpfs', '/c', 'tmpfs', 0, null)).to.not.throw();
    expect(calls.map((c) => c.args[1])).to.deep.equal(['/a', '/b', '/c']);
  });
});
