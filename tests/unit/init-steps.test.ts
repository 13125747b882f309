/** Container-side steps, run against a recording `sys`: no root, no kernel state. */
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import * as C from '../../src/native/constants.js';
import { SyscallError } from '../../src/native/errors.js';
import { sys as libcSys } from '../../src/native/index.js';
import { makedev } from '../../src/native/sysmacros.js';
import { guardedSys, HostNamespaceError, readNamespaces } from '../../src/core/init/guard.js';
import { lookPath } from '../../src/core/init/exec.js';
import type { Lesson } from '../../src/core/lesson.js';
import type { Source } from '../../src/workshop/manifest.js';
import { load } from '../../src/workshop/loader.js';
import { recordingSys, type Call } from './recording-sys.js';
import { testConfig } from '../support/config.js';

describe('container-side steps (recorded)', function () {
  it('01-uts asks for CLONE_NEWUTS and sets the given hostname', async function () {
    const [, uts] = await load({ kind: 'verify', id: '01-uts', source: 'solutions' });
    const { sys, calls } = recordingSys();
    expect(uts!.lesson.cloneFlags!(testConfig())).to.equal(C.CLONE_NEWUTS);
    await uts!.lesson.init!(testConfig({ hostname: 'box01' }), sys);
    expect(calls).to.deep.equal([{ name: 'sethostname', args: ['box01'] }]);
  });

  it('01-uts falls back to the container id', async function () {
    const [, uts] = await load({ kind: 'verify', id: '01-uts', source: 'solutions' });
    const { sys, calls } = recordingSys();
    await uts!.lesson.init!(testConfig(), sys);
    expect(calls[0]!.args).to.deep.equal(['cb-unit']);
  });

  it('an EPERM from the kernel reaches the caller with its hint', async function () {
    const [, uts] = await load({ kind: 'verify', id: '01-uts', source: 'solutions' });
    const { sys } = recordingSys({ sethostname: 'EPERM' });
    expect(() => uts!.lesson.init!(testConfig({ hostname: 'x' }), sys)).to.throw(
      /sethostname\(x\): EPERM — needs root/,
    );
  });

  it('the guard refuses sethostname while still in the host’s UTS namespace', function () {
    const { sys, calls } = recordingSys();
    const guarded = guardedSys(sys, readNamespaces()); // "host" = this very process
    expect(() => guarded.sethostname('oops')).to.throw(HostNamespaceError, /CLONE_NEWUTS/);
    expect(() => guarded.pivot_root('.', '.')).to.throw(HostNamespaceError, /CLONE_NEWNS/);
    expect(calls).to.deep.equal([]); // never reached the kernel
  });

  it('the guard lets calls through once the namespace differs', function () {
    const { sys, calls } = recordingSys();
    const guarded = guardedSys(sys, { uts: 'uts:[1]' });
    guarded.sethostname('fine');
    expect(calls).to.deep.equal([{ name: 'sethostname', args: ['fine'] }]);
  });

  it('the guard wraps the libc sys the same way: refused before the binding is called, the rest passed through', function () {
    // Arguments the kernel would reject anyway (a 65-byte name, missing paths):
    // should the guard ever let one through, the host still stays as it is.
    const guarded = guardedSys(libcSys, readNamespaces());
    const missing = '/nonexistent-cellblock-guard-test';
    expect(() => guarded.sethostname('x'.repeat(65))).to.throw(HostNamespaceError, /CLONE_NEWUTS/);
    expect(() => guarded.mount(null, missing, null, C.MS_REC | C.MS_PRIVATE, null)).to.throw(HostNamespaceError);
    expect(() => guarded.pivot_root(missing, missing)).to.throw(HostNamespaceError, /CLONE_NEWNS/);
    expect(guarded.getpid()).to.equal(process.pid);
  });
});

/** A lesson's own module, from the reference (solutions) or the untouched starter (lessons). */
async function lessonOf(id: string, source: Source): Promise<Lesson> {
  return (await load({ kind: 'verify', id, source })).find((l) => l.id === id)!.lesson;
}

describe('02-pid steps (recorded)', function () {
  it('asks for CLONE_NEWPID; the init checks getpid() once and goes on as PID 1', async function () {
    const pid = await lessonOf('02-pid', 'solutions');
    const { sys, calls } = recordingSys(); // getpid() answers 1
    expect(pid.cloneFlags!(testConfig())).to.equal(C.CLONE_NEWPID);
    expect(() => pid.init!(testConfig(), sys)).to.not.throw();
    expect(calls).to.deep.equal([{ name: 'getpid', args: [] }]);
  });

  it('any other pid stops the container with an error that names it', async function () {
    const pid = await lessonOf('02-pid', 'solutions');
    for (const other of [2, 4242]) {
      const { sys } = recordingSys({}, { getpid: () => other });
      expect(() => pid.init!(testConfig(), sys)).to.throw(Error, new RegExp(`\\bPID ${other}\\b`));
    }
  });

  it('the untouched starter asks for no namespace and never looks at its pid', async function () {
    const starter = await lessonOf('02-pid', 'lessons');
    const { sys, calls } = recordingSys({}, { getpid: () => 4242 });
    expect(starter.cloneFlags!(testConfig())).to.equal(0);
    expect(() => starter.init!(testConfig(), sys)).to.not.throw();
    expect(calls).to.deep.equal([]);
  });
});

describe('03-mount steps (recorded)', function () {
  // The steps also make directories and symlinks with node:fs: give them a
  // scratch rootfs, and a mknod that leaves a file for the chmod after it.
  let rootfs: string;
  beforeEach(function () {
    rootfs = mkdtempSync(join(tmpdir(), 'cellblock-steps03-'));
  });
  afterEach(function () {
    rmSync(rootfs, { recursive: true, force: true });
  });
  const placeholderNodes = { mknod: (pathname: string) => writeFileSync(pathname, '') };

  /** What the reference asks of the kernel, in order (runc's prepareRootfs, then pivotRoot). */
  const mounts = (r: string): Call[] => [
    // 1. propagation first, for everything under /: nothing below may reach the host
    { name: 'mount', args: [null, '/', null, C.MS_REC | C.MS_PRIVATE, null] },
    // 2. the rootfs becomes a mount point
    { name: 'mount', args: [r, r, null, C.MS_BIND | C.MS_REC, null] },
    // 3. /proc, /dev (its nodes, pts, shm), /sys read-only
    { name: 'mount', args: ['proc', `${r}/proc`, 'proc', C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, null] },
    { name: 'mount', args: ['tmpfs', `${r}/dev`, 'tmpfs', C.MS_NOSUID | C.MS_STRICTATIME, 'mode=755,size=65536k'] },
    ...(
      [
        ['null', 1, 3],
        ['zero', 1, 5],
        ['full', 1, 7],
        ['random', 1, 8],
        ['urandom', 1, 9],
        ['tty', 5, 0],
      ] as const
    ).map(([name, major, minor]): Call => ({
      name: 'mknod',
      args: [`${r}/dev/${name}`, C.S_IFCHR | 0o666, makedev(major, minor)],
    })),
    {
      name: 'mount',
      args: ['devpts', `${r}/dev/pts`, 'devpts', C.MS_NOSUID | C.MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620'],
    },
    {
      name: 'mount',
      args: ['shm', `${r}/dev/shm`, 'tmpfs', C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, 'mode=1777,size=65536k'],
    },
    { name: 'mount', args: ['sysfs', `${r}/sys`, 'sysfs', C.MS_RDONLY | C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, null] },
  ];
  const reference = (r: string): Call[] => [
    ...mounts(r),
    // 4. into the rootfs, swap the roots, detach the host's tree, start from the new /
    { name: 'chdir', args: [r] },
    { name: 'pivot_root', args: ['.', '.'] },
    { name: 'umount2', args: ['.', C.MNT_DETACH] },
    { name: 'chdir', args: ['/'] },
  ];

  it('asks for CLONE_NEWNS and makes exactly the reference’s calls, in order, with their flags', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const { sys, calls } = recordingSys({}, placeholderNodes);
    expect(mount.cloneFlags!(testConfig())).to.equal(C.CLONE_NEWNS);
    await mount.init!(testConfig({ rootfs }), sys);
    expect(calls).to.deep.equal(reference(rootfs));
    expect(readlinkSync(join(rootfs, 'dev', 'ptmx'))).to.equal('pts/ptmx'); // the node:fs part ran too
  });

  it('--chroot: the same mounts, then chdir, chroot(".") and chdir("/") — no pivot_root', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const { sys, calls } = recordingSys({}, placeholderNodes);
    await mount.init!(testConfig({ rootfs, chroot: true }), sys);
    expect(calls).to.deep.equal([
      ...mounts(rootfs),
      { name: 'chdir', args: [rootfs] },
      { name: 'chroot', args: ['.'] },
      { name: 'chdir', args: ['/'] },
    ]);
  });

  it('an EINVAL from pivot_root surfaces as a SyscallError naming the call, and nothing runs after it', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const { sys, calls } = recordingSys({ pivot_root: 'EINVAL' }, placeholderNodes);
    expect(() => mount.init!(testConfig({ rootfs }), sys))
      .to.throw(SyscallError, /^pivot_root\(\.\): EINVAL — new_root must be a mount point/)
      .that.includes({ syscall: 'pivot_root', code: 'EINVAL' });
    expect(calls).to.deep.equal(reference(rootfs).slice(0, -2)); // up to pivot_root: no umount2, no chdir('/')
  });

  it('a failed /proc mount stops the steps before the root is touched', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const procFails = (c: Call) => (c.name === 'mount' && c.args[2] === 'proc' ? 'ENODEV' : undefined);
    const { sys, calls } = recordingSys(procFails, placeholderNodes);
    expect(() => mount.init!(testConfig({ rootfs }), sys)).to.throw(SyscallError, `mount(${rootfs}/proc): ENODEV`);
    expect(calls).to.deep.equal(reference(rootfs).slice(0, 3));
  });

  it('behind the guard, in a mount namespace of its own, the calls are the same', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const { sys, calls } = recordingSys({}, placeholderNodes);
    await mount.init!(testConfig({ rootfs }), guardedSys(sys, { mnt: 'mnt:[1]' }));
    expect(calls).to.deep.equal(reference(rootfs));
  });

  it('behind the guard, still in the host’s mount namespace, the very first mount is refused', async function () {
    const mount = await lessonOf('03-mount', 'solutions');
    const { sys, calls } = recordingSys({}, placeholderNodes);
    expect(() => mount.init!(testConfig({ rootfs }), guardedSys(sys, readNamespaces()))).to.throw(
      HostNamespaceError,
      /refused mount\(\/\)/,
    );
    expect(calls).to.deep.equal([]);
  });

  it('the untouched starter asks for no namespace and makes none of these calls', async function () {
    const starter = await lessonOf('03-mount', 'lessons');
    const { sys, calls } = recordingSys({}, placeholderNodes);
    expect(starter.cloneFlags!(testConfig())).to.equal(0);
    await starter.init!(testConfig({ rootfs }), sys);
    expect(calls).to.deep.equal([]); // not the reference's sequence, nor any part of it
  });
});

describe('exec: finding the command', function () {
  it('searches the container’s PATH, not the runtime’s', function () {
    expect(lookPath('sh', ['PATH=/nonexistent:/bin'])).to.equal('/bin/sh');
  });
  it('takes a path with a slash as it is', function () {
    expect(lookPath('./x', [])).to.equal('./x');
  });
  it('reports a missing command as execve ENOENT (exit 127)', function () {
    expect(() => lookPath('no-such-command-here', ['PATH=/bin']))
      .to.throw(/execve\(no-such-command-here\): ENOENT/)
      .with.property('code', 'ENOENT');
  });
});
