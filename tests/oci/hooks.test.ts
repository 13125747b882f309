/**
 * hooks.createContainer and hooks.startContainer on the real kernel, through
 * the real binary (runtime-spec config.md "POSIX-platform Hooks"): both run in
 * the container's namespaces — createContainer before pivot_root (its path is
 * the host's), startContainer after `start`, before the command (its path is
 * the container's) — each with the state on stdin; a failing one fails create.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultRootfs } from '../../src/core/paths.js';
import { hostState } from '../../src/workshop/probe.js';
import { CELLBLOCK_OCI, workshopLeftovers } from '../support/oci-clients.js';
import { skipBecause } from '../support/skip.js';

describe('cellblock-oci: createContainer and startContainer hooks (real kernel)', function () {
  this.timeout(120_000);
  let root = '';
  let dir = '';
  let stateBefore: string[] = [];
  const ids: string[] = [];
  const rootBefore = process.env['CELLBLOCK_OCI_ROOT'];

  // Files, never pipes: the container keeps its stdio open (spawnSync would wait for it).
  const oci = (args: string[]) => {
    const out = join(dir, `out-${Date.now()}`);
    const fd = openSync(out, 'w');
    try {
      const r = spawnSync(process.execPath, [CELLBLOCK_OCI, '--root', root, '--solutions', ...args], {
        timeout: 60_000,
        stdio: ['ignore', fd, fd],
      });
      return { status: r.status, out: readFileSync(out, 'utf8') };
    } finally {
      closeSync(fd);
    }
  };
  const bundle = (name: string, hooks: unknown, args: string[]): string => {
    const b = join(dir, name);
    rmSync(b, { recursive: true, force: true });
    spawnSync('mkdir', [b]);
    const spec = {
      ociVersion: '1.0.2',
      root: { path: defaultRootfs() },
      process: { args, env: ['PATH=/bin:/usr/bin'], cwd: '/' },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      ],
      hooks,
      linux: { namespaces: ['pid', 'mount', 'uts', 'ipc'].map((type) => ({ type })) },
    };
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    return b;
  };

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'containers are made as root');
    if (!existsSync(defaultRootfs())) skipBecause(this, `no rootfs at ${defaultRootfs()}: run scripts/setup.sh`);
    dir = mkdtempSync(join(tmpdir(), 'cellblock-oci-hooks-'));
    root = join(dir, 'root');
    process.env['CELLBLOCK_OCI_ROOT'] = root;
    stateBefore = hostState();
  });
  after(function () {
    for (const id of ids) oci(['delete', '--force', id]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (rootBefore === undefined) delete process.env['CELLBLOCK_OCI_ROOT'];
    else process.env['CELLBLOCK_OCI_ROOT'] = rootBefore;
  });
  afterEach(function () {
    expect(workshopLeftovers(stateBefore, ids), 'inventory items left').to.deep.equal([]);
  });

  it('createRuntime runs in the runtime’s namespaces, then createContainer in the container’s, both before pivot_root; startContainer before the command', function () {
    const id = `cb-hooks-${process.pid}-ok`;
    ids.push(id);
    const mark = join(dir, 'cc.txt');
    const order = join(dir, 'order.txt');
    const b = join(dir, 'ok');
    // The init's pid from the state on stdin; through /proc/PID/root the host's
    // tree (the bundle) is still in sight before pivot_root, and only then.
    const pidOf = `pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')`;
    const seen = `$(test -e /proc/$pid/root${b}/config.json && echo before-pivot || echo after-pivot)`;
    bundle(
      'ok',
      {
        createRuntime: [
          {
            path: '/bin/sh',
            args: ['sh', '-c', `${pidOf}; echo "createRuntime $(readlink /proc/self/ns/mnt) ${seen}" >> ${order}`],
          },
        ],
        prestart: [{ path: '/bin/sh', args: ['sh', '-c', `${pidOf}; echo "prestart ${seen}" >> ${order}`] }],
        // The host's /bin/sh, writing into the host's temp dir: both reachable only before pivot_root.
        createContainer: [
          {
            path: '/bin/sh',
            args: ['sh', '-c', `{ readlink /proc/self/ns/uts; cat; } > ${mark}; echo createContainer >> ${order}`],
          },
        ],
        // A path in the container's root: only there after pivot_root.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo start-hook $(readlink /proc/self/ns/pid)'] }],
      },
      ['/bin/sh', '-c', 'echo main $(readlink /proc/self/ns/pid)'],
    );
    const r = oci(['run', '--bundle', b, id]);
    expect(r.status, r.out).to.equal(0);
    // prestart (deprecated) with createRuntime, in the host's mount namespace, before the pivot; then createContainer.
    const host = readlinkSync('/proc/self/ns/mnt');
    expect(readFileSync(order, 'utf8').trim().split('\n')).to.deep.equal([
      'prestart before-pivot',
      `createRuntime ${host} before-pivot`,
      'createContainer',
    ]);
    const lines = r.out.trim().split('\n');
    const startLine = lines.findIndex((l) => l.startsWith('start-hook '));
    const mainLine = lines.findIndex((l) => l.startsWith('main '));
    expect(startLine, r.out).to.be.greaterThan(-1);
    expect(mainLine, 'the hook ran before the command').to.be.greaterThan(startLine);
    // Same pid namespace as the command, not the host's.
    expect(lines[startLine]!.split(' ')[1]).to.equal(lines[mainLine]!.split(' ')[1]);
    expect(lines[startLine]!.split(' ')[1]).to.not.equal(readlinkSync('/proc/self/ns/pid'));
    const [uts, state] = readFileSync(mark, 'utf8').split('\n');
    expect(uts).to.match(/^uts:\[\d+\]$/);
    expect(uts, 'createContainer in the container’s uts namespace').to.not.equal(readlinkSync('/proc/self/ns/uts'));
    const s = JSON.parse(state!) as { id: string; status: string; pid: number; bundle: string };
    expect(s).to.include({ id, status: 'creating', bundle: b });
    expect(s.pid).to.be.greaterThan(1); // the host's pid of the init, not 1
    // `run` (without -d) deleted it once the command ended, as runc's does.
    expect(existsSync(join(root, id))).to.equal(false);
  });

  for (const kind of ['createRuntime', 'createContainer']) {
    it(`a failing ${kind} hook fails create and leaves nothing`, function () {
      const id = `cb-hooks-${process.pid}-fail-${kind.toLowerCase()}`;
      ids.push(id);
      const b = bundle(`fail-${kind}`, { [kind]: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] }, ['/bin/true']);
      const r = oci(['create', '--bundle', b, id]);
      expect(r.status).to.equal(1);
      expect(r.out, r.out).to.match(new RegExp(`${kind} hook /bin/sh failed: exit status 3`));
      expect(existsSync(join(root, id))).to.equal(false);
    });
  }
});
