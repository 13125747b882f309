/**
 * containerd drives cellblock-oci as it drives runc (issue 15, "Proven with
 * real clients"): a private containerd — its own config, root, state and
 * socket in a temp dir, stopped at the end — and `ctr run --runc-binary`,
 * which hands our binary to containerd's runc shim (containerd-shim-runc-v2).
 * The shim calls `create --bundle … --pid-file …`, `start`, `ps --format json`,
 * `kill ID SIGNAL`, `delete [--force]` with `--root/--log/--log-format json`,
 * and stays the container's parent (subreaper) after the runtime exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { isAlive, hostState, namespacesOf } from '../../src/workshop/probe.js';
import {
  cgroupsAt,
  IS_CELLBLOCK,
  missingClient,
  mountsUnder,
  processesWith,
  removeCgroupTree,
  removeEmptyDirs,
  RUNTIME,
  runtimeProblem,
  scratch,
  sh,
  workshopLeftovers,
} from '../support/oci-clients.js';
import { skipBecause } from '../support/skip.js';

/** ctr's namespace: containerd names the cgroup /NAMESPACE/ID, so the tests' cgroups sit under a parent of their own. */
const NS = 'cb-clients';

describe('clients: containerd drives cellblock-oci (ctr run --runc-binary)', function () {
  this.timeout(120_000);
  let dir = '';
  let rootfs = '';
  let sock = '';
  let runcRoot = '';
  let daemon: ChildProcess | undefined;
  let daemonExit: Promise<unknown> | undefined;
  let stateBefore: string[] = [];
  let cgroupParentBefore = false;
  let runContainerdBefore = false;
  const ids: string[] = [];
  const newId = (what: string): string => {
    const id = `cb-ctd-${process.pid}-${what}`;
    ids.push(id);
    return id;
  };

  const ctr = (args: string[], timeout = 60_000) =>
    sh('ctr', ['--address', sock, '--namespace', NS, ...args], { timeout });
  const run = (id: string, args: string[], opts: string[] = ['--rm']) =>
    ctr(['run', ...opts, '--runc-binary', RUNTIME, '--runc-root', runcRoot, '--rootfs', rootfs, id, ...args]);

  before(async function () {
    const missing = missingClient(['containerd', 'ctr', 'containerd-shim-runc-v2']);
    if (missing) skipBecause(this, missing);
    const problem = runtimeProblem();
    if (problem) throw new Error(problem);
    stateBefore = hostState();
    cgroupParentBefore = cgroupsAt(`/${NS}`).length > 0;
    // The shim keeps its socket (and ctr its FIFOs) under /run/containerd whatever the config says.
    runContainerdBefore = existsSync('/run/containerd');
    ({ dir, rootfs } = scratch('cellblock-ctd-'));
    sock = join(dir, 'containerd.sock');
    runcRoot = join(dir, 'runtime-state');
    // Only what a `ctr run --rootfs` needs: no CRI (no CNI, no pod sandbox), no
    // snapshotters for filesystems this machine may not have.
    writeFileSync(
      join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[ttrpc]',
        `  address = "${sock}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = openSync(join(dir, 'containerd.log'), 'a');
    // The shim inherits containerd's environment: that is how cellblock-oci
    // learns to run the reference solutions (Podman strips it; see podman.test).
    daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...(IS_CELLBLOCK ? { CELLBLOCK_OCI_SOLUTIONS: '1' } : {}) },
    });
    closeSync(log);
    daemonExit = new Promise((resolve) => daemon!.once('exit', resolve));
    const deadline = Date.now() + 30_000;
    while (sh('ctr', ['--address', sock, 'version'], { timeout: 5_000 }).status !== 0) {
      if (Date.now() > deadline || daemon.exitCode !== null)
        throw new Error(
          `containerd did not come up: ${readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-2000)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async function () {
    if (!dir) return;
    // Whatever a failed test left: its tasks and containers, then containerd itself.
    if (daemon && daemon.exitCode === null) {
      for (const id of ids) {
        ctr(['task', 'kill', '-s', 'SIGKILL', id], 10_000);
        ctr(['task', 'delete', '--force', id], 10_000);
        ctr(['container', 'rm', id], 10_000);
      }
      daemon.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([daemonExit, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    const leftovers = {
      // containerd, its shims (their command lines name the socket in dir), and any
      // runtime process still around for one of our containers (named by id).
      processes: [...processesWith(dir), ...processesWith(`cb-ctd-${process.pid}-`)],
      mounts: mountsUnder(dir),
      runtimeState: existsSync(runcRoot) ? readdirSync(runcRoot).flatMap((ns) => readdirSync(join(runcRoot, ns))) : [],
      cgroups: ids.flatMap((id) => cgroupsAt(`/${NS}/${id}`)),
    };
    if (!cgroupParentBefore) removeCgroupTree(`/${NS}`);
    // The shims remove their sockets, ctr its FIFOs: what is left is empty directories.
    if (!runContainerdBefore) {
      removeEmptyDirs(['/run/containerd/s', '/run/containerd/fifo', '/run/containerd/runc', '/run/containerd']);
    }
    if (leftovers.mounts.length === 0) rmSync(dir, { recursive: true, force: true });
    // The container's processes, mounts, cgroups and the runtime's state are
    // the runtime's to remove (containerd deleted every task above); the
    // workshop's inventories as before.
    expect(leftovers, `left behind by containerd + the runtime: ${JSON.stringify(leftovers)}`).to.deep.equal({
      processes: [],
      mounts: [],
      runtimeState: [],
      cgroups: [],
    });
    expect(workshopLeftovers(stateBefore, ids), 'new items in the workshop inventories').to.deep.equal([]);
  });

  it('ctr run --rm prints the command’s output and exits 0', function () {
    const r = run(newId('echo'), ['/bin/echo', 'hello from containerd']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('hello from containerd\n');
  });

  it('ctr run --rm passes a non-zero exit code through', function () {
    const r = run(newId('exit'), ['/bin/sh', '-c', 'echo to stderr >&2; exit 3']);
    expect(r.stderr).to.equal('to stderr\n');
    expect(r.status).to.equal(3);
  });

  it('a detached task: ctr task ps lists its init, ctr task kill signals it, ctr task delete removes it', async function () {
    const id = newId('detach');
    // A shell as PID 1 ignores SIGTERM unless it traps it (the kernel
    // shields a namespace's init from signals it has no handler for).
    const started = run(
      id,
      ['/bin/sh', '-c', 'trap "exit 42" TERM; echo up; while :; do sleep 1 & wait $!; done'],
      ['--detach'],
    );
    expect(started.status, started.stderr).to.equal(0);

    const ps = ctr(['task', 'ps', id]);
    expect(ps.status, ps.stderr).to.equal(0);
    const pids = ps.stdout
      .split('\n')
      .slice(1)
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((n) => n > 0);
    expect(pids, ps.stdout).to.have.length.greaterThan(0);
    const init = pids[0]!;
    expect(isAlive(init), `the init ${init} runs`).to.equal(true);
    expect(namespacesOf(init).pid, 'the init is in a pid namespace of its own').to.not.equal(namespacesOf('self').pid);
    expect(readFileSync(`/proc/${init}/cmdline`, 'utf8').split('\0')[0]).to.equal('/bin/sh');
    const ls = ctr(['task', 'ls']);
    expect(ls.stdout).to.match(new RegExp(`^${id}\\s+${init}\\s+RUNNING`, 'm'));

    const kill = ctr(['task', 'kill', id]);
    expect(kill.status, kill.stderr).to.equal(0);
    const deadline = Date.now() + 20_000;
    while (!new RegExp(`^${id}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout)) {
      if (Date.now() > deadline) throw new Error(`${id} did not stop after SIGTERM: ${ctr(['task', 'ls']).stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const del = ctr(['task', 'delete', id]);
    expect(del.status, del.stderr).to.equal(0);
    // ctr reports the task's exit status when it is not 0: the trap's 42.
    expect(del.stderr).to.match(/exit code 42/);
    expect(ctr(['container', 'rm', id]).status).to.equal(0);
    expect(isAlive(init), `the init ${init} is gone`).to.equal(false);
    expect(ctr(['task', 'ls']).stdout).to.not.include(id);
    expect(cgroupsAt(`/${NS}/${id}`), 'its cgroups are gone').to.deep.equal([]);
  });

  it('ctr task kill -s SIGKILL ends a task that ignores SIGTERM', async function () {
    const id = newId('sigkill');
    const started = run(id, ['/bin/sleep', '300'], ['--detach']);
    expect(started.status, started.stderr).to.equal(0);
    const kill = ctr(['task', 'kill', '--signal', 'SIGKILL', id]);
    expect(kill.status, kill.stderr).to.equal(0);
    const deadline = Date.now() + 20_000;
    while (!new RegExp(`^${id}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout)) {
      if (Date.now() > deadline) throw new Error(`${id} did not stop after SIGKILL: ${ctr(['task', 'ls']).stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const del = ctr(['task', 'delete', id]);
    expect(del.stderr).to.match(/exit code 137/);
    expect(ctr(['container', 'rm', id]).status).to.equal(0);
  });
});
