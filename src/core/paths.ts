/** Where things live on disk. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout (dist/src/core/paths.js is three levels below it). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The workshop's own state: the default rootfs and the learner's progress. */
export const STATE_DIR = join(ROOT, '.cellblock');

/** The busybox rootfs that scripts/build-rootfs.sh makes; CELLBLOCK_ROOTFS overrides it. */
export function defaultRootfs(): string {
  return process.env['CELLBLOCK_ROOTFS'] ?? join(STATE_DIR, 'rootfs');
}
