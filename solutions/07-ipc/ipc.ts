/**
 * Lesson 07 — my own message queues and shared memory (IPC namespace).
 *
 * "IPC" here means the kernel's *named* objects two unrelated processes can
 * meet at: System V shared memory segments, semaphore sets and message queues
 * (found by a numeric key: shmget(0x1234, …)), and POSIX message queues
 * (found by a name: mq_open("/jobs", …)). Their names are global, so without
 * a namespace a container could read the host's shared memory — or squat on
 * the key another program expects. An IPC namespace gives the container its
 * own empty set of them, destroyed with the namespace. (POSIX shared memory,
 * shm_open, is just files in /dev/shm: lesson 03's private tmpfs covers it.)
 */
import { mkdirSync } from 'node:fs';
import { CLONE_NEWIPC, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../src/native/constants.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

/** Where Linux programs expect the POSIX message queue filesystem (man 7 mq_overview). */
const MQUEUE_DIR = '/dev/mqueue';

export default defineLesson<ContainerConfig>({
  id: '07-ipc',

  // [ipc-flag] The init starts in a new, empty IPC namespace: no segment,
  // no queue of the host's, and the keys and names are the container's to use.
  cloneFlags: () => CLONE_NEWIPC,

  init(_config, sys) {
    // [ipc-mqueue] mq_open works without any mount; the mqueue filesystem is
    // how `ls` (and the admin) *see* the queues, one file per queue. An mqueue
    // instance shows the queues of the IPC namespace of whoever mounts it — so
    // this mount, made inside, lists the container's; /dev is lesson 03's
    // tmpfs, already pivoted into. Nothing on it is a program or a device.
    mkdirSync(MQUEUE_DIR, { recursive: true });
    sys.mount('mqueue', MQUEUE_DIR, 'mqueue', MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
  },
});
