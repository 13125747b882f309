/** The native layer's error mapping, without root and without touching the kernel's state. */
import koffi from 'koffi';
import { expect } from 'chai';
import { SyscallError, errnoName, hintFor } from '../../src/native/errors.js';
import { check, syscallNumber } from '../../src/native/libc.js';

describe('native layer: errors', function () {
  it('names errno values as the C headers do', function () {
    expect(errnoName(1)).to.equal('EPERM');
    expect(errnoName(2)).to.equal('ENOENT');
    expect(errnoName(22)).to.equal('EINVAL');
    expect(errnoName(9999)).to.equal('E9999');
  });

  it('EPERM carries code, errno, syscall, path and the "run as root" hint', function () {
    const err = new SyscallError('mount', 1, '/proc');
    expect(err).to.be.instanceOf(Error);
    expect(err.code).to.equal('EPERM');
    expect(err.errno).to.equal(1);
    expect(err.syscall).to.equal('mount');
    expect(err.path).to.equal('/proc');
    expect(err.hint).to.match(/root/);
    expect(err.message).to.equal(`mount(/proc): EPERM — ${err.hint}`);
  });

  it('prefers a syscall-specific hint over the generic one', function () {
    expect(hintFor('pivot_root', 'EINVAL')).to.match(/mount point/);
    expect(hintFor('sethostname', 'EINVAL')).to.match(/64/);
    expect(hintFor('unshare', 'EPERM')).to.match(/root/); // generic EPERM
    expect(hintFor('read', 'ENOSPC')).to.equal(undefined);
  });

  it('survives the trip init → host as JSON', function () {
    const err = new SyscallError('pivot_root', 22, '/rootfs');
    const back = SyscallError.fromJSON(JSON.parse(JSON.stringify(err.toJSON())));
    expect(back.message).to.equal(err.message);
    expect(back.code).to.equal('EINVAL');
  });

  it('check() turns -1 into the errno the call left behind', function () {
    koffi.errno(13); // what a failing libc call would have set
    expect(() => check(-1, 'open', '/etc/shadow'))
      .to.throw(SyscallError)
      .with.property('code', 'EACCES');
    expect(check(0, 'open')).to.equal(0);
    expect(check(7n, 'read')).to.equal(7);
  });

  it('knows pivot_root per architecture, and refuses to guess', function () {
    expect(syscallNumber('pivot_root', 'x64')).to.equal(155);
    expect(syscallNumber('pivot_root', 'arm64')).to.equal(41);
    expect(() => syscallNumber('pivot_root', 'mips')).to.throw(/no syscall number/);
  });
});
