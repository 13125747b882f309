/**
 * A terminal from the container's own devpts (runc calls it the console).
 *
 * With -t the host opens a pty pair and gives the init the slave as stdio.
 * That works while the container sees the host's /dev. Once it has a /dev and
 * a devpts instance of its own (lesson 03), the host's slave — /dev/pts/4 on
 * the host — does not exist at that path inside: `tty` says "not a tty" and
 * ttyname(3) fails for every program. So the init asks for a console, and the
 * host opens a pty master in the *container's* devpts, through
 * /proc/<pid>/root, and tells the init the slave's name; the init makes that
 * slave its stdio and controlling terminal. (runc has the init open the master
 * and pass the fd back over a unix socket; opening it from the host needs no
 * fd passing, which Node cannot do.)
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { O_CLOEXEC } from '../../native/constants.js';
import { openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../../native/fd.js';
import { sys } from '../../native/index.js';

/** Open a new pty in the devpts mounted at /dev/pts inside the container whose init is `pid`. */
export function openContainerConsole(pid: number): { master: number; slave: string } {
  // The container's processes may already run (`cellblock exec -t`), and its
  // root may have replaced dev/pts with a symlink to a host path: resolve in
  // its root, never through a magic link, and accept only a ptmx (5:2).
  const root = openSync(`/proc/${pid}/root`, constants.O_RDONLY | constants.O_DIRECTORY);
  let master: number;
  try {
    // O_NONBLOCK as node-pty's master: the Terminal reads it through libuv.
    master = openat2(
      root,
      'dev/pts/ptmx',
      constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK | O_CLOEXEC,
      0,
      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    );
  } finally {
    closeSync(root);
  }
  try {
    const st = fstatSync(master);
    if (!st.isCharacterDevice() || st.rdev !== PTMX_RDEV) {
      throw new Error(`/proc/${pid}/root/dev/pts/ptmx is not a pty multiplexer (5:2): refused`);
    }
    const n = Buffer.alloc(4); // an int: 0 for "unlock", then the slave's number
    sys.ioctlBuffer(master, sys.TIOCSPTLCK, n); // unlockpt(3)
    sys.ioctlBuffer(master, sys.TIOCGPTN, n); // ptsname(3), as a number
    return { master, slave: `/dev/pts/${n.readInt32LE(0)}` };
  } catch (err) {
    closeSync(master);
    throw err;
  }
}

/** makedev(5, 2): /dev/ptmx and every devpts's ptmx node. */
const PTMX_RDEV = (5 << 8) | 2;
