/**
 * Lesson 01 — my own hostname.
 *
 * A UTS namespace ("UNIX Time-sharing System", after struct utsname) gives a
 * process its own hostname and NIS domain name. It is the simplest wall: one
 * flag to ask the kernel for it, one syscall inside to use it.
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
    // The kernel would refuse it with EINVAL only inside the init, after the
    // namespaces exist. Checked here, nothing is created for a bad name.
    ({ hostname }) =>
      hostname === undefined || Buffer.byteLength(hostname) <= HOST_NAME_MAX
        ? undefined
        : `hostname ${JSON.stringify(hostname)} is ${Buffer.byteLength(hostname)} bytes long: the kernel allows at most ${HOST_NAME_MAX} (HOST_NAME_MAX)`,
    ({ hostname }) => (hostname !== '' ? undefined : 'hostname is empty: give a name, or leave --hostname out'),
  ],

  // [uts-flag] The init is forked after unshare(CLONE_NEWUTS): it starts in a *copy* of
  // the host's UTS namespace (same name, for now), which it alone can change.
  cloneFlags: () => CLONE_NEWUTS,

  // [sethostname] Runs inside the container. Outside a new UTS namespace this very call
  // would rename the whole machine — the runtime's init refuses that.
  init(config, sys) {
    sys.sethostname(config.hostname ?? config.id);
  },
});
