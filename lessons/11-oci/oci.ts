/**
 * Lesson 11 — cellblock as an OCI runtime: create, then start.
 *
 * GOAL: `cellblock-oci create` leaves the container's init alive and waiting
 * right before its exec, after the runtime itself has exited; `cellblock-oci
 * start` releases it; `cellblock-oci state` tells created, running and
 * stopped apart from the host. The wait is runc's: the init blocks opening
 * exec.fifo (config.execFifo, in the container's state directory) for
 * writing; start opens it for reading.
 * Check your work with `cellblock verify 11`.
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

// Used once the TODOs are done (the solution needs each of these).
void [
  closeSync,
  constants,
  existsSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
  readStat,
  PR_SET_PDEATHSIG,
  O_PATH,
  pause,
];

export default defineLesson<OciLessonConfig>({
  id: '11-oci',
  features: ['create-start'],

  // Container side, before any root change: the FIFO is still reachable by its host path.
  prepareRootfs(config, sys) {
    if (config.execFifo === undefined) return; // `cellblock run`: no create/start split
    void sys;

    // TODO [pdeathsig]: the runtime's init dies with the process that forked it (PR_SET_PDEATHSIG, set by
    // the core) — but `cellblock-oci create` exits while the container must live on. Untie it.
    // HINT: man 2 prctl, PR_SET_PDEATHSIG: which signal value means "none"? `sys.prctl` takes the C arguments.

    // TODO [fifo-path]: keep a handle on config.execFifo in config.execFifoFd, for awaitStart: after the
    // pivot_root the host's path is gone. Opening the FIFO for writing here would block too early.
    // HINT: man 2 open, O_PATH — a descriptor that opens nothing; openSync takes numeric flags.
    config.execFifoFd = undefined;
  },

  // Container side, the last step before the exec, after the runtime has exited.
  awaitStart(config) {
    // TODO [fifo-wait]: block until `start`: open the FIFO for writing through your handle, write one
    // byte, close both descriptors.
    // HINT: man 7 fifo (an open for writing waits for a reader); /proc/self/fd/N reopens the file fd N names.
    void config;
  },

  // Host side, `cellblock-oci start`.
  hostStart({ execFifo }) {
    // TODO [release]: open execFifo for reading (the init's open returns), read its byte, then remove the
    // FIFO — that is what "running" means from now on. Give up after a few seconds if no byte comes.
    // HINT: man 7 fifo and man 2 open, O_NONBLOCK: a blocking open would wait forever for a dead init.
    void execFifo;
  },

  // Host side, `cellblock-oci state`.
  status({ pid, startTime, execFifo }) {
    // TODO [status]: 'stopped' when the init is gone, a zombie, or its pid names another process now;
    // else 'created' while the FIFO exists, 'running' once it is gone.
    // HINT: man 5 proc, /proc/<pid>/stat: state (field 3) and starttime (field 22) — readStat reads both.
    void [pid, startTime, execFifo];
    return 'running';
  },
});
