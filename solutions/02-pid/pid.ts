/**
 * Lesson 02 — I am PID 1.
 *
 * A PID namespace gives the container its own process numbers, starting at 1.
 * The same process has two pids: 1 inside, and an ordinary one on the host
 * (`NSpid:` in /proc/<pid>/status lists both). PID 1 is special: orphans are
 * re-parented to it, it receives from outside only the signals it handles, and
 * when it exits the kernel kills everything else in the namespace.
 */
import { CLONE_NEWPID } from '../../src/native/constants.js';
import { joinedNamespace, type ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

type PidConfig = ContainerConfig & { init?: boolean };

export default defineLesson<PidConfig>({
  id: '02-pid',
  options: {
    init: {
      type: 'boolean',
      describe: 'keep a small init as PID 1: it forwards SIGTERM/SIGINT to the command and reaps orphans',
    },
  },
  // With --init the runtime's init stays PID 1 and runs your command as its child (core/init/supervise.ts).
  superviseCommand: (config) => config.init === true,

  // [pid-flag] unshare(CLONE_NEWPID) is the odd one out: it does not move the caller. It
  // only decides where the caller's *next child* is born — as PID 1 of the new
  // namespace. The runtime spawns the init right after unshare, so the init is
  // that first child.
  cloneFlags: () => CLONE_NEWPID,

  init(config, sys) {
    // Provided: started in another container's PID namespace (`--pid container:NAME`, a pod made
    // with --share-pid), the init is not PID 1 — that container's first process is, and it reaps.
    if (joinedNamespace(config, 'pid')) return;

    // [pid-one] The init runs the command by execve, which keeps the pid: if the init is
    // PID 1, so is the command (with --init, the init stays PID 1 and the command
    // is its child). getpid() answers in the caller's own namespace, so inside it
    // must say 1. If not — the namespace was asked for the wrong way, e.g. by
    // unshare() in here, which moves only future children — stop: a command that
    // is not PID 1 would run with the host's pids in sight and nobody reaping.
    const pid = sys.getpid();
    if (pid !== 1) {
      throw new Error(`the init is PID ${pid}, not 1: it was not started as the first process of a new PID namespace`);
    }
  },
});
