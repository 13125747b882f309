/**
 * Lesson 00 — a container is just a process.
 *
 * GOAL: start the container's first process and report how it ended, the way a
 * shell does. Check your work with `cellblock verify 00`.
 */
import { defineLesson } from '../../src/core/lesson.js';

export default defineLesson({
  id: '00-process',
  process: {
    spawnChild(file, args, options) {
      // TODO [spawn]: start `file` with `args` as a child process, using `options` as given.
      // HINT: node:child_process has a function that returns a ChildProcess.
      throw new Error('TODO (lesson 00): spawnChild does not start a child process yet');
    },

    waitForExit(child) {
      // TODO [exit-status]: resolve once the child has exited, with the status a shell would print for $?
      // HINT: the 'exit' event gives (code, signal); a killed process has code === null.
      // HINT: for a signal, shells report 128 + its number (see os.constants.signals).
      return new Promise((resolve) => child.once('exit', () => resolve(0)));
    },
  },
});
