/**
 * Podman drives cellblock-oci as it drives runc (issue 15, "Proven with real
 * clients"): `podman --runtime … run` of an image imported from the busybox
 * rootfs. Podman runs the runtime through conmon (the container's parent and
 * subreaper): `create --bundle … --pid-file … [--console-socket …]`, `start`,
 * `kill ID SIGNAL`, `delete --force`, and `exec --process … --detach` for
 * `podman exec`. Everything Podman keeps is in a temp dir (--root, --runroot,
 * --tmpdir, its network config); the runtime keeps its state in its default
 * --root (see RUNTIME_DEFAULT_ROOT); the cgroupfs manager,
 * since this machine is cgroup v1 (the workshop VMs are v2, where it works too).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import pty from 'node-pty';
import { BRIDGE, VETH_PREFIX } from '../../src/core/names.js';
import { hostState, isAlive, namespacesOf } from '../../src/workshop/probe.js';
import {
  cgroupRoots,
  cgroupsAt,
  iptablesChains,
  IS_CELLBLOCK,
  linkNames,
  missingClient,
  mountsUnder,
  processesWith,
  removeCgroupTree,
  removeEmptyDirs,
  removeIfNew,
  removeNewChains,
  RUNTIME,
  RUNTIME_DEFAULT_ROOT,
  runtimeProblem,
  scratch,
  sh,
  workshopLeftovers,
  stateEntries,
} from '../support/oci-clients.js';
import { skipBecause } from '../support/skip.js';

/** Podman's cgroup parent with the cgroupfs manager: containers are libpod-<ID> under it (conmon sits in it too). */
const PARENT = '/libpod_parent';
const IMAGE = 'localhost/cellblock-busybox:test';
/** A PID 1 that ends on SIGTERM with a code of its own (a shell without a trap ignores it as PID 1). */
const WAIT_FOR_TERM = 'trap "exit 42" TERM; echo up; while :; do sleep 1 & wait $!; done';
/** Host directories Podman and its CNI plugins make on first use, whatever the flags say. */
const HOST_DIRS = ['/var/lib/cni', '/var/lib/containers', '/run/containers', '/run/libpod'];

describe('clients: Podman drives cellblock-oci (podman --runtime)', function () {
  this.timeout(120_000);
  let dir = '';
  let flags: string[] = [];
  let env: NodeJS.ProcessEnv = {};
  let stateBefore: string[] = [];
  let parentBefore = false;
  let containersBefore: string[] = [];
  let linksBefore: string[] = [];
  let chainsBefore = new Map<string, string[]>();
  let netnsBefore: string[] = [];
  let runtimeRootBefore = false;
  const dirsBefore = new Map<string, boolean>();
  const names: string[] = [];
  const newName = (what: string): string => {
    const name = `cb-pm-${process.pid}-${what}`;
    names.push(name);
    return name;
  };

  const podman = (args: string[], timeout = 60_000) => sh('podman', [...flags, ...args], { env, timeout });
  const runRm = (args: string[]) => podman(['run', '--rm', ...args]);
  const libpodCgroups = (): string[] =>
    cgroupsAt(PARENT).flatMap((p) =>
      readdirSync(p)
        .filter((d) => d.startsWith('libpod-'))
        .map((d) => join(p, d)),
    );
  /** Podman's named network namespaces (netns-<uuid>; cni-<uuid> in older versions), not the workshop's. */
  const netns = (): string[] =>
    existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => /^(netns|cni)-/.test(n)) : [];

  before(function () {
    const missing = missingClient(['podman', 'conmon']);
    if (missing) skipBecause(this, missing);
    const problem = runtimeProblem();
    if (problem) throw new Error(problem);
    stateBefore = hostState();
    parentBefore = cgroupsAt(PARENT).length > 0;
    containersBefore = libpodCgroups();
    linksBefore = linkNames();
    chainsBefore = iptablesChains();
    netnsBefore = netns();
    runtimeRootBefore = existsSync(RUNTIME_DEFAULT_ROOT);
    for (const d of HOST_DIRS) dirsBefore.set(d, existsSync(d));
    let rootfs: string;
    ({ dir, rootfs } = scratch('cellblock-podman-'));
    // Podman's default rlimits (NOFILE 1048576, NPROC 1048576) need
    // CAP_SYS_RESOURCE to raise a hard limit; a container host without it
    // (this test machine's) fails them under runc too. The runtime gets what
    // this process has instead.
    const nofile = sh('sh', ['-c', 'ulimit -Hn']).stdout.trim();
    writeFileSync(
      join(dir, 'containers.conf'),
      `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]\n`,
    );
    env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
    flags = [
      ...['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp')],
      ...['--network-config-dir', join(dir, 'networks'), '--storage-driver', 'vfs'],
      ...['--cgroup-manager', 'cgroupfs', '--events-backend', 'file'],
      '--runtime',
      RUNTIME,
      // Podman gives the runtime no environment of ours (CELLBLOCK_OCI_SOLUTIONS
      // cannot reach it): --solutions goes before the command of every call
      // Podman makes itself. Not --root: its cleanup process (conmon's exit
      // command) calls `delete` without these flags — cellblock-oci records the
      // lessons at create, and the state stays in the runtime's default root.
      ...(IS_CELLBLOCK ? ['--runtime-flag', 'solutions'] : []),
    ];
    const tar = sh('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
    expect(tar.status, tar.stderr).to.equal(0);
    const imported = podman(['import', join(dir, 'rootfs.tar'), IMAGE]);
    expect(imported.status, imported.stderr).to.equal(0);
  });

  after(function () {
    if (!dir) return;
    for (const name of names) podman(['rm', '--force', '--time', '0', name], 30_000);
    // Every container id Podman handed the runtime (--rm ones are gone from `podman ps`).
    const ids = podman(['events', '--stream=false', '--filter', 'event=create', '--format', '{{.ID}}'])
      .stdout.split('\n')
      .filter((l) => /^[0-9a-f]{64}$/.test(l));
    const attributed = ids.length > 0;
    const leftovers = {
      processes: processesWith(dir),
      mounts: mountsUnder(dir),
      runtimeState: stateEntries(RUNTIME_DEFAULT_ROOT).filter((e) => ids.includes(e)),
      cgroups: libpodCgroups().filter((c) => !containersBefore.includes(c)),
      netns: netns().filter((n) => !netnsBefore.includes(n)),
    };
    // What Podman and CNI keep by design once made (as cellblock0 stays):
    // the default network's bridge and firewall chains, the cgroup parent,
    // IPAM and cache directories — taken down when this test made them.
    for (const l of linkNames()) {
      if (!linksBefore.includes(l) && /^(cni-)?podman\d+$/.test(l)) sh('ip', ['link', 'delete', l]);
    }
    removeNewChains(chainsBefore);
    if (!parentBefore) removeCgroupTree(PARENT);
    for (const [d, existed] of dirsBefore) removeIfNew(d, existed);
    if (!runtimeRootBefore) removeEmptyDirs([RUNTIME_DEFAULT_ROOT]);
    if (leftovers.mounts.length === 0) rmSync(dir, { recursive: true, force: true });
    expect(leftovers, `left behind by Podman + the runtime: ${JSON.stringify(leftovers)}`).to.deep.equal({
      processes: [],
      mounts: [],
      runtimeState: [],
      cgroups: [],
      netns: [],
    });
    expect(
      // The workshop's own links (cellblock0, cbv*) are judged by the inventories below, per container.
      linkNames().filter((l) => !linksBefore.includes(l) && l !== BRIDGE && !l.startsWith(VETH_PREFIX)),
      'new network links',
    ).to.deep.equal([]);
    expect(
      attributed,
      'podman events names the containers the tests made (leftovers are judged by their ids)',
    ).to.equal(true);
    expect(workshopLeftovers(stateBefore, ids), 'new items in the workshop inventories').to.deep.equal([]);
  });

  describe('podman run --rm', function () {
    it('prints the command’s output and exits 0 (--network none)', function () {
      const r = runRm(['--network', 'none', IMAGE, '/bin/echo', 'hello from podman']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('hello from podman\n');
    });

    it('passes a non-zero exit code through', function () {
      const r = runRm(['--network', 'none', IMAGE, '/bin/sh', '-c', 'exit 3']);
      expect(r.status, r.stderr).to.equal(3);
    });

    it('--network none: a network namespace of its own with only lo', function () {
      const r = runRm(['--network', 'none', IMAGE, '/bin/sh', '-c', 'ls /sys/class/net; readlink /proc/self/ns/net']);
      expect(r.status, r.stderr).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines.slice(0, -1)).to.deep.equal(['lo']);
      expect(lines.at(-1)).to.match(/^net:\[\d+\]$/);
      expect(lines.at(-1)).to.not.equal(namespacesOf('self').net);
    });

    it('Podman’s default network: the runtime joins the namespace Podman made (eth0 with an address)', function () {
      const r = runRm([IMAGE, '/bin/sh', '-c', 'ip -o -4 addr show dev eth0; readlink /proc/self/ns/net']);
      expect(r.status, r.stderr).to.equal(0);
      // A fresh namespace of the runtime's own would have lo only: eth0 is the
      // veth CNI moved into the namespace Podman created and passed by path.
      expect(r.stdout).to.match(/^\d+: eth0\s+inet \d+\.\d+\.\d+\.\d+\/\d+/m);
      expect(r.stdout.trim().split('\n').at(-1)).to.not.equal(namespacesOf('self').net);
    });

    it('-e, -w, --user and --cap-drop reach the process', function () {
      const show = 'echo "$GREETING $(pwd) $(id -u):$(id -g)"; grep -E "^Cap(Eff|Bnd)" /proc/self/status';
      const base = runRm(['--network', 'none', IMAGE, '/bin/sh', '-c', show]);
      expect(base.status, base.stderr).to.equal(0);
      const r = runRm([
        ...['--network', 'none', '-e', 'GREETING=hi', '-w', '/tmp', '--user', '1000:1000', '--cap-drop', 'NET_RAW'],
        ...[IMAGE, '/bin/sh', '-c', show],
      ]);
      expect(r.status, r.stderr).to.equal(0);
      const [first, ...caps] = r.stdout.trim().split('\n');
      expect(first).to.equal('hi /tmp 1000:1000');
      const cap = (out: string[], which: string): bigint =>
        BigInt(`0x${out.find((l) => l.startsWith(which))?.split(/\s+/)[1] ?? 'x'}`);
      const CAP_NET_RAW = 1n << 13n;
      const baseCaps = base.stdout.trim().split('\n').slice(1);
      expect(cap(baseCaps, 'CapBnd') & CAP_NET_RAW, 'NET_RAW is in Podman’s default set').to.equal(CAP_NET_RAW);
      expect(cap(caps, 'CapBnd') & CAP_NET_RAW, '--cap-drop NET_RAW').to.equal(0n);
      expect(cap(caps, 'CapEff'), 'uid 1000 has no effective capabilities').to.equal(0n);
    });

    it('-it: a terminal through the console socket, the exit code passed through', async function () {
      const term = pty.spawn(
        'podman',
        [
          ...flags,
          'run',
          '--rm',
          '-it',
          '--network',
          'none',
          IMAGE,
          '/bin/sh',
          '-c',
          'tty; read line; echo "got $line"; exit 4',
        ],
        { cols: 100, rows: 30, env: env as Record<string, string> },
      );
      let out = '';
      term.onData((d) => (out += d));
      const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
      const waitFor = async (re: RegExp): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!re.test(out)) {
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${re}; screen so far: ${JSON.stringify(out)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await waitFor(/\/dev\/pts\/\d+/);
        term.write('typed\r');
        await waitFor(/got typed/);
        expect(await exited).to.equal(4);
      } finally {
        try {
          term.kill('SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  });

  describe('a detached container: limits, exec, stop', function () {
    const name = newName('detached');
    let pid = 0;

    it('podman run -d with -m and --pids-limit: the limits are in the container’s cgroups', function () {
      const r = podman([
        ...['run', '-d', '--name', name, '--network', 'none', '-m', '64m', '--pids-limit', '50'],
        ...[IMAGE, '/bin/sh', '-c', WAIT_FOR_TERM],
      ]);
      expect(r.status, r.stderr).to.equal(0);
      pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim());
      expect(pid).to.be.greaterThan(0);
      expect(isAlive(pid)).to.equal(true);
      // The host's view: /proc/PID/cgroup names the cgroup of each hierarchy.
      const limits: Record<string, string> = {};
      const v2 = cgroupRoots()[0] === '/sys/fs/cgroup';
      for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
        const [, controllers, path] = line.split(':') as [string, string, string];
        if (v2 && controllers === '') {
          limits['memory'] = readFileSync(join('/sys/fs/cgroup', path, 'memory.max'), 'utf8').trim();
          limits['pids'] = readFileSync(join('/sys/fs/cgroup', path, 'pids.max'), 'utf8').trim();
        }
        if (controllers.split(',').includes('memory'))
          limits['memory'] = readFileSync(join('/sys/fs/cgroup/memory', path, 'memory.limit_in_bytes'), 'utf8').trim();
        if (controllers.split(',').includes('pids'))
          limits['pids'] = readFileSync(join('/sys/fs/cgroup/pids', path, 'pids.max'), 'utf8').trim();
      }
      expect(limits).to.deep.equal({ memory: String(64 * 1024 * 1024), pids: '50' });
    });

    it('podman exec runs a process in the running container', function () {
      expect(pid, 'the container of the previous test runs').to.be.greaterThan(0);
      const r = podman(['exec', name, '/bin/sh', '-c', 'echo in-exec; tr "\\0" " " </proc/1/cmdline']);
      expect(r.status, r.stderr).to.equal(0);
      // Its PID 1 is the container's command: the exec joined its pid namespace.
      expect(r.stdout).to.equal(`in-exec\n/bin/sh -c ${WAIT_FOR_TERM} `);
      const code = podman(['exec', name, '/bin/sh', '-c', 'exit 5']);
      expect(code.status, code.stderr).to.equal(5);
    });

    it('podman stop delivers SIGTERM (the trap’s exit code 42), podman rm removes it', function () {
      expect(pid, 'the container of the first test runs').to.be.greaterThan(0);
      const t0 = Date.now();
      const stop = podman(['stop', '--time', '20', name]);
      const took = Date.now() - t0;
      expect(stop.status, stop.stderr).to.equal(0);
      // 137 = Podman's SIGKILL after the 20 s grace: the SIGTERM (`kill ID 15`) did not reach the trap.
      expect(
        podman(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim(),
        `exit code after podman stop (took ${took} ms; stderr: ${stop.stderr.trim()})`,
      ).to.equal('42');
      expect(isAlive(pid), `the container's init ${pid} is gone`).to.equal(false);
      const rm = podman(['rm', name]);
      expect(rm.status, rm.stderr).to.equal(0);
      expect(podman(['ps', '-a', '--format', '{{.Names}}']).stdout).to.not.include(name);
    });
  });
});
