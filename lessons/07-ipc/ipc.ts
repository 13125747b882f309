/**
 * Lesson 07 — my own message queues and shared memory (IPC namespace).
 *
 * GOAL: the container gets its own IPC namespace — System V shared memory,
 * semaphores and message queues, and POSIX message queues of its own, none
 * of the host's — and a fresh mqueue filesystem on /dev/mqueue that lists
 * *its* POSIX queues.
 * Check your work with `cellblock verify 07`.
 */
import { mkdirSync } from 'node:fs';
import { CLONE_NEWIPC, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../src/native/constants.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

/** Where Linux programs expect the POSIX message queue filesystem (man 7 mq_overview). */
const MQUEUE_DIR = '/dev/mqueue';

export default defineLesson<ContainerConfig>({
  id: '07-ipc',

  // TODO [ipc-flag]: ask the kernel for a new IPC namespace for the container.
  // HINT: man 7 ipc_namespaces — which CLONE_NEW* flag is it? It is already imported.
  cloneFlags: () => 0,

  init(_config, sys) {
    // TODO [ipc-mqueue]: mount a new mqueue filesystem on /dev/mqueue (MQUEUE_DIR).
    // HINT: this runs after lesson 03 pivoted, so /dev is the container's own tmpfs: make the directory
    // first. The filesystem type is "mqueue" (man 7 mq_overview, "Mounting the message queue filesystem");
    // no program runs or device opens from there (man 2 mount: MS_NOSUID, MS_NODEV, MS_NOEXEC).
    void [sys, mkdirSync, MQUEUE_DIR, MS_NODEV, MS_NOEXEC, MS_NOSUID];
  },
});
