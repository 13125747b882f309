/**
 * The security pieces without a kernel: the capability set, the seccomp filter
 * run through a small classic-BPF interpreter (so every rule's answer is
 * checked for the syscalls it is about — on both architectures' numbers), the
 * profile parser's refusals, and the order of the init's steps, recorded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import * as C from '../../src/native/constants.js';
import { PR_CAPBSET_DROP, PR_CAPBSET_READ, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS } from '../../src/native/capability.js';
import type { SockFilter } from '../../src/native/filter.js';
import { syscallNumber } from '../../src/native/syscalls.js';
import { deviceLine, deviceProgram } from '../../src/core/cgroups/devices.js';
import { securityOpts, securityValidations } from '../../src/core/security/options.js';
import { readSeccompProfile } from '../../src/core/security/profile.js';
import security, {
  capabilitySet,
  defaultFilter,
  DEVICE_RULES,
  profileFilter,
} from '../../solutions/09-security/security.js';
import { recordingSys } from './recording-sys.js';
import { testConfig } from '../support/config.js';

/** Run a classic-BPF seccomp program on one struct seccomp_data; returns the SECCOMP_RET_* value. */
function runFilter(prog: SockFilter[], data: { nr: number; arch: number; args?: number[] }): number {
  const word = (off: number): number => {
    if (off === C.SECCOMP_DATA_NR) return data.nr >>> 0;
    if (off === C.SECCOMP_DATA_ARCH) return data.arch >>> 0;
    const i = (off - C.SECCOMP_DATA_ARGS) / 8;
    if (Number.isInteger(i)) return (data.args?.[i] ?? 0) >>> 0; // the low half (little-endian)
    if (Number.isInteger(i - 0.5)) return 0; // the high half
    throw new Error(`load at ${off}`);
  };
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    if (code === (C.BPF_LD | C.BPF_W | C.BPF_ABS)) a = word(k);
    else if (code === (C.BPF_RET | C.BPF_K)) return k >>> 0;
    else if (code === (C.BPF_JMP | C.BPF_JEQ | C.BPF_K)) pc += a === k >>> 0 ? jt : jf;
    else if (code === (C.BPF_JMP | C.BPF_JGE | C.BPF_K)) pc += a >= k >>> 0 ? jt : jf;
    else if (code === (C.BPF_JMP | C.BPF_JSET | C.BPF_K)) pc += (a & k) !== 0 ? jt : jf;
    else throw new Error(`opcode ${code} at ${pc}`);
  }
  throw new Error('fell off the end of the program');
}

const ARCH = process.arch === 'arm64' ? C.AUDIT_ARCH_AARCH64 : C.AUDIT_ARCH_X86_64;
const nr = (name: string): number => syscallNumber(name);
const EPERM = C.SECCOMP_RET_ERRNO | C.EPERM;

/** A recording sys whose kernel knows capabilities 0–40, as Linux 5.9+ does (PR_CAPBSET_READ fails past them). */
const kernelSys = () =>
  recordingSys((call) =>
    call.name === 'prctl' && call.args[0] === PR_CAPBSET_READ && (call.args[1] as number) > 40 ? 'EINVAL' : undefined,
  );

describe('lesson 09 pieces (no kernel)', function () {
  it("Docker's default set is CapEff 00000000a80425fb; --cap-drop/--cap-add adjust it, ALL included", function () {
    const mask = (s: Set<keyof typeof C.CAPABILITIES>): string =>
      [...s]
        .reduce((m, c) => m | (1n << BigInt(C.CAPABILITIES[c])), 0n)
        .toString(16)
        .padStart(16, '0');
    expect(mask(capabilitySet(testConfig()))).to.equal('00000000a80425fb');
    expect(mask(capabilitySet(testConfig({ 'cap-drop': 'net_raw' })))).to.equal('00000000a80405fb');
    expect([...capabilitySet(testConfig({ 'cap-drop': 'ALL', 'cap-add': ['CAP_NET_RAW'] }))]).to.deep.equal([
      'NET_RAW',
    ]);
    expect(capabilitySet(testConfig({ 'cap-add': 'ALL' })).size).to.equal(Object.keys(C.CAPABILITIES).length);
  });

  it('the default filter: denies the list with EPERM, namespace clones, clone3 with ENOSYS; allows the rest', function () {
    const f = defaultFilter();
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'init_module', 'bpf', 'ptrace', 'keyctl', 'fsopen']) {
      expect(runFilter(f, { nr: nr(name), arch: ARCH }), name).to.equal(EPERM);
    }
    expect(runFilter(f, { nr: nr('clone3'), arch: ARCH })).to.equal(C.SECCOMP_RET_ERRNO | C.ENOSYS);
    expect(runFilter(f, { nr: nr('clone'), arch: ARCH, args: [C.CLONE_NEWUSER | 17] })).to.equal(EPERM);
    expect(runFilter(f, { nr: nr('clone'), arch: ARCH, args: [C.CLONE_NEWNET] })).to.equal(EPERM);
    expect(runFilter(f, { nr: nr('clone'), arch: ARCH, args: [17 /* SIGCHLD: a fork */] })).to.equal(
      C.SECCOMP_RET_ALLOW,
    );
    for (const n of [0, 1, 59 /* x86_64 execve */, 221 /* arm64 execve */]) {
      if (n === nr('mount') || n === nr('clone')) continue;
      expect(runFilter(f, { nr: n, arch: ARCH }), `nr ${n}`).to.equal(C.SECCOMP_RET_ALLOW);
    }
    expect(f.length).to.be.below(200);
  });

  it('the filter kills a call made through another ABI (arch, and x32 on x86_64)', function () {
    const f = defaultFilter();
    expect(runFilter(f, { nr: 21, arch: 0x40000003 /* AUDIT_ARCH_I386 */ })).to.equal(C.SECCOMP_RET_KILL_PROCESS);
    if (process.arch === 'x64') {
      expect(runFilter(f, { nr: C.X32_SYSCALL_BIT | 39, arch: ARCH })).to.equal(C.SECCOMP_RET_KILL_PROCESS);
    }
  });

  it('a Docker profile compiles with its actions; bad ones are refused naming the value', function () {
    const dir = mkdtempSync(join(tmpdir(), 'cellblock-unit-'));
    try {
      const write = (name: string, v: unknown): string => {
        writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
        return join(dir, name);
      };
      const ok = readSeccompProfile(
        write('ok.json', {
          defaultAction: 'SCMP_ACT_ERRNO',
          defaultErrnoRet: 38,
          syscalls: [{ names: ['read', 'mkdir', 'mkdirat'].filter((n) => n !== 'read'), action: 'SCMP_ACT_ALLOW' }],
        }),
      );
      const f = profileFilter(ok);
      expect(runFilter(f, { nr: nr('mkdirat'), arch: ARCH })).to.equal(C.SECCOMP_RET_ALLOW);
      expect(runFilter(f, { nr: nr('mount'), arch: ARCH })).to.equal(C.SECCOMP_RET_ERRNO | 38);
      expect(() => readSeccompProfile(write('a.json', { defaultAction: 'SCMP_ACT_NOPE' }))).to.throw(/SCMP_ACT_NOPE/);
      expect(() => readSeccompProfile(write('b.json', '{'))).to.throw(/cannot be read as JSON/);
      expect(() =>
        readSeccompProfile(
          write('c.json', {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['frobnicate'], action: 'SCMP_ACT_ERRNO' }],
          }),
        ),
      ).to.throw(/frobnicate/);
      expect(() =>
        readSeccompProfile(
          write('d.json', {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', args: [{}] }],
          }),
        ),
      ).to.throw(/args is not supported/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--security-opt and capability names are validated before anything exists', function () {
    const problems = (over: object): string[] =>
      securityValidations.map((v) => v(testConfig(over))).filter((p): p is string => p !== undefined);
    expect(problems({})).to.deep.equal([]);
    expect(problems({ 'cap-add': 'SYS_ADMIN', 'cap-drop': ['cap_net_raw', 'all'] })).to.deep.equal([]);
    expect(problems({ 'cap-add': 'FLY' })[0]).to.match(/unknown capability "FLY"/);
    expect(problems({ 'security-opt': 'label=x' })[0]).to.match(/unknown --security-opt "label=x"/);
    expect(
      securityOpts(testConfig({ 'security-opt': ['no-new-privileges=false', 'seccomp=unconfined'] })),
    ).to.deep.equal({ noNewPrivs: false, seccomp: 'unconfined' });
  });

  it('beforeExec: masks, not dumpable, capabilities, no_new_privs, then seccomp last', async function () {
    const { sys, calls } = kernelSys();
    await security.beforeExec!(testConfig(), sys);
    const names = calls.map((c) => c.name);
    const first = (pred: (i: number) => boolean): number => names.findIndex((_, i) => pred(i));
    const lastMount = names.lastIndexOf('mount');
    const dumpable = first((i) => names[i] === 'prctl' && calls[i]!.args[0] === PR_SET_DUMPABLE);
    const drop = first((i) => names[i] === 'prctl' && calls[i]!.args[0] === PR_CAPBSET_DROP);
    const capset = names.indexOf('capset');
    const nnp = first((i) => names[i] === 'prctl' && calls[i]!.args[0] === PR_SET_NO_NEW_PRIVS);
    const seccomp = names.indexOf('seccomp');
    expect(
      [lastMount, dumpable, drop, capset, nnp, seccomp].every((x) => x >= 0),
      names.join(' '),
    ).to.equal(true);
    expect(lastMount < dumpable && dumpable < drop && drop < capset && capset < nnp && nnp < seccomp).to.equal(true);
    expect(seccomp).to.equal(names.length - 1);
  });

  it('without no_new_privs the filter goes in before the capabilities (it needs CAP_SYS_ADMIN then)', async function () {
    const { sys, calls } = kernelSys();
    await security.beforeExec!(testConfig({ 'security-opt': 'no-new-privileges=false' }), sys);
    const names = calls.map((c) => c.name);
    expect(names.indexOf('seccomp')).to.be.below(names.indexOf('capset'));
    expect(calls.some((c) => c.name === 'prctl' && c.args[0] === PR_SET_NO_NEW_PRIVS)).to.equal(false);
  });

  it('--privileged changes nothing before the exec', async function () {
    const { sys, calls } = kernelSys();
    await security.beforeExec!(testConfig({ privileged: true }), sys);
    expect(calls).to.deep.equal([]);
  });

  it("the device rules: Docker's list as v1 lines, and a v2 program that ends by refusing", function () {
    expect(DEVICE_RULES.map(deviceLine)).to.include.members(['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 136:* rwm']);
    const prog = deviceProgram(DEVICE_RULES);
    expect(prog.at(-2)).to.deep.include({ code: 0xb7, dst: 0, imm: 0 }); // r0 = 0
    expect(prog.at(-1)).to.deep.include({ code: 0x95 }); // exit
    // Every jump lands inside the program.
    prog.forEach((insn, i) => {
      if (insn.code === 0x55) expect(i + 1 + insn.off).to.be.at.most(prog.length - 1);
    });
  });
});
