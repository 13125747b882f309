/**
 * The shim's pieces that need no kernel: the OCI bundle a config becomes,
 * Docker's stream frames, the records' status and name resolution, and the
 * shim inventory over a fixture directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { configFacts, ociSpec, DOCKER_DEFAULT_CAPS } from '../../src/core/bundle/spec.js';
import { frame, FrameReader } from '../../src/core/shim/protocol.js';
import { effectiveStatus, listShimStates, resolveShim, type ShimState } from '../../src/core/shim/state.js';
import { shimInventory } from '../../src/core/shim/inventory.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { readStat } from '../../src/core/host/proc.js';

const base: ContainerConfig = { id: 'cb-t1', rootfs: '/r', argv: ['sh'], env: ['A=1'], cwd: '/', tty: false };

describe('OCI bundle from a container config', function () {
  it('process, root, hostname (the id by default), the namespaces, the cgroup path', function () {
    const s = ociSpec(base);
    expect(s.process.args).to.deep.equal(['sh']);
    expect(s.process.env).to.deep.equal(['A=1']);
    expect(s.root).to.deep.equal({ path: '/r', readonly: false });
    expect(s.hostname).to.equal('cb-t1');
    expect(s.linux.namespaces.map((n) => n.type).sort()).to.deep.equal(
      ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'].sort(),
    );
    expect(s.linux.cgroupsPath).to.equal('/cellblock/cb-t1');
    expect(s.process.noNewPrivileges).to.equal(true);
    expect(s.process.capabilities.bounding).to.deep.equal(DOCKER_DEFAULT_CAPS.map((c) => `CAP_${c}`));
    expect(s.annotations).to.deep.equal({ 'io.cellblock.net': 'bridge' });
  });

  it('lesson fields: limits as runtime-spec resources, the rest as io.cellblock.* annotations', function () {
    const s = ociSpec({
      ...base,
      hostname: 'web',
      memory: '16m',
      'memory-swap': '-1',
      cpus: '0.5',
      'pids-limit': '10',
      name: 'web',
      publish: ['8080:80'],
      image: 'busybox',
      init: true,
      keep: true,
    });
    expect(s.hostname).to.equal('web');
    expect(s.linux.resources).to.deep.equal({
      memory: { limit: 16 * 1024 * 1024, swap: -1 },
      cpu: { quota: 50_000, period: 100_000 },
      pids: { limit: 10 },
    });
    expect(s.annotations).to.deep.equal({
      'io.cellblock.net': 'bridge',
      'io.cellblock.name': 'web',
      'io.cellblock.publish': '8080:80',
      'io.cellblock.image': 'busybox',
      'io.cellblock.init': 'true',
      'io.cellblock.keep': 'true',
    });
  });

  it('--net host has no network namespace, none no bridge, container:NAME a path', function () {
    expect(ociSpec({ ...base, net: 'host' }).linux.namespaces.some((n) => n.type === 'network')).to.equal(false);
    const none = ociSpec({ ...base, net: 'none' });
    expect(none.linux.namespaces).to.deep.include({ type: 'network' });
    expect(none.annotations).to.deep.equal({});
    const shared = ociSpec({ ...base, net: 'container:web', uts: 'container:web' }, () => 42);
    expect(shared.linux.namespaces).to.deep.include({ type: 'network', path: '/proc/42/ns/net' });
    expect(shared.linux.namespaces).to.deep.include({ type: 'uts', path: '/proc/42/ns/uts' });
    expect(shared.hostname, 'no hostname in a UTS namespace that is not its own').to.equal(undefined);
  });

  it('capabilities: --cap-drop ALL then --cap-add; --privileged has them all and no masks', function () {
    const s = ociSpec({ ...base, 'cap-drop': 'ALL', 'cap-add': ['net_admin'] });
    expect(s.process.capabilities.effective).to.deep.equal(['CAP_NET_ADMIN']);
    const p = ociSpec({ ...base, privileged: true });
    expect(p.process.capabilities.bounding.length).to.be.greaterThan(30);
    expect(p.linux.maskedPaths).to.deep.equal([]);
    expect(p.process.noNewPrivileges).to.equal(false);
  });

  it("a record's facts: name, image, ports", function () {
    expect(configFacts({ ...base, name: 'w', publish: '1:2' })).to.deep.equal({ name: 'w', ports: ['1:2'] });
    expect(configFacts(base)).to.deep.equal({});
  });
});

describe("Docker's stream frames", function () {
  it('an 8-byte header: stream, three zeros, the length big-endian', function () {
    const f = frame('stderr', Buffer.from('hi'));
    expect([...f.subarray(0, 8)]).to.deep.equal([2, 0, 0, 0, 0, 0, 0, 2]);
    expect(f.subarray(8).toString()).to.equal('hi');
  });

  it('FrameReader: frames split across chunks and several in one chunk', function () {
    const got: string[] = [];
    const r = new FrameReader((stream, p) => got.push(`${stream}:${p.toString()}`));
    const all = Buffer.concat([frame('stdout', Buffer.from('one')), frame('stderr', Buffer.from('two'))]);
    r.push(all.subarray(0, 5));
    r.push(all.subarray(5, 13));
    r.push(all.subarray(13));
    expect(got).to.deep.equal(['stdout:one', 'stderr:two']);
  });
});

describe('shim records', function () {
  let dir: string;
  const record = (s: Partial<ShimState> & { id: string }): void => {
    mkdirSync(join(dir, s.id), { recursive: true });
    const full: ShimState = {
      argv: ['x'],
      created: '2026-01-01T00:00:00.000Z',
      status: 'running',
      tty: false,
      openStdin: false,
      autoRemove: false,
      runtime: 'runc',
      runtimeSolutions: false,
      lessons: [],
      ...s,
    };
    writeFileSync(join(dir, s.id, 'state.json'), JSON.stringify(full));
  };
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cellblock-shim-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('running while its shim lives (pid and start time); dead when the shim is gone before the end', function () {
    // This process stands in for a live shim; pid 2^22+1 is never one.
    const me = readStat(process.pid)!.start;
    record({ id: 'live', shimPid: process.pid, shimStart: me });
    record({ id: 'gone', shimPid: 4_194_305 });
    record({ id: 'ended', status: 'exited', exitCode: 0 });
    const by = Object.fromEntries(listShimStates(dir).map((s) => [s.id, s.status]));
    expect(by).to.deep.equal({ live: 'running', gone: 'dead', ended: 'exited' });
    expect(effectiveStatus({ ...listShimStates(dir).find((s) => s.id === 'live')!, shimStart: me + 1 })).to.equal(
      'dead',
    );
  });

  it('resolved by id, by name, or by a unique id prefix', function () {
    record({ id: 'cb-abc1', name: 'web', status: 'exited' });
    record({ id: 'cb-abd2', status: 'exited' });
    expect(resolveShim('cb-abc1', dir)).to.equal('cb-abc1');
    expect(resolveShim('web', dir)).to.equal('cb-abc1');
    expect(resolveShim('cb-abd', dir)).to.equal('cb-abd2');
    expect(resolveShim('cb-ab', dir), 'ambiguous').to.equal(undefined);
    expect(resolveShim('../x', dir)).to.equal(undefined);
  });

  it("the inventory: a dead record is nobody's running container; an ended one is the user's to rm", function () {
    record({ id: 'gone', shimPid: 4_194_305 });
    record({ id: 'ended', status: 'exited', exitCode: 0 });
    const scope = { shimsDir: dir, proc: '/proc' };
    const alive = { live: new Map(), ids: new Set<string>(), spared: new Set<number>() };
    const items = shimInventory.kinds.flatMap((k) => k.list(scope, alive));
    const records = items.filter((i) => i.kind === 'shim record').sort((a, b) => a.name.localeCompare(b.name));
    expect(records.map((i) => [i.containerId, i.userKept !== undefined])).to.deep.equal([
      ['ended', true],
      ['gone', false],
    ]);
    expect(shimInventory.containers!(scope).filter((c) => c.running)).to.deep.equal([]);
  });
});
