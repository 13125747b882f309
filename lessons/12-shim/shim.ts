/**
 * Lesson 12 — the shim: who stays with a container once the runtime has gone.
 *
 * GOAL: `cellblock run -d` prints the container's id and returns at once; the
 * container keeps running with no cellblock command in the foreground. A shim
 * process per container (src/core/shim/main.ts) keeps it, and these are its
 * duties — what containerd's shim does for runc.
 * Check your work with `cellblock verify 12`.
 */
import { PR_SET_CHILD_SUBREAPER } from '../../src/native/process.js';
import { WNOHANG } from '../../src/native/constants.js';
import { defineLesson } from '../../src/core/lesson.js';

export default defineLesson({
  id: '12-shim',

  shim: {
    // TODO [setsid]: leave the session (and the terminal) of whoever started the shim.
    // HINT: man 2 setsid — `sys` has it under its C name.
    detach(sys) {},

    // TODO [subreaper]: become the process the container's init is re-parented to when the runtime exits.
    // HINT: man 2 prctl, PR_SET_CHILD_SUBREAPER (imported above).
    becomeSubreaper(sys) {},

    // TODO [log-line]: one line of Docker's json-file log: the text, its stream and the time.
    // HINT: the README shows a line of a real Docker log; JSON.stringify and Date's ISO form make it.
    logLine(stream, text, time) {
      return '';
    },

    // TODO [wait-init]: resolve with the init's exit status as a shell reports it, once it has ended.
    // HINT: man 2 waitpid with WNOHANG (imported above) on `pid`; the SIGCHLD signal says when to look again.
    waitForInit(sys, pid) {
      return new Promise(() => {});
    },

    // TODO [record-exit]: return the state with the exit status and the time of the end recorded.
    // HINT: the fields `exitCode` (a number) and `finishedAt` (an ISO time string).
    recordExit(state, status, finishedAt) {
      return state;
    },

    // TODO [runtime-delete]: give back what the container used, through the runtime.
    // HINT: `runtime` runs the OCI runtime with the arguments you give it — which of its commands removes a container?
    async cleanup(runtime, id) {},
  },
});
