/** Container-side steps, run against a recording `sys`: no root, no kernel state. */
import { expect } from 'chai';
import { CLONE_NEWUTS } from '../../src/native/constants.js';
import { guardedSys, HostNamespaceError, readNamespaces } from '../../src/core/init/guard.js';
import { lookPath } from '../../src/core/init/exec.js';
import { load } from '../../src/workshop/loader.js';
import { recordingSys } from './recording-sys.js';
import { testConfig } from '../support/config.js';

describe('container-side steps (recorded)', function () {
  it('01-uts asks for CLONE_NEWUTS and sets the given hostname', async function () {
    const [, uts] = await load({ kind: 'verify', id: '01-uts', source: 'solutions' });
    const { sys, calls } = recordingSys();
    expect(uts!.lesson.cloneFlags!(testConfig())).to.equal(CLONE_NEWUTS);
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
