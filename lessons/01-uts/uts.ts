/**
 * Lesson 01 — my own hostname.
 *
 * GOAL: the container gets its own UTS namespace, and inside it the hostname
 * you pass with --hostname (or, without it, the container id).
 * Check your work with `cellblock verify 01`.
 */
import { CLONE_NEWUTS, HOST_NAME_MAX } from '../../src/native/constants.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

type UtsConfig = ContainerConfig & { hostname?: string };

export default defineLesson<UtsConfig>({
  id: '01-uts',
  options: {
    hostname: { type: 'string', describe: 'hostname inside the container (default: the container id)' },
  },
  validate: [
    ({ hostname }) =>
      hostname === undefined || Buffer.byteLength(hostname) <= HOST_NAME_MAX
        ? undefined
        : `hostname ${JSON.stringify(hostname)} is ${Buffer.byteLength(hostname)} bytes long: the kernel allows at most ${HOST_NAME_MAX} (HOST_NAME_MAX)`,
    ({ hostname }) => (hostname !== '' ? undefined : 'hostname is empty: give a name, or leave --hostname out'),
  ],

  // TODO [uts-flag]: ask the kernel for a new UTS namespace for the container.
  // HINT: man 2 unshare — which CLONE_NEW* flag is about hostnames?
  cloneFlags: () => 0,

  // TODO [sethostname]: inside the container, set the hostname to config.hostname, or config.id when none was given.
  // HINT: `sys` holds the syscalls, with their C names (man 2 sethostname).
  init(config, sys) {},
});
