/**
 * Lesson 00 — a container is just a process.
 *
 * Before any namespace, a "container" is a child process: the runtime starts
 * it, waits for it, and reports how it ended. Everything later lessons add is
 * a wall around this one process.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { defineLesson } from '../../src/core/lesson.js';

export default defineLesson({
  id: '00-process',
  process: {
    spawnChild(file, args, options) {
      // [spawn] fork + exec in one call. The runtime calls this inside its namespace
      // window, so the child starts in whatever namespaces later lessons asked for.
      return spawn(file, args, options);
    },

    waitForExit(child) {
      // [exit-status] 'exit' carries either a code (the process called exit) or a signal (it was
      // killed): never both. Shells, runc and docker fold both into one number —
      // 0–255 for exits, 128 + N for death by signal N (SIGKILL → 137) — so a
      // caller of `cellblock run` can tell "exited 1" from "killed".
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          resolve(code ?? 128 + constants.signals[signal!]);
        });
      });
    },
  },
});
