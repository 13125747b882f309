/**
 * Lesson 11 — cellblock as an OCI runtime: create, then start.
 *
 * containerd and Podman do not run a container in one call. They ask the
 * runtime (runc, or now `cellblock-oci`) to *create* it — every namespace,
 * mount, cgroup and veth made, the process waiting right before its exec —
 * then do their own work on it (put it in a network namespace they prepared,
 * attach its stdio, start watching it), and only then ask the runtime to
 * *start* it. Between the two calls the runtime itself is gone: the container
 * must survive it, and the state must be readable from the host alone.
 *
 * runc's trick, which this lesson rebuilds: the init blocks opening a FIFO,
 * exec.fifo, in the container's state directory. open(2) of a FIFO for
 * writing waits until someone opens it for reading — that someone is
 * `start`. The FIFO existing means "created"; gone, "running".
 */
import { closeSync, constants, existsSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';
import { readStat } from '../../src/core/host/proc.js';
import { PR_SET_PDEATHSIG } from '../../src/native/process.js';

type OciLessonConfig = ContainerConfig & { execFifo?: string; execFifoFd?: number };

/** open(2)'s O_PATH: a handle on a file that opens nothing (man 2 open) — not in Node's constants. */
const O_PATH = 0o10000000;

/** Sleep without giving the event loop a turn (start waits a few ms at most). */
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export default defineLesson<OciLessonConfig>({
  id: '11-oci',
  features: ['create-start'],

  // Container side, before any root change: the FIFO is still reachable by its host path.
  prepareRootfs(config, sys) {
    if (config.execFifo === undefined) return; // `cellblock run`: no create/start split

    // [pdeathsig] The runtime's init is tied to the runtime that forked it
    // (PR_SET_PDEATHSIG: SIGKILL when its parent dies) — right for `cellblock
    // run`, fatal here: `cellblock-oci create` exits while the container must
    // live on. Untie it (signal 0: none).
    sys.prctl(PR_SET_PDEATHSIG, 0);

    // [fifo-path] After pivot_root the host's /run is out of reach: keep a
    // handle on the FIFO now. O_PATH opens nothing — a FIFO opened for
    // writing would block here, before the other steps ran.
    config.execFifoFd = openSync(config.execFifo, O_PATH);
  },

  // Container side, the last step before the exec, after the runtime has exited.
  awaitStart(config) {
    // [fifo-wait] Opening the FIFO for writing, through the handle (its
    // /proc/self/fd link reopens the very file), blocks until `start` opens it
    // for reading. Then one byte, so start knows this side got through.
    const fd = openSync(`/proc/self/fd/${config.execFifoFd}`, constants.O_WRONLY);
    writeSync(fd, '0');
    closeSync(fd);
    closeSync(config.execFifoFd!);
  },

  // Host side, `cellblock-oci start`.
  hostStart({ execFifo }) {
    // [release] Open the FIFO for reading — the init's open returns — and read its
    // byte. O_NONBLOCK: an init that died would otherwise keep this open waiting
    // forever; then no byte comes and start gives up. The FIFO goes: "running".
    const fd = openSync(execFifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const byte = Buffer.alloc(1);
      const deadline = Date.now() + 5000;
      for (;;) {
        let n = 0;
        try {
          n = readSync(fd, byte);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n === 1) break;
        if (Date.now() > deadline) throw new Error(`the container never opened ${execFifo}: did its init die?`);
        pause(1);
      }
    } finally {
      closeSync(fd);
    }
    unlinkSync(execFifo);
  },

  // Host side, `cellblock-oci state`.
  status({ pid, startTime, execFifo }) {
    // [status] Stopped: the init is gone, a zombie, or its pid now names another
    // process (another start time). Otherwise the FIFO tells created from running.
    const stat = readStat(pid);
    if (!stat || stat.start !== startTime || stat.state === 'Z' || stat.state === 'X') return 'stopped';
    return existsSync(execFifo) ? 'created' : 'running';
  },
});
