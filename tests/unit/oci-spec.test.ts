/**
 * config.json → ContainerConfig (src/core/oci/spec.ts), without a kernel: what
 * containerd's and Podman's configs become, and that every field cellblock
 * does not implement is refused by name and spec section — never dropped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { OciSpecError, RUNC_ALLOWED_DEVICES, translateSpec } from '../../src/core/oci/spec.js';
import { cellblockId } from '../../src/core/oci/state.js';
import { parseSignal } from '../../src/core/oci/runtime.js';
import { ociCgroupPath } from '../../src/core/oci/cgroup.js';
import { cgroupName, openCgroup } from '../../src/core/cgroups/index.js';
import { FakeCgroupFs } from '../support/fake-cgroupfs.js';

const ROOTFS = tmpdir(); // any directory will do: nothing is mounted
const CAPS = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_ADMIN'];

// A config.json as the tests edit it: loosely typed on purpose (JSON from a client).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Spec = Record<string, any>;

function spec(edit: (s: Spec) => void = () => undefined): Record<string, unknown> {
  // What `ctr run` hands the runtime (trimmed): the shape every test edits.
  const s: Spec = {
    ociVersion: '1.0.2-dev',
    process: {
      args: ['/bin/echo', 'hello'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: ROOTFS },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
    ],
    linux: {
      resources: {
        memory: { limit: 67108864, swap: 134217728 },
        cpu: { shares: 1024, quota: 50000, period: 100000 },
        pids: { limit: 50 },
      },
      cgroupsPath: '/default/demo',
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
    },
  };
  edit(s);
  return s;
}

function refusal(s: Record<string, unknown>): OciSpecError {
  try {
    translateSpec(s, '/tmp', 'demo');
  } catch (err) {
    if (err instanceof OciSpecError) return err;
    throw err;
  }
  throw new Error('translated without a refusal');
}

describe('OCI linux.cgroupsPath (core/oci/cgroup.ts)', function () {
  it('absolute and relative paths are from each hierarchy’s root; Podman’s and containerd’s forms pass', function () {
    expect(ociCgroupPath('/default/demo')).to.equal('/default/demo');
    expect(ociCgroupPath('default/demo')).to.equal('/default/demo');
    expect(ociCgroupPath('/libpod_parent/libpod-' + 'a'.repeat(64))).to.equal(
      '/libpod_parent/libpod-' + 'a'.repeat(64),
    );
    expect(ociCgroupPath('//a//b/')).to.equal('/a/b');
  });
  it('a level that could leave the path, the root, the workshop’s own parent: refused with the reason', function () {
    for (const [p, why] of [
      ['/a/../b', /level "\.\."/],
      ['/a/./b', /level "\."/],
      ['/', /names no cgroup/],
      ['', /names no cgroup/],
      ['/cellblock/x', /below cellblock\//],
      ['/a b/c', /level "a b"/],
      [Array.from({ length: 17 }, () => 'x').join('/'), /more than 16 levels/],
    ] as const) {
      const r = ociCgroupPath(p);
      expect(r, p).to.be.an('object');
      expect((r as { problem: string }).problem, p).to.match(why);
    }
    expect(() =>
      translateSpec(
        spec((s) => (s.linux.cgroupsPath = '/x/../../etc')),
        '/tmp',
        'demo',
      ),
    ).to.throw(OciSpecError, /linux\.cgroupsPath: "\/x\/\.\.\/\.\.\/etc" level "\.\."/);
  });
  it('cgroupName gives the path as it is; the managers put the cgroup there and leave the levels above', async function () {
    expect(cgroupName({ id: 'demo', cgroupPath: '/default/demo' })).to.equal('/default/demo');
    expect(cgroupName({ id: 'demo', cgroupParent: 'cb-pod-p' })).to.equal('cb-pod-p/demo');
    const fs = FakeCgroupFs.v2();
    try {
      const cg = openCgroup('/default/demo', { mode: 'v2', fs, root: fs.root });
      expect(cg.path).to.equal('/default/demo');
      cg.create();
      expect(fs.exists(`${fs.root}/default/demo`)).to.equal(true);
      expect(fs.exists(`${fs.root}/cellblock`)).to.equal(false);
      await cg.destroy();
      expect(fs.exists(`${fs.root}/default/demo`)).to.equal(false);
      expect(fs.exists(`${fs.root}/default`), 'not the manager’s to remove (core/oci does)').to.equal(true);
    } finally {
      fs.cleanup();
    }
  });
});

describe('OCI hooks createContainer / startContainer', function () {
  it('are translated for the init (they run in the container’s namespaces), the others stay the host’s', function () {
    const t = translateSpec(
      spec((s) => {
        s.hooks = {
          createContainer: [{ path: '/usr/bin/hook', args: ['hook', 'cc'], timeout: 5 }],
          startContainer: [{ path: '/bin/start-hook' }],
          poststop: [{ path: '/bin/true' }],
        };
      }),
      '/tmp',
      'demo',
    );
    expect(t.hooks.createContainer).to.deep.equal([{ path: '/usr/bin/hook', args: ['hook', 'cc'], timeout: 5 }]);
    expect(t.hooks.startContainer).to.deep.equal([{ path: '/bin/start-hook' }]);
    expect(t.hooks.poststop).to.have.length(1);
  });
});

describe('OCI config.json translation', function () {
  it('maps containerd’s config onto the lessons’ fields', function () {
    const t = translateSpec(spec(), '/tmp', 'demo');
    expect(t.config).to.include({ id: 'demo', rootfs: ROOTFS, cwd: '/', tty: false, net: 'none', memory: '67108864' });
    expect(t.config['memory-swap']).to.equal('134217728');
    expect(t.config['cpus']).to.equal('0.5');
    expect(t.config['pids-limit']).to.equal('50');
    expect(t.config['cap-add']).to.deep.equal(['NET_ADMIN']);
    expect(t.config['cap-drop']).to.include.members(['NET_RAW', 'SETUID']).and.not.include('KILL');
    expect(t.config.ociRlimits).to.deep.equal([{ resource: 7, soft: '1024', hard: '1024' }]);
    expect(t.config.ociMounts).to.have.length(1); // /run: /proc and /dev are the lessons'
    expect(t.cgroupsPath).to.equal('/default/demo');
    // Honoured: the cgroup lesson puts the cgroup there (cgroupName), no warning.
    expect(t.config.cgroupPath).to.equal('/default/demo');
    expect(t.warnings.join('\n')).to.not.match(/cgroupsPath/);
  });

  it('RLIM_INFINITY (2^64 - 1, read by JSON.parse as 2^64) is unlimited; another unsafe integer is refused', function () {
    const t = translateSpec(
      JSON.parse(
        JSON.stringify(spec()).replace(
          '"hard":1024,"soft":1024',
          '"hard":18446744073709551615,"soft":18446744073709551615',
        ),
      ) as Record<string, unknown>,
      '/tmp',
      'demo',
    );
    expect(t.config.ociRlimits?.[0]).to.include({ soft: '18446744073709551615', hard: '18446744073709551615' });
    const err = refusal(spec((s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 2 ** 60, soft: 1 }])));
    expect(err.message).to.contain('process.rlimits[0]');
  });

  it('cgroupsPath naming cellblock’s own place for this container (what run -d bundles say) is the default', function () {
    const t = translateSpec(
      spec((s) => (s.linux.cgroupsPath = '/cellblock/demo')),
      '/tmp',
      'demo',
    );
    expect(t.config.cgroupPath).to.equal(undefined);
    expect(refusal(spec((s) => (s.linux.cgroupsPath = '/cellblock/other'))).message).to.contain('cellblock/');
  });

  it('no linux.seccomp: no filter at all, as runc (not the security lesson’s default profile)', function () {
    expect(translateSpec(spec(), '/tmp', 'demo').config['security-opt']).to.include('seccomp=unconfined');
    const t = translateSpec(
      spec((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] })),
      '/tmp',
      'demo',
    );
    expect(t.config['security-opt'] ?? []).not.to.include('seccomp=unconfined');
  });

  it('a network namespace with a path is joined; none at all is the host’s network', function () {
    const joined = translateSpec(
      spec((s) => (s.linux.namespaces[4] = { type: 'network', path: '/run/netns/x' })),
      '/tmp',
      'demo',
    );
    expect(joined.config.namespacePaths).to.deep.equal([{ kind: 'net', path: '/run/netns/x' }]);
    const host = translateSpec(
      spec((s) => s.linux.namespaces.pop()),
      '/tmp',
      'demo',
    );
    expect(host.config['net']).to.equal('host');
  });

  it('Podman’s user, umask and annotations', function () {
    const t = translateSpec(
      spec((s) => {
        s.process.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [1000] };
        s.annotations = { 'io.container.manager': 'libpod', 'io.cellblock.name': 'web' };
      }),
      '/tmp',
      'demo',
    );
    expect(t.config.ociUser).to.deep.equal({ uid: 1000, gid: 1000, additionalGids: [1000] });
    expect(t.config.ociUmask).to.equal(18);
    expect(t.config['name']).to.equal('web');
    expect(t.annotations['io.container.manager']).to.equal('libpod');
  });

  it('an allow-list seccomp profile: unknown names dropped, argument filters loosened, both said', function () {
    const t = translateSpec(
      spec((s) => {
        s.linux.seccomp = {
          defaultAction: 'SCMP_ACT_ERRNO',
          defaultErrnoRet: 38,
          architectures: ['SCMP_ARCH_X86_64'],
          syscalls: [
            { names: ['read', 'write', 'no_such_call'], action: 'SCMP_ACT_ALLOW' },
            { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
            { names: ['vm86', 'mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          ],
        };
      }),
      '/tmp',
      'demo',
    );
    const profile = t.config['ociSeccomp'] as { syscalls: { names: string[] }[]; defaultErrnoRet: number };
    expect(profile.defaultErrnoRet).to.equal(38);
    expect(profile.syscalls.map((r) => r.names)).to.deep.equal([['read', 'write'], ['personality'], ['mount']]);
    expect(t.warnings.join('\n')).to.match(/only for some arguments/);
    expect(t.warnings.join('\n')).to.match(/so not denied: vm86/); // x86-32 only
  });

  it('linux.resources.devices: an allow list after "deny all", runc’s defaults last; no "deny all": every device', function () {
    const deny = { allow: false, access: 'rwm' };
    const containerd = translateSpec(
      spec(
        (s) =>
          (s.linux.resources.devices = [
            deny,
            { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
            { allow: true, type: 'c', major: 136, access: 'rwm' },
          ]),
      ),
      '/tmp',
      'demo',
    );
    expect(containerd.config.deviceRules).to.deep.equal([
      { type: 'c', major: 1, minor: 3, access: 'rwm' },
      { type: 'c', major: 136, minor: '*', access: 'rwm' },
      ...RUNC_ALLOWED_DEVICES,
    ]);
    const podman = translateSpec(
      spec((s) => (s.linux.resources.devices = [deny])),
      '/tmp',
      'demo',
    );
    expect(podman.config.deviceRules).to.deep.equal(RUNC_ALLOWED_DEVICES);
    // Allowing on top of "everything allowed" adds nothing; a later "deny all" starts over.
    const open = translateSpec(
      spec((s) => (s.linux.resources.devices = [{ allow: true, type: 'c', major: 1, minor: 3 }])),
      '/tmp',
      'demo',
    );
    expect(open.config.deviceRules).to.deep.equal([{ type: 'a', major: '*', minor: '*', access: 'rwm' }]);
    const again = translateSpec(
      spec(
        (s) => (s.linux.resources.devices = [deny, { allow: true, type: 'b', major: 7, minor: 0, access: 'r' }, deny]),
      ),
      '/tmp',
      'demo',
    );
    expect(again.config.deviceRules).to.deep.equal(RUNC_ALLOWED_DEVICES);
    // None given: the security lesson's own list.
    expect(translateSpec(spec(), '/tmp', 'demo').config.deviceRules).to.equal(undefined);
  });

  it('linux.devices: nodes under /dev, checked; a FIFO needs no numbers', function () {
    const t = translateSpec(
      spec(
        (s) =>
          (s.linux.devices = [
            { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
            { path: '/dev/pipe', type: 'p' },
          ]),
      ),
      '/tmp',
      'demo',
    );
    expect(t.config.ociDevices).to.deep.equal([
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/pipe', type: 'p', major: 0, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    const cases: [unknown, RegExp][] = [
      [{ path: '/etc/x', type: 'c', major: 1, minor: 3 }, /linux\.devices\[0\]\.path.*under \/dev/],
      [{ path: '/dev/../etc/x', type: 'c', major: 1, minor: 3 }, /linux\.devices\[0\]\.path/],
      [{ path: '/dev/x', type: 'x', major: 1, minor: 3 }, /linux\.devices\[0\]\.type.*c, b, u or p/],
      [{ path: '/dev/x', type: 'c' }, /needs major and minor/],
      [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o100000 }, /fileMode/],
    ];
    for (const [d, says] of cases) expect(refusal(spec((s) => (s.linux.devices = [d]))).message).to.match(says);
    expect(
      refusal(
        spec((s) => (s.linux.resources.devices = [{ allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' }])),
      ).message,
    ).to.match(/linux\.resources\.devices\[0\].*deny all/);
  });

  it('a user namespace with one range from container id 0 is lesson 08’s remap; any other shape is refused by field', function () {
    const userns =
      (uid: unknown, gid: unknown = uid) =>
      (s: Spec) => {
        s.linux.namespaces.push({ type: 'user' });
        s.linux.uidMappings = uid;
        s.linux.gidMappings = gid;
      };
    const one = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const t = translateSpec(spec(userns(one)), '/tmp', 'demo');
    expect(t.config).to.include({ userns: 'remap', 'userns-range': '200000:65536' });
    const cases: [(s: Spec) => void, RegExp][] = [
      [userns([...one, { containerID: 65536, hostID: 300000, size: 1000 }]), /linux\.uidMappings.*2 ranges/],
      [userns([{ containerID: 1, hostID: 200000, size: 65536 }]), /linux\.uidMappings\[0\].*containerID: 0/],
      [userns(one, [{ containerID: 0, hostID: 400000, size: 65536 }]), /linux\.gidMappings.*same range/],
      [userns([{ containerID: 0, hostID: 1000, size: 65536 }]), /at least 65536/],
      [userns([{ containerID: 0, hostID: 200000, size: 1024 }]), /at least 65536/],
      [(s) => s.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }), /"user" namespace by path/],
    ];
    for (const [edit, says] of cases) expect(refusal(spec(edit)).message).to.match(says);
  });

  it('an unsupported field is refused by name and section', function () {
    const cases: [(s: Spec) => void, RegExp][] = [
      [(s) => (s.ociVersion = '0.6.0'), /ociVersion.*config\.md#specification-version/],
      [(s) => delete s.root.path, /root\.path.*config\.md#root/],
      [(s) => (s.root.readonly = 'yes'), /root\.readonly: must be true or false/],
      [
        (s) => s.linux.namespaces.push({ type: 'user' }),
        /"user" namespace needs its mappings.*#user-namespace-mappings/,
      ],
      [(s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), /linux\.uidMappings.*need a "user"/],
      [(s) => (s.linux.resources.cpu.cpus = '0-1'), /linux\.resources\.cpu\.cpus.*config-linux\.md#cpu/],
      [(s) => (s.linux.cgroupsPath = 'system.slice:libpod:abc'), /systemd form/],
      [(s) => (s.hooks = { createContainer: [{ path: 'true' }] }), /hooks\.createContainer\[0\]\.path/],
      [(s) => (s.hooks = { preStart: [] }), /hooks\.preStart/],
      [(s) => (s.linux.intelRdt = {}), /linux\.intelRdt/],
      [(s) => s.mounts.push({ destination: '/x', type: 'nfs', source: 'h:/x' }), /mounts\[3\]\.type/],
      [(s) => (s.annotations = { 'io.cellblock.nett': 'bridge' }), /unknown cellblock annotation/],
      [(s) => (s.linux.sysctl = { 'kernel.hostname': 'x' }), /only namespaced sysctls/],
      [(s) => (s.process.capabilities.ambient = ['CAP_SYS_ADMIN']), /ambient/],
    ];
    for (const [edit, says] of cases) expect(refusal(spec(edit)).message).to.match(says);
  });

  it('a bind mount source is resolved against the bundle and must exist', function () {
    const dir = mkdtempSync(join(tmpdir(), 'cellblock-ocispec-'));
    try {
      writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
      const ok = translateSpec(
        spec((s) =>
          s.mounts.push({ destination: '/etc/hosts', type: 'bind', source: 'hosts', options: ['rbind', 'ro'] }),
        ),
        dir,
        'demo',
      );
      expect(ok.config.ociMounts?.at(-1)).to.include({ source: join(dir, 'hosts'), recursive: true, flags: 1 });
      expect(
        refusal(spec((s) => s.mounts.push({ destination: '/etc/x', type: 'bind', source: 'nope' }))).message,
      ).to.match(/mounts\[3\]\.source.*does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ids: a long one (Podman’s 64 hex) gets a short stable cellblock id; signals by name or number', function () {
    expect(cellblockId('demo-1')).to.equal('demo-1');
    const long = 'a'.repeat(64);
    expect(cellblockId(long))
      .to.match(/^oci-[0-9a-f]{16}$/)
      .and.equal(cellblockId(long));
    expect([parseSignal('9'), parseSignal('TERM'), parseSignal('SIGKILL'), parseSignal('hup')]).to.deep.equal([
      9, 15, 9, 1,
    ]);
    expect(() => parseSignal('NOPE')).to.throw(/unknown signal/);
  });
});
