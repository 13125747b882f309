/**
 * Fixtures for the inventories (src/core/inventory.ts) and `cellblock cleanup`:
 * one scope where every area looks below a temp directory, and files to put there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InventoryScope } from '../../src/core/inventories.js';

/** Where every area looks, all of it below `t`: nothing there unless a test puts it there. */
export function fixtureScope(t: string, more: Partial<InventoryScope> = {}): InventoryScope {
  return {
    proc: '/proc',
    mountinfo: join(t, 'mountinfo'),
    netnsDir: join(t, 'netns'),
    runDir: join(t, 'run'),
    containersDir: join(t, 'containers'),
    stateDir: join(t, 'checkout', '.cellblock'),
    tmpDir: join(t, 'tmp'),
    rootfs: join(t, 'checkout', '.cellblock', 'rootfs'),
    initScript: '/nonexistent/init/main.js',
    shimsDir: join(t, 'run', 'shims'),
    cgroupRoots: [],
    links: () => [],
    states: () => [],
    leases: () => [],
    nat: () => ({ chain: false, rules: [] }),
    ...more,
  };
}

/** A file with its directories. */
export function touch(path: string, content = ''): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}
