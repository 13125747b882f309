/**
 * linux.cgroupsPath, on the real kernel through the real binary: the
 * container's cgroup is where config.json says (containerd's /NAMESPACE/ID,
 * Podman's /libpod_parent/libpod-ID), with the limits in it; `ps`/`kill --all`
 * and `cellblock stats` find it; `delete` removes it and the levels above it
 * that create made — and only those; the inventories know such a cgroup by the
 * record in the OCI state directory, so a create that dies half way leaves
 * nothing `cellblock cleanup` cannot find. Leak-checked like every suite.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultRootfs } from '../../src/core/paths.js';
import { removeContainerItems } from '../../src/core/inventories.js';
import { hostItems, hostState, itemLine } from '../../src/workshop/probe.js';
import { CELLBLOCK_OCI, cgroupRoots, workshopLeftovers } from '../support/oci-clients.js';
import { skipBecause } from '../support/skip.js';

const CELLBLOCK = join(CELLBLOCK_OCI, '..', 'cellblock.mjs');
const TOP = `cb-oci-cgpath-${process.pid}`;

describe('cellblock-oci: linux.cgroupsPath is honoured (real kernel)', function () {
  this.timeout(180_000);
  let root = '';
  let bundles = '';
  let stateBefore: string[] = [];
  const ids: string[] = [];

  // Files, never pipes: a container keeps its stdio open after the runtime has gone (spawnSync would wait for it).
  const oci = (args: string[]) => {
    const out = join(bundles, `out-${ids.length}-${Date.now()}`);
    const err = `${out}.err`;
    const [o, e] = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(process.execPath, [CELLBLOCK_OCI, '--root', root, '--solutions', ...args], {
        timeout: 60_000,
        env: { ...process.env, CELLBLOCK_OCI_ROOT: root },
        stdio: ['ignore', o, e],
      });
      return { status: r.status, out: readFileSync(out, 'utf8'), err: readFileSync(err, 'utf8') };
    } finally {
      closeSync(o);
      closeSync(e);
    }
  };
  const bundle = (name: string, cgroupsPath: string, args = ['/bin/sleep', '60']): string => {
    const dir = join(bundles, name);
    mkdirSync(dir);
    const spec = {
      ociVersion: '1.0.2',
      root: { path: defaultRootfs() },
      process: { args, env: ['PATH=/bin:/usr/bin'], cwd: '/' },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      ],
      linux: {
        cgroupsPath,
        resources: { memory: { limit: 50331648 }, pids: { limit: 33 } },
        namespaces: ['pid', 'mount', 'uts', 'ipc'].map((type) => ({ type })),
      },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  };
  const newId = (what: string): string => {
    const id = `cb-cgp-${process.pid}-${what}`;
    ids.push(id);
    return id;
  };
  /** The cgroup `rel` in every hierarchy it exists in. */
  const at = (rel: string): string[] => cgroupRoots().filter((r) => existsSync(join(r, rel)));

  const rootBefore = process.env['CELLBLOCK_OCI_ROOT'];

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'cgroups are made as root');
    if (!existsSync(defaultRootfs())) skipBecause(this, `no rootfs at ${defaultRootfs()}: run scripts/setup.sh`);
    root = mkdtempSync(join(tmpdir(), 'cellblock-oci-cgp-root-'));
    // The inventories (this process's leak probe) look in our --root.
    process.env['CELLBLOCK_OCI_ROOT'] = root;
    stateBefore = hostState();
    bundles = mkdtempSync(join(tmpdir(), 'cellblock-oci-cgp-b-'));
  });

  after(function () {
    for (const id of ids) oci(['delete', '--force', id]);
    rmSync(bundles, { recursive: true, force: true });
    if (root) rmSync(root, { recursive: true, force: true });
    if (rootBefore === undefined) delete process.env['CELLBLOCK_OCI_ROOT'];
    else process.env['CELLBLOCK_OCI_ROOT'] = rootBefore;
  });

  afterEach(function () {
    // Nothing of these containers left: inventories (the OCI record's cgroups included), and our top level.
    const left = workshopLeftovers(stateBefore, ids);
    expect(left, 'inventory items left').to.deep.equal([]);
    expect(at(TOP), `${TOP} left in these hierarchies`).to.deep.equal([]);
  });

  it('puts the cgroup at the absolute path, with its limits; ps, stats and delete find it there', function () {
    const id = newId('abs');
    const path = `/${TOP}/${id}`;
    const r = oci(['run', '-d', '--bundle', bundle('abs', path), id]);
    expect(r.status, r.err).to.equal(0);
    const state = JSON.parse(oci(['state', id]).out) as { pid: number };
    // The kernel says where the init is: /proc/PID/cgroup names the path in each hierarchy.
    const cg = readFileSync(`/proc/${state.pid}/cgroup`, 'utf8');
    expect(cg).to.match(new RegExp(`:memory:${path}\\n`));
    expect(cg).to.match(new RegExp(`:pids:${path}\\n`));
    expect(cg).to.not.match(/:\/cellblock\//);
    const mem = cgroupRoots().find((d) => existsSync(join(d, path, 'memory.limit_in_bytes')));
    if (mem) expect(readFileSync(join(mem, path, 'memory.limit_in_bytes'), 'utf8').trim()).to.equal('50331648');
    const pidsRoot = cgroupRoots().find((d) => existsSync(join(d, path, 'pids.max')));
    expect(pidsRoot, 'pids.max in the path').to.not.equal(undefined);
    expect(readFileSync(join(pidsRoot!, path, 'pids.max'), 'utf8').trim()).to.equal('33');
    // Attributed by the record: the OCI inventory lists the cgroup as this container's.
    const items = hostItems().items.filter((i) => i.kind === 'oci-cgroup');
    expect(items.map((i) => i.containerId)).to.include(id);
    expect(items.map((i) => i.name)).to.include(join(pidsRoot!, path));
    expect(JSON.parse(oci(['ps', '--format', 'json', id]).out)).to.deep.equal([state.pid]);
    const stats = spawnSync(process.execPath, [CELLBLOCK, 'stats', id], { encoding: 'utf8', timeout: 30_000 });
    expect(stats.stdout, stats.stderr).to.match(new RegExp(`${id}\\s.*1 / 33`));
    expect(oci(['kill', '--all', id, 'KILL']).status).to.equal(0);
    const d = oci(['delete', '--force', id]);
    expect(d.status, d.err).to.equal(0);
    expect(at(path), 'the container’s cgroup').to.deep.equal([]);
  });

  it('leaves a level that existed before, removes the ones it made (once nothing is below them)', function () {
    const a = newId('a');
    const b = newId('b');
    // TOP exists before (made here in the memory hierarchy only): create must not take it along.
    const mem = cgroupRoots().find((d) => existsSync(join(d, 'memory.limit_in_bytes')));
    if (mem) mkdirSync(join(mem, TOP));
    try {
      expect(oci(['run', '-d', '--bundle', bundle('a', `/${TOP}/mid/${a}`), a]).status).to.equal(0);
      expect(oci(['run', '-d', '--bundle', bundle('b', `/${TOP}/mid/${b}`), b]).status).to.equal(0);
      expect(oci(['delete', '--force', a]).status).to.equal(0);
      expect(at(`${TOP}/mid`).length, 'mid still has b below it').to.be.greaterThan(0);
      expect(oci(['delete', '--force', b]).status).to.equal(0);
      expect(at(`${TOP}/mid`)).to.deep.equal([]);
      if (mem) expect(existsSync(join(mem, TOP)), 'the level that existed').to.equal(true);
    } finally {
      try {
        if (mem && existsSync(join(mem, TOP))) rmdirSync(join(mem, TOP));
      } catch {
        // still in use: afterEach reports it
      }
    }
  });

  it('a relative path is from the hierarchy’s root too; a taken cgroup and a bad path are refused', function () {
    const id = newId('rel');
    expect(oci(['create', '--bundle', bundle('rel', `${TOP}/${id}`), id]).status).to.equal(0);
    expect(at(`${TOP}/${id}`).length).to.be.greaterThan(0);
    // Someone else's cgroup is never taken over (its delete would kill what is in it).
    const other = newId('taken');
    const taken = oci(['create', '--bundle', bundle('taken', `${TOP}/${id}`), other]);
    expect(taken.status).to.equal(1);
    expect(taken.err).to.match(/linux\.cgroupsPath .* exists already/);
    expect(existsSync(join(root, other)), 'no state dir for the refused one').to.equal(false);
    const bad = oci(['create', '--bundle', bundle('bad', `/${TOP}/../x`), newId('bad')]);
    expect(bad.status).to.equal(1);
    expect(bad.err).to.match(/linux\.cgroupsPath: "\/.*\/\.\.\/x" level "\.\."/);
    const inWorkshop = oci(['create', '--bundle', bundle('ours', `/cellblock/${id}`), newId('ours')]);
    expect(inWorkshop.err).to.match(/is below cellblock\/, the workshop's own cgroups/);
    expect(oci(['delete', '--force', id]).status).to.equal(0);
    expect(at(TOP)).to.deep.equal([]);
  });

  it('a create killed half way leaves a record `cellblock cleanup` removes the cgroup by', async function () {
    const id = newId('killed');
    const path = `/${TOP}/${id}`;
    // Created, then its state.json taken away and its init killed: what a create killed after the
    // lessons' host steps leaves (the record was written before anything was made).
    expect(oci(['create', '--bundle', bundle('killed', path), id]).status).to.equal(0);
    const state = JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as { pid: number };
    rmSync(join(root, id, 'state.json'));
    process.kill(state.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const mine = hostItems()
      .items.filter((i) => i.kind === 'oci-cgroup' && i.containerId === id)
      .map(itemLine);
    expect(mine.length, 'the record’s cgroups are inventory items').to.be.greaterThan(0);
    // What `cellblock cleanup` does, for this container's items only (the machine is shared).
    const r = await removeContainerItems(id);
    expect(r.failed).to.deep.equal([]);
    expect(r.removed).to.include.members(mine);
    expect(at(path)).to.deep.equal([]);
    expect(existsSync(join(root, id)), 'the OCI state dir').to.equal(false);
  });
});
