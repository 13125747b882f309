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
    // [setsid] The shim was started from a terminal's session (the user's
    // shell ran `cellblock run -d`). A session of its own leaves that session's
    // process group and its controlling terminal: closing the terminal (SIGHUP
    // to the session) or Ctrl-C (SIGINT to the foreground group) no longer
    // reaches the shim. setsid(2) fails with EPERM for a process-group leader —
    // the shim is started as an ordinary member of its starter's group.
    detach(sys) {
      sys.setsid();
    },

    // [subreaper] The runtime is the init's parent, and it exits right after
    // `create`. An orphan is re-parented to the nearest ancestor that is a
    // "child subreaper", else to the host's PID 1 — and only a parent can
    // wait(2) for a process. So the shim asks for orphans before it runs the
    // runtime (man 2 prctl); containerd's shim and Podman's conmon do the same.
    becomeSubreaper(sys) {
      sys.prctl(PR_SET_CHILD_SUBREAPER, 1);
    },

    // [log-line] Docker's json-file log driver: one JSON object per line of
    // output — the text with its newline, which stream it came from (the two
    // pipes are told apart here, and only here) and when the shim read it.
    logLine(stream, text, time) {
      return JSON.stringify({ log: text, stream, time: time.toISOString() });
    },

    // [wait-init] The init is the shim's child only by re-parenting, so Node's
    // child_process knows nothing of it: waitpid(2) on its pid does. WNOHANG
    // never blocks Node's one thread; SIGCHLD says when to look again (asked
    // for first, then one look: an end before the handler is not missed). The
    // status is decoded as a shell reports it: the code, or 128 + the signal.
    waitForInit(sys, pid) {
      return new Promise((resolve, reject) => {
        const look = (): void => {
          try {
            const ended = sys.waitpid(pid, WNOHANG);
            if (!ended) return;
            process.off('SIGCHLD', look);
            resolve(ended.code ?? 128 + (ended.signal ?? 0));
          } catch (err) {
            process.off('SIGCHLD', look);
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        };
        process.on('SIGCHLD', look);
        look();
      });
    },

    // [record-exit] The shim is the only one that saw the end: what `wait`,
    // `ps -a` and `docker inspect` show later comes from this record.
    recordExit(state, status, finishedAt) {
      return { ...state, exitCode: status, finishedAt: finishedAt.toISOString() };
    },

    // [runtime-delete] The runtime made the cgroup, the veth, the lease and the
    // overlay, and only it knows them: `delete ID` gives them back, as
    // containerd's shim calls `runc delete` once the container has exited.
    async cleanup(runtime, id) {
      await runtime(['delete', id]);
    },
  },
});
