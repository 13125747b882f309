/**
 * The user-namespace helper (native/nsexec.c) and its host side
 * (core/host/userns.ts), against the real kernel, as root: the protocol, the
 * maps, the exit status and signals it mirrors, and that a failure at any
 * step leaves no process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import { CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS } from '../../src/native/constants.js';
import { helperArgs, helperProblem, NSEXEC, startInUserNamespace } from '../../src/core/host/userns.js';
import { procStatus } from '../../src/workshop/probe.js';
import { skipBecause } from '../support/skip.js';

const FLAGS = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS;

function start(script: string): { spawn: () => ChildProcess; out: () => string; exit: () => Promise<number | string> } {
  let child: ChildProcess;
  let out = '';
  let exit: Promise<number | string>;
  return {
    spawn: () => {
      child = spawn(NSEXEC, helperArgs(FLAGS, '/bin/sh', ['-c', script]), {
        stdio: ['ignore', 'pipe', 'inherit', 'pipe', 'pipe'],
      });
      (child.stdout as Readable).on('data', (d: Buffer) => (out += d.toString()));
      exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code!)));
      return child;
    },
    out: () => out,
    exit: () => exit,
  };
}

const maps = (pid: number): void => {
  writeFileSync(`/proc/${pid}/uid_map`, '0 100000 65536\n');
  writeFileSync(`/proc/${pid}/gid_map`, '0 100000 65536\n');
};

describe('the user-namespace helper (cellblock-nsexec)', function () {
  this.timeout(20_000);
  before(function () {
    const problem = helperProblem();
    if (problem) skipBecause(this, problem);
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root: it maps 100000:65536');
  });

  it('U → maps → M → P: the init is uid 0 inside, 100000 to the host, PID 1, and its status comes back', async function () {
    const h = start('cat /proc/self/uid_map; id -u; echo $$; read _ < /proc/self/fd/3 2>/dev/null; exit 7');
    const { child, initPid } = await startInUserNamespace(h.spawn, maps);
    expect(initPid).to.not.equal(child.pid);
    expect(procStatus(initPid)?.['Uid']?.split(/\s+/)).to.deep.equal(['100000', '100000', '100000', '100000']);
    (child.stdio[3] as NodeJS.WritableStream).end();
    expect(await h.exit()).to.equal(7);
    expect(
      h
        .out()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' ')),
    ).to.deep.equal(['0 100000 65536', '0', '1', '']);
  });

  it('mirrors a signal: the init killed by SIGKILL from the host → the helper dies of SIGKILL', async function () {
    const h = start('read _ < /proc/self/fd/3');
    const { initPid } = await startInUserNamespace(h.spawn, maps);
    process.kill(initPid, 'SIGKILL');
    expect(await h.exit()).to.equal('SIGKILL');
  });

  it('SIGKILL to the helper takes the init with it (PDEATHSIG)', async function () {
    const h = start('read _ < /proc/self/fd/3');
    const { child, initPid } = await startInUserNamespace(h.spawn, maps);
    child.kill('SIGKILL');
    await h.exit();
    // Dead, reaped or not: a zombie is reaped by whoever adopted it (PID 1 here).
    const alive = (): boolean => !(procStatus(initPid)?.['State'] ?? 'Z').startsWith('Z');
    for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(alive(), `init ${initPid} still runs`).to.equal(false);
  });

  it('no maps written: the helper reports the failed step ("E …"), and nothing is left', async function () {
    const h = start('true');
    let err: Error | undefined;
    await startInUserNamespace(h.spawn, () => undefined).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/user-namespace helper: setres[ug]id: Invalid argument/);
    // Its own exit 125, or the SIGKILL startInUserNamespace sends after any failure: gone either way.
    expect(await h.exit()).to.be.oneOf([125, 'SIGKILL']);
  });

  it('the window throws: the helper is killed and the error passed on', async function () {
    const h = start('true');
    let err: Error | undefined;
    await startInUserNamespace(h.spawn, () => {
      throw new Error('planted');
    }).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('planted');
    // Killed — or, had it seen its pipe close first, ended by its own failed write: gone either way.
    expect(await h.exit()).to.be.oneOf(['SIGKILL', 'SIGPIPE', 125]);
  });
});
