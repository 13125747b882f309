/**
 * A probe lesson for lesson 05's checks: added after every other lesson for
 * one trial, its container-side step runs in the init after every lesson's
 * own step and before the init says "ready" — a moment when the init is
 * still the runtime's Node process. It prints where that process is in the
 * cgroup tree, so a check can tell whether the process had joined the
 * container's cgroup before its own steps were done (it should not have:
 * everything it does until the exec would be charged to the container).
 */
import { readFileSync, writeSync } from 'node:fs';
import { defineLesson } from '../../src/core/lesson.js';

export const PROBE_MARK = 'cellblock-probe-cgroup:';

export default defineLesson({
  id: '05-cgroups-probe',
  init() {
    const text = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').join('|');
    writeSync(1, `${PROBE_MARK}${text}\n`);
  },
});
