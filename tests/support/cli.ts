/** Running the real `cellblock` command the way a learner types it. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../src/core/paths.js';

export const BIN = join(ROOT, 'src', 'bin', 'cellblock.mjs');

const scratchDirs: string[] = [];
process.once('exit', () => {
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
});

/** A progress file of the test's own, so tests never touch the learner's progress (removed at exit). */
export function scratchEnv(): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'cellblock-cli-'));
  scratchDirs.push(dir);
  return { ...process.env, CELLBLOCK_PROGRESS: join(dir, 'progress.json'), NO_COLOR: '1' };
}

export function cellblock(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: opts.env ?? { ...process.env, NO_COLOR: '1' },
    input: opts.input ?? '',
    timeout: 60_000,
  });
}

export function cellblockAsync(args: string[]) {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: 'pipe' });
}
