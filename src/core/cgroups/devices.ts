/**
 * Which device nodes a container may use: the device controller of its cgroup.
 * A process with CAP_MKNOD can create a node for any device number — the
 * host's disk included — so the kernel's second line is a per-cgroup allow
 * list, checked on every open() and mknod() of a device node:
 *
 *   v1  the devices hierarchy: <mount>/cellblock/<id>/devices.deny "a" (nothing),
 *       then one devices.allow line per rule ("c 1:3 rwm"); the process joins it
 *   v2  no files: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached
 *       to the container's cgroup (/sys/fs/cgroup/cellblock/<id>, which the
 *       cgroup manager made and the process joins) — runc's devicefilter
 *
 * The container's cgroup paths come from the manager (openCgroup) and the
 * detection in detect.ts; this is the one module that knows where the
 * device controller lives.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountinfo } from '../mountinfo.js';
import { readText } from '../read.js';
import { CGROUP_PARENT } from '../names.js';
import {
  BPF_CGROUP_DEVICE,
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  BPF_F_ALLOW_MULTI,
  bpf_prog_attach,
  bpf_prog_load_cgroup_device,
  type BpfInsn,
} from '../../native/bpf.js';
import { cgroupMode } from './detect.js';
import { CgroupError, realCgroupFs, type CgroupFs } from './fs.js';
import { removeCgroupDir, removeParentIfUnused, retryWhileParentVanishes } from './manager.js';
import { findCgroupName, openCgroup } from './index.js';
import type { DeviceRule } from './device-rule.js';

export type { DeviceRule };

/** "c 1:3 rwm", the v1 devices.allow line (and how Docker prints a rule). */
export function deviceLine(r: DeviceRule): string {
  return r.type === 'a' ? 'a' : `${r.type} ${r.major}:${r.minor} ${r.access}`;
}

// eBPF, the subset a device program needs (<linux/bpf_common.h>, <linux/bpf.h>).
const LDX_W_MEM = 0x61; // dst = *(u32 *)(src + off)
const MOV64_REG = 0xbf; // dst = src
const MOV64_IMM = 0xb7; // dst = imm
const AND64_IMM = 0x57; // dst &= imm
const RSH64_IMM = 0x77; // dst >>= imm
const JNE_IMM = 0x55; // if dst != imm: skip `off` instructions
const EXIT = 0x95; // return r0
const ins = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/**
 * The v2 program for an allow list: r1 points at struct bpf_cgroup_dev_ctx
 * { u32 access_type; u32 major; u32 minor } (access_type = access << 16 | type).
 * Each rule is a block that jumps to the next block at the first field that
 * does not match and returns 1 (allow) when every field matched; after the last
 * block, 0 (refuse: the open or mknod fails with EPERM).
 */
export function deviceProgram(rules: DeviceRule[]): BpfInsn[] {
  const prog: BpfInsn[] = [
    ins(LDX_W_MEM, 2, 1, 0, 0), // r2 = access_type
    ins(MOV64_REG, 3, 2, 0, 0), // r3 = type
    ins(AND64_IMM, 3, 0, 0, 0xffff),
    ins(MOV64_REG, 4, 2, 0, 0), // r4 = access
    ins(RSH64_IMM, 4, 0, 0, 16),
    ins(LDX_W_MEM, 5, 1, 4, 0), // r5 = major
    ins(LDX_W_MEM, 6, 1, 8, 0), // r6 = minor
  ];
  for (const r of rules) {
    if (r.type === 'a') {
      prog.push(ins(MOV64_IMM, 0, 0, 0, 1), ins(EXIT, 0, 0, 0, 0));
      continue;
    }
    const allowed =
      (r.access.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0) |
      (r.access.includes('r') ? BPF_DEVCG_ACC_READ : 0) |
      (r.access.includes('w') ? BPF_DEVCG_ACC_WRITE : 0);
    // Conditions first, as [insn, …] with the jump offset left to fill in.
    const conds: BpfInsn[][] = [[ins(JNE_IMM, 3, 0, 0, r.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)]];
    if (allowed !== 7) {
      // any requested access bit outside `allowed` → next rule
      conds.push([ins(MOV64_REG, 7, 4, 0, 0), ins(AND64_IMM, 7, 0, 0, ~allowed & 7), ins(JNE_IMM, 7, 0, 0, 0)]);
    }
    if (r.major !== '*') conds.push([ins(JNE_IMM, 5, 0, 0, r.major)]);
    if (r.minor !== '*') conds.push([ins(JNE_IMM, 6, 0, 0, r.minor)]);
    const block = [...conds.flat(), ins(MOV64_IMM, 0, 0, 0, 1), ins(EXIT, 0, 0, 0, 0)];
    // A jump's offset counts the instructions after it: to the end of this block.
    block.forEach((insn, i) => {
      if (insn.code === JNE_IMM) insn.off = block.length - i - 1;
    });
    prog.push(...block);
  }
  prog.push(ins(MOV64_IMM, 0, 0, 0, 0), ins(EXIT, 0, 0, 0, 0));
  return prog;
}

/** Where the device controller's cgroup of container `id` is, and which kind. */
export function devicesCgroup(id: string): { version: 'v1' | 'v2'; dir: string; above?: string[] } {
  const mode = cgroupMode();
  if (mode === 'v2') {
    // A pod's container has its cgroup below the pod's (cgroupName): found where it is.
    const cg = openCgroup(findCgroupName(id));
    return { version: 'v2', dir: cg.dirs['unified'] ?? Object.values(cg.dirs)[0]! };
  }
  const mount = parseMountinfo(readText('/proc/self/mountinfo')).find(
    (m) => m.fstype === 'cgroup' && m.superOptions.split(',').includes('devices'),
  )?.mountPoint;
  if (!mount) {
    throw new CgroupError(
      'the devices controller is not mounted',
      'ENOENT',
      '`cellblock doctor` lists the usable controllers',
    );
  }
  // An OCI container's cgroup path (linux.cgroupsPath) is the same in the devices hierarchy.
  const name = findCgroupName(id);
  if (name.startsWith('/')) {
    const parts = name.split('/').filter(Boolean);
    const above = parts.slice(0, -1).map((_, i) => join(mount, ...parts.slice(0, i + 1)));
    return { version: 'v1', dir: join(mount, name), above };
  }
  return { version: 'v1', dir: join(mount, CGROUP_PARENT, id) };
}

/**
 * Put the allow list in force for container `id`, before it runs anything:
 * v1 creates its devices cgroup (the process joins with joinDevices); v2
 * attaches the program to the container's cgroup, which must exist already.
 */
export function applyDeviceRules(id: string, rules: DeviceRule[], fs: CgroupFs = realCgroupFs): void {
  // Rootless (lesson 08), no cgroup can be made at all (the cgroup lesson says
  // so once); the container then reaches only the device nodes bound in from
  // the host, as its unprivileged user — the kernel's own permissions hold.
  if (fs === realCgroupFs && process.getuid?.() !== 0) return;
  const { version, dir, above } = devicesCgroup(id);
  if (version === 'v1') {
    // The level above (cellblock/), or every level of an OCI path (/default/ID: the OCI runtime removes those).
    // Another container's end may remove a shared level between two mkdirs (ENOENT): make it again.
    retryWhileParentVanishes(() => {
      for (const d of above ?? [join(dir, '..')]) fs.mkdir(d);
      fs.mkdir(dir);
    });
    // A new cgroup inherits its parent's list (everything): take it all away, then allow.
    fs.write(join(dir, 'devices.deny'), 'a');
    for (const r of rules) fs.write(join(dir, 'devices.allow'), deviceLine(r));
    return;
  }
  if (!fs.exists(join(dir, 'cgroup.procs'))) {
    throw new CgroupError(
      `no cgroup ${dir} to attach the device program to`,
      'ENOENT',
      'create the container’s cgroup first',
    );
  }
  const prog = bpf_prog_load_cgroup_device(deviceProgram(rules));
  const cg = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    bpf_prog_attach(cg, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
  } finally {
    closeSync(cg);
    closeSync(prog); // the attachment holds its own reference
  }
}

/** v1: move `pid` into its devices cgroup (v2: the cgroup manager's addProcess already did). */
export function joinDevices(id: string, pid: number, fs: CgroupFs = realCgroupFs): void {
  if (fs === realCgroupFs && process.getuid?.() !== 0) return; // rootless: none was made (applyDeviceRules)
  const { version, dir } = devicesCgroup(id);
  // No devices cgroup: no rules were applied (--privileged), nothing to join.
  if (version === 'v1' && fs.exists(dir)) fs.write(join(dir, 'cgroup.procs'), String(pid));
}

/** v1: remove the devices cgroup (and the parent, once unused). v2: nothing — the program goes with the cgroup. */
export async function removeDevices(id: string, fs: CgroupFs = realCgroupFs): Promise<void> {
  if (fs === realCgroupFs && process.getuid?.() !== 0) return; // rootless: none was made (applyDeviceRules)
  const { version, dir, above } = devicesCgroup(id);
  if (version !== 'v1' || !fs.exists(dir)) return;
  await removeCgroupDir(fs, dir);
  if (above) return; // an OCI path's levels: the OCI runtime removes the ones it made
  removeParentIfUnused(fs, [join(dir, '..')], () => false);
}
