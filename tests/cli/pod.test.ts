/**
 * `cellblock pod` across processes, as a learner types it: a pod made with
 * --share-pid and a member in it; a second `pod create` with the same name is
 * refused (125) and creates nothing; `pod rm` without -f refuses while a member
 * runs; `pod rm -f` kills it and leaves no state file, cgroup or lease. And the
 * `container:NAME` spelling with a lesson selection that cannot join (`--lesson`
 * before the lesson that shares namespaces) is refused, naming that lesson.
 * A pod whose runtimes were SIGKILLed (no cleanup ran) is still removed whole
 * by `pod rm`.
 */
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { expect } from 'chai';
import { listCgroups } from '../../src/core/cgroups/inventory.js';
import { readState } from '../../src/core/host/state.js';
import { leaseOf } from '../../src/core/net/ipam.js';
import { podId } from '../../src/core/pods/pods.js';
import { reserveId } from '../../src/core/host/reserve.js';
import { hostItems, isAlive, itemLine } from '../../src/workshop/probe.js';
import { cellblock, cellblockAsync } from '../support/cli.js';

/** Resolve with everything the process printed once `pattern` matches its stdout (or after `ms`). */
function waitFor(child: ChildProcess, pattern: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(out), ms);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

const link = (pid: number, kind: string): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
};

describe('cellblock pod: create, members, rm (lesson 10)', function () {
  this.timeout(90_000);

  it('--net/--ipc container:NAME with a lesson selection that cannot join: 125, naming the option and the lesson', function () {
    const net = cellblock(['run', '--solutions', '--lesson', '04', '--net', 'container:nobody', '--', 'true']);
    expect(net.status, net.stderr).to.equal(125);
    expect(net.stderr).to.match(/--net container:nobody: .*lesson \d\d-[a-z-]+ provides it/);
    expect(net.stderr).to.include('nothing was created');
    const ipc = cellblock(['run', '--solutions', '--lesson', '04', '--ipc', 'container:nobody', '--', 'true']);
    expect(ipc.status, ipc.stderr).to.equal(125);
    expect(ipc.stderr).to.match(/--ipc: an option of lesson \d\d-[a-z-]+, which `--lesson 04` does not load/);
  });

  it('a --share-pid pod: the member is in the pause’s PID namespace; a taken name, rm without -f refused; rm -f leaves nothing', async function () {
    const name = `t${randomBytes(3).toString('hex')}`;
    const id = podId(name);
    const created = cellblock(['pod', 'create', '--solutions', '--share-pid', name]);
    expect(created.status, created.stderr).to.equal(0);
    expect(created.stdout.trim()).to.equal(id);
    let member: ChildProcess | undefined;
    try {
      member = cellblockAsync(['run', '--solutions', '--pod', name, '--', 'sh', '-c', 'echo ready; exec sleep 1000']);
      expect(await waitFor(member, /ready/)).to.include('ready');
      const pause = readState(id)!;
      const memberState = (): ReturnType<typeof readState> =>
        readState(
          (JSON.parse(cellblock(['pod', 'ls', '--json']).stdout) as { name: string; members: string[] }[]).find(
            (p) => p.name === name,
          )?.members[0] ?? '',
        );
      const m = memberState()!;
      expect(link(m.pid, 'pid'), 'the member’s PID namespace is the pause’s').to.equal(link(pause.pid, 'pid'));
      expect(link(m.pid, 'mnt'), 'its own mounts').not.to.equal(link(pause.pid, 'mnt'));

      const again = cellblock(['pod', 'create', '--solutions', name]);
      expect(again.status, again.stderr).to.equal(125);
      expect(again.stderr).to.include(`pod name ${name} is taken`);
      expect(readState(id)?.pid, 'the running pod is untouched').to.equal(pause.pid);

      const rm = cellblock(['pod', 'rm', name]);
      expect(rm.status, rm.stderr).to.equal(125);
      expect(rm.stderr).to.include('has running members');

      const rmf = cellblock(['pod', 'rm', '-f', name]);
      expect(rmf.status, rmf.stderr).to.equal(0);
      expect(readState(id), 'the pause’s state file').to.equal(undefined);
      expect(readState(m.id), 'the member’s state file').to.equal(undefined);
      expect(isAlive(m.pid) || isAlive(pause.pid), 'member and pause ended').to.equal(false);
      expect(leaseOf(id), 'the pod’s address').to.equal(undefined);
      const left = listCgroups({ mountinfo: '/proc/self/mountinfo' }).filter((c) => c.path.includes(`/${id}`));
      expect(
        left.map((c) => c.path),
        'the pod’s cgroup and its leaves',
      ).to.deep.equal([]);
    } finally {
      if (readState(id)) cellblock(['pod', 'rm', '-f', name]);
      member?.kill('SIGKILL');
    }
  });

  it('runtimes killed by SIGKILL (pause and member): `pod rm` removes what they left', async function () {
    const name = `t${randomBytes(3).toString('hex')}`;
    const id = podId(name);
    const created = cellblock(['pod', 'create', '--solutions', name]);
    expect(created.status, created.stderr).to.equal(0);
    let member: ChildProcess | undefined;
    let memberId = '';
    try {
      member = cellblockAsync(['run', '--solutions', '--pod', name, '--', 'sh', '-c', 'echo ready; exec sleep 1000']);
      expect(await waitFor(member, /ready/)).to.include('ready');
      const pods = JSON.parse(cellblock(['pod', 'ls', '--json']).stdout) as { name: string; members: string[] }[];
      memberId = pods.find((p) => p.name === name)?.members[0] ?? '';
      const m = readState(memberId)!;
      const pause = readState(id)!;
      expect(m, 'the member’s state file').not.to.equal(undefined);
      expect(leaseOf(id), 'the pod has an address').not.to.equal(undefined);
      // The runtimes die without a word: nothing of theirs is cleaned up.
      process.kill(m.runtimePid, 'SIGKILL');
      process.kill(pause.runtimePid, 'SIGKILL');
      for (let i = 0; i < 100 && (isAlive(m.runtimePid) || isAlive(pause.runtimePid)); i++)
        await new Promise((r) => setTimeout(r, 50));
      const mine = (): string[] =>
        hostItems([id, memberId])
          .items.filter((i) => i.containerId === id || i.containerId === memberId || i.name.includes(id))
          .map(itemLine);
      expect(mine(), 'the killed runtimes left their things').not.to.deep.equal([]);

      const rm = cellblock(['pod', 'rm', name]);
      expect(rm.status, rm.stderr).to.equal(0);
      expect(rm.stdout.trim()).to.equal(name);
      expect(readState(id), 'the pause’s state file').to.equal(undefined);
      expect(readState(memberId), 'the member’s state file').to.equal(undefined);
      expect(leaseOf(id), 'the pod’s address').to.equal(undefined);
      expect(isAlive(m.pid) || isAlive(pause.pid), 'member and pause ended').to.equal(false);
      expect(mine(), 'the inventories: nothing of the pod is left').to.deep.equal([]);
      const left = listCgroups({ mountinfo: '/proc/self/mountinfo' }).filter((c) => c.path.includes(`/${id}`));
      expect(
        left.map((c) => c.path),
        'the pod’s cgroup and its leaves',
      ).to.deep.equal([]);
    } finally {
      if (readState(id)) cellblock(['pod', 'rm', '-f', name]);
      member?.kill('SIGKILL');
    }
  });

  it('two `pod create NAME` at once: exactly one pod, the other 125 “pod name taken”, and it touched nothing', async function () {
    const name = `t${randomBytes(3).toString('hex')}`;
    const id = podId(name);
    const create = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const port = 20000 + (randomBytes(2).readUInt16BE() % 20000);
        const c = cellblockAsync(['pod', 'create', '--solutions', name, '-p', `${port}:80`]);
        let stdout = '';
        let stderr = '';
        c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        c.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    try {
      const results = await Promise.all([create(), create()]);
      const codes = results.map((r) => r.code).sort();
      expect(codes, results.map((r) => r.stderr).join('\n')).to.deep.equal([0, 125]);
      const loser = results.find((r) => r.code === 125)!;
      expect(loser.stderr).to.include(`pod name ${name} is taken`);
      // The winner's pod is whole: its pause runs, with its state file, address and published port.
      const pause = readState(id);
      expect(pause, 'the pod’s state file').not.to.equal(undefined);
      expect(isAlive(pause!.pid), 'the pause runs').to.equal(true);
      const lease = leaseOf(id);
      expect(lease?.ports ?? [], 'the pod’s address and its one published port').to.have.length(1);
      const pods = (JSON.parse(cellblock(['pod', 'ls', '--json']).stdout) as { name: string }[]).filter(
        (p) => p.name === name,
      );
      expect(pods, 'exactly one pod of that name').to.have.length(1);

      const rm = cellblock(['pod', 'rm', name]);
      expect(rm.status, rm.stderr).to.equal(0);
      const mine = hostItems([id])
        .items.filter((i) => i.containerId === id || i.name.includes(id))
        .map(itemLine);
      expect(mine, 'nothing of the pod is left').to.deep.equal([]);
    } finally {
      if (readState(id)) cellblock(['pod', 'rm', '-f', name]);
    }
  });

  it('an id another runtime has reserved (it is creating that container): `run --id` and `pod create` 125, nothing made', async function () {
    // The window two concurrent starts race in, held open: the reservation is
    // taken, no state file exists yet — as while the first one spawns its init.
    const name = `t${randomBytes(3).toString('hex')}`;
    const id = podId(name);
    const plain = `r${randomBytes(3).toString('hex')}`;
    const held = [await reserveId(id), await reserveId(plain)];
    try {
      const run = cellblock(['run', '--solutions', '--id', plain, '--', 'true']);
      expect(run.status, run.stderr).to.equal(125);
      expect(run.stderr).to.include(`container id ${plain} is taken`);
      const pod = cellblock(['pod', 'create', '--solutions', name]);
      expect(pod.status, pod.stderr).to.equal(125);
      expect(pod.stderr).to.include(`pod name ${name} is taken`);
      expect(readState(id) ?? readState(plain), 'no state file').to.equal(undefined);
      expect(leaseOf(id), 'no address').to.equal(undefined);
      const mine = hostItems([id, plain])
        .items.filter((i) => [id, plain].includes(i.containerId ?? '') && !i.name.endsWith('.lock'))
        .map(itemLine);
      expect(mine, 'nothing was created').to.deep.equal([]);
    } finally {
      for (const r of held) r.release();
      if (readState(id)) cellblock(['pod', 'rm', '-f', name]);
    }
  });
});
