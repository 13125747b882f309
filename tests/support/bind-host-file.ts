/**
 * A test-only lesson for lesson 08's checks: bind-mounts a host file into the
 * container, read-write, as `docker run -v FILE:/NAME` would. Appended after
 * every real lesson, so its prepareRootfs runs after the overlay is mounted
 * and before lesson 03 pivots (the host's file is still reachable by path).
 * config.bindHostFile: { source: host path, name: file name in the container's / }.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS_BIND } from '../../src/native/constants.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { defineLesson } from '../../src/core/lesson.js';

type Config = ContainerConfig & { bindHostFile?: { source: string; name: string } };

export default defineLesson<Config>({
  id: 'test-bind-host-file',
  prepareRootfs(config, sys) {
    const b = config.bindHostFile;
    if (!b) return;
    const target = join(config.rootfs, b.name);
    writeFileSync(target, ''); // a mount point: an empty file of the container's own
    sys.mount(b.source, target, null, MS_BIND, null);
  },
});
