/**
 * Detached containers end to end, as a learner types the commands: `run -d`
 * returns at once with an id and no cellblock process stays; `ps`, `logs`
 * (with --tail and -f), `wait`, `kill -s`, `stop`, `attach` with stdin,
 * `rm` (refused while running, -f kills), `run -d --rm`, a dead shim — and
 * after each, nothing of the container is left (the inventories, by its id).
 * The runtime is the checkout's cellblock-oci, or $CELLBLOCK_OCI_RUNTIME.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import pty from 'node-pty';
import { readShimState, shimDir } from '../../src/core/shim/state.js';
import { readStat } from '../../src/core/host/proc.js';
import { hostItems, isAlive, itemLine } from '../../src/workshop/probe.js';
import { BIN, cellblock } from '../support/cli.js';

const SLOW = Number(process.env['CELLBLOCK_SLOW'] ?? 1) || 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the inventories still attribute to these containers (none once they are removed). */
function leftOf(ids: string[]): string[] {
  const mine = new Set(ids);
  return hostItems(ids)
    .items.filter((i) => i.containerId !== undefined && mine.has(i.containerId) && !i.stays)
    .map(itemLine);
}

function runD(args: string[]): string {
  const r = cellblock(['run', '-d', '--solutions', '--net', 'none', ...args]);
  expect(r.status, r.stderr).to.equal(0);
  const id = r.stdout.trim();
  expect(id).to.match(/^[a-z0-9][a-z0-9_.-]+$/);
  return id;
}

describe('cellblock run -d and the detached-container commands', function () {
  this.timeout(120_000 * SLOW);
  const ids: string[] = [];
  after(function () {
    for (const id of ids) cellblock(['rm', '-f', id]);
    expect(leftOf(ids), 'left behind').to.deep.equal([]);
  });

  it('run -d returns with the id; ps, logs, wait, rm; nothing left', function () {
    const id = runD(['--name', `d-${process.pid}`, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    ids.push(id);
    const st = readShimState(id)!;
    // The shim is the init's parent, and no cellblock process is the shim's.
    expect(readStat(st.shimPid!)?.ppid, 'shim parent').to.not.equal(process.pid);
    const waited = cellblock(['wait', `d-${process.pid}`]);
    expect(waited.stdout.trim(), waited.stderr).to.equal('7');
    const logs = cellblock(['logs', id]);
    expect(logs.stdout).to.equal('out\n');
    expect(logs.stderr).to.equal('err\n');
    expect(cellblock(['logs', '--tail', '1', id]).stderr).to.equal('err\n');
    expect(cellblock(['ps']).stdout, 'ps lists running ones only').to.not.include(id);
    expect(cellblock(['ps', '-a']).stdout).to.match(new RegExp(`${id}.*Exited \\(7\\)`));
    const rm = cellblock(['rm', id]);
    expect(rm.status, rm.stderr).to.equal(0);
    expect(existsSync(shimDir(id)), 'record removed').to.equal(false);
    expect(leftOf([id])).to.deep.equal([]);
  });

  it('rm of a running container is refused (exit 1); kill -s; rm -f; unknown names exit 1', function () {
    const id = runD(['--', 'sh', '-c', 'trap "exit 9" USR1; while :; do sleep 0.1; done']);
    ids.push(id);
    const refused = cellblock(['rm', id]);
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.match(/cannot remove a running container/);
    expect(cellblock(['kill', '-s', 'USR1', id]).status).to.equal(0);
    expect(cellblock(['wait', id]).stdout.trim()).to.equal('9');
    expect(cellblock(['rm', '-f', id]).status).to.equal(0);
    const unknown = cellblock(['logs', `nosuch-${process.pid}`]);
    expect(unknown.status).to.equal(1);
    expect(unknown.stderr).to.match(/No such container/);
  });

  it('logs -f follows until the end; attach writes stdin and exits with the status', async function () {
    const id = runD(['-i', '--', 'sh', '-c', 'while read l; do echo "got $l"; done; exit 5']);
    ids.push(id);
    const follow = spawn(process.execPath, [BIN, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follow.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const attach = spawn(process.execPath, [BIN, 'attach', id], { stdio: ['pipe', 'pipe', 'pipe'] });
    let attached = '';
    attach.stdout.on('data', (d: Buffer) => (attached += d.toString()));
    await sleep(1000 * SLOW);
    attach.stdin.end('a\nb\n');
    // Each wait says what it waited for, and what was seen, if it never ends.
    const within = <T>(what: string, p: Promise<T>): Promise<T> =>
      Promise.race([
        p,
        new Promise<never>((_, reject) =>
          setTimeout(
            () =>
              reject(
                new Error(
                  `${what} did not end within ${30 * SLOW} s — attach printed ${JSON.stringify(attached)}, logs -f ${JSON.stringify(followed)}; ps -a: ${cellblock(['ps', '-a']).stdout}`,
                ),
              ),
            30_000 * SLOW,
          ).unref(),
        ),
      ]);
    const status = await within('attach', new Promise<number | null>((r) => attach.once('exit', r)));
    expect(attached).to.equal('got a\ngot b\n');
    expect(status).to.equal(5);
    await within('logs -f', new Promise((r) => follow.once('exit', r)));
    expect(followed).to.equal('got a\ngot b\n');
    expect(cellblock(['rm', id]).status).to.equal(0);
  });

  it('stop runs a TERM trap; run -d --rm leaves no record', async function () {
    const id = runD(['--', 'sh', '-c', 'trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
    ids.push(id);
    await sleep(300);
    expect(cellblock(['stop', '-t', '10', id]).status).to.equal(0);
    expect(cellblock(['wait', id]).stdout.trim()).to.equal('0');
    expect(cellblock(['logs', id]).stdout).to.equal('bye\n');
    cellblock(['rm', id]);
    const gone = runD(['--rm', '--', 'true']);
    ids.push(gone);
    // The shim removes the record, then exits a moment later: wait for both.
    const until = Date.now() + 20_000 * SLOW;
    while ((existsSync(shimDir(gone)) || leftOf([gone]).length > 0) && Date.now() < until) await sleep(100);
    expect(existsSync(shimDir(gone)), 'the --rm record').to.equal(false);
    expect(leftOf([gone])).to.deep.equal([]);
  });

  it('a SIGKILLed shim: ps says Dead, rm reclaims the container through the runtime', async function () {
    const id = runD(['--', 'sleep', '1000']);
    ids.push(id);
    const st = readShimState(id)!;
    process.kill(st.shimPid!, 'SIGKILL');
    await sleep(300);
    expect(cellblock(['ps', '-a']).stdout).to.match(new RegExp(`${id}.*Dead`));
    expect(isAlive(st.pid!), 'the init runs on without its shim').to.equal(true);
    expect(cellblock(['rm', id]).status).to.equal(0);
    await sleep(300);
    expect(isAlive(st.pid!), 'the init after rm').to.equal(false);
    expect(leftOf([id])).to.deep.equal([]);
  });

  it('run -d -it: attach through a terminal (its size, a pty inside), exit status through', async function () {
    const id = runD(['-i', '-t', '--', 'sh']);
    ids.push(id);
    const term = pty.spawn(process.execPath, [BIN, 'attach', id], { cols: 100, rows: 30 });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((r) => term.onExit(({ exitCode }) => r(exitCode)));
    await sleep(1500 * SLOW);
    term.write('stty size; echo $((6*7)); tty\r');
    await sleep(1000 * SLOW);
    term.write('exit 3\r');
    expect(await exited).to.equal(3);
    expect(out)
      .to.include('30 100')
      .and.include('42')
      .and.match(/\/dev\/pts\/\d/);
    expect(cellblock(['rm', id]).status).to.equal(0);
  });

  it('bad input is refused before anything exists (125)', function () {
    const bad = cellblock(['run', '-d', '--solutions', '--hostname', 'x'.repeat(65), '--', 'true']);
    expect(bad.status).to.equal(125);
    expect(bad.stderr).to.match(/65 bytes long/);
  });
});
