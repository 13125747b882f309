/**
 * Become the container's user before the lessons drop capabilities — for the
 * init of an OCI container (process.user) and for a process `cellblock exec
 * --user` starts alike.
 *
 * glibc changes the uid of *every* thread of the process (setxid broadcast).
 * After a capability drop on this thread alone, the change would fail here and
 * succeed on Node's other threads — and glibc aborts then. So the user changes
 * while this thread still holds its capabilities, keeping the permitted set
 * (PR_SET_KEEPCAPS, as runc does; execve clears the flag); the effective set,
 * which the uid change cleared, is raised back from the permitted one so the
 * lessons' drops after this can run; the parent-death signal, which the uid
 * change cleared too (man 2 prctl), is set back to what it was.
 */
import { sys } from '../../native/index.js';
import { _LINUX_CAPABILITY_VERSION_3 } from '../../native/capability.js';
import {
  getPdeathsig,
  PR_SET_KEEPCAPS,
  PR_SET_PDEATHSIG,
  setgroups,
  setresgid,
  setresuid,
} from '../../native/process.js';

export function becomeUser(user: { uid: number; gid: number; additionalGids: number[] }): void {
  const deathSignal = getPdeathsig();
  sys.prctl(PR_SET_KEEPCAPS, 1);
  setgroups(user.additionalGids);
  setresgid(user.gid);
  setresuid(user.uid);
  const header = { version: _LINUX_CAPABILITY_VERSION_3, pid: 0 };
  const data = sys.capget(header);
  for (const word of data) word.effective = word.permitted;
  sys.capset(header, data);
  if (deathSignal !== 0) sys.prctl(PR_SET_PDEATHSIG, deathSignal);
}
