/**
 * Capabilities (man 7 capabilities): capget(2), capset(2), and the prctl(2)
 * options that manage the bounding and ambient sets and no_new_privs.
 *
 * Root's power is split into ~41 capabilities, each a bit in five sets per
 * *thread*:
 *   effective    what the kernel checks right now
 *   permitted    the most effective may become
 *   inheritable  what may pass an execve to a file with inheritable file caps
 *   bounding     the ceiling: after execve, a root process gets (inheritable
 *                | bounding) as its permitted and effective sets — which is why
 *                dropping from the bounding set is what limits a container's root
 *   ambient      passed across execve of ordinary files (non-root); cleared here
 * capset changes the first three of the calling thread only; the bounding set
 * changes one bit per prctl(PR_CAPBSET_DROP) and needs CAP_SETPCAP.
 */
import { check, libc } from './libc.js';

/** <linux/capability.h>: the version with two 32-bit words per set (capabilities 0–63). */
export const _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** cap_user_header_t: which layout `data` has, and whose sets (pid 0: the calling thread). */
export interface CapUserHeader {
  version: number;
  pid: number;
}

/** One 32-bit word of each set: data[0] holds capabilities 0–31, data[1] 32–63. */
export interface CapUserData {
  effective: number;
  permitted: number;
  inheritable: number;
}

const _capget = libc.func('int capget(void *hdrp, void *datap)');
const _capset = libc.func('int capset(void *hdrp, void *datap)');

function header(h: CapUserHeader): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(h.version >>> 0, 0);
  b.writeInt32LE(h.pid, 4);
  return b;
}

/**
 * capget(2): the calling thread's (pid 0) effective, permitted and inheritable
 * sets, as two words each (version 3). EINVAL for another version.
 */
export function capget(hdrp: CapUserHeader): [CapUserData, CapUserData] {
  const data = Buffer.alloc(24);
  check(_capget(header(hdrp), data), 'capget');
  const word = (i: number): CapUserData => ({
    effective: data.readUInt32LE(i * 12),
    permitted: data.readUInt32LE(i * 12 + 4),
    inheritable: data.readUInt32LE(i * 12 + 8),
  });
  return [word(0), word(1)];
}

/**
 * capset(2): set the calling *thread's* effective, permitted and inheritable
 * sets (`hdrp.pid` must be 0 or our own tid). Rules (EPERM otherwise): permitted
 * can only shrink; effective ⊆ permitted; inheritable ⊆ bounding ∪ permitted
 * unless CAP_SETPCAP. The other threads of a Node process keep their sets —
 * harmless right before execve, which replaces every thread by one.
 */
export function capset(hdrp: CapUserHeader, datap: [CapUserData, CapUserData]): void {
  const data = Buffer.alloc(24);
  datap.forEach((d, i) => {
    data.writeUInt32LE(d.effective >>> 0, i * 12);
    data.writeUInt32LE(d.permitted >>> 0, i * 12 + 4);
    data.writeUInt32LE(d.inheritable >>> 0, i * 12 + 8);
  });
  check(_capset(header(hdrp), data), 'capset');
}

// prctl(2) options for capabilities and privileges (<linux/prctl.h>).
export const PR_SET_DUMPABLE = 4; // 0: /proc/<pid>/* owned by root, no ptrace, no core (reset by execve)
export const PR_CAPBSET_READ = 23; // is capability arg2 in the bounding set? EINVAL past the last one
export const PR_CAPBSET_DROP = 24; // remove arg2 from the bounding set, for good (needs CAP_SETPCAP)
export const PR_SET_NO_NEW_PRIVS = 38; // arg2 = 1: execve can never grant privileges again (irreversible)
export const PR_GET_NO_NEW_PRIVS = 39;
export const PR_CAP_AMBIENT = 47; // arg2 = one of these:
export const PR_CAP_AMBIENT_IS_SET = 1;
export const PR_CAP_AMBIENT_RAISE = 2;
export const PR_CAP_AMBIENT_LOWER = 3;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;
