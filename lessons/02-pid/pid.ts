/**
 * Lesson 02 — I am PID 1.
 *
 * GOAL: the container gets its own PID namespace, and the process that runs
 * your command is its first process: PID 1 inside, another pid on the host.
 * Check your work with `cellblock verify 02`.
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

  // TODO [pid-flag]: ask the kernel for a new PID namespace for the container.
  // HINT: man 7 pid_namespaces — which process does unshare(CLONE_NEWPID) put into the new namespace?
  cloneFlags: () => 0,

  init(config, sys) {
    // Provided: started in another container's PID namespace (`--pid container:NAME`, a pod made
    // with --share-pid), the init is not PID 1 — that container's first process is, and it reaps.
    if (joinedNamespace(config, 'pid')) return;

    // TODO [pid-one]: make sure this process — the one about to become your command — is PID 1 of the
    // new namespace; if it is not, throw an Error that says which pid it has.
    // HINT: getpid(2) answers in the caller's own PID namespace (`sys` has it).
  },
});
