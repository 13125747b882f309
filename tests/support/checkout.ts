/**
 * Helpers for tests that drive the `cellblock` command as a learner would:
 *  - `cli()` runs it from this checkout's dist/ (no rebuild: the suite built it);
 *  - `learnerCheckout()` makes a throwaway copy of the workshop — the files a
 *    learner has, optionally as a git clone — so a test can edit lessons,
 *    tamper with tests/ or run `grade` (which rebuilds dist/) without touching
 *    the real tree.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultRootfs, ROOT } from '../../src/core/paths.js';

const MAIN = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'main.js')).href;

/** The environment for a cellblock child: plain output, the suite's rootfs. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CELLBLOCK_ROOTFS: defaultRootfs(), ...extra };
}

/** `cellblock <args>` from this checkout's built CLI. */
export function cli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): SpawnSyncReturns<string> {
  return spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      'const { main } = await import(process.argv[1]); await main(process.argv.slice(2));',
      MAIN,
      ...args,
    ],
    { encoding: 'utf8', input: opts.input ?? '', env: cliEnv(opts.env), cwd: opts.cwd ?? ROOT, timeout: 60_000 },
  );
}

export interface Checkout {
  dir: string;
  /** `node src/bin/cellblock.mjs <args>` inside the copy (it builds its own dist/). */
  run(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string>;
  git(args: string[]): SpawnSyncReturns<string>;
  remove(): void;
}

const COPIED = [
  'src',
  'native',
  'tests',
  'lessons',
  'solutions',
  'scripts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  '.gitignore',
];

export function learnerCheckout(opts: { git?: boolean; prefix?: string } = {}): Checkout {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'learner-checkout-'));
  // A clone's directory as git makes it (0755, not mkdtemp's 0700): with --userns
  // remap the container's root, an unprivileged host uid, runs the init from here.
  chmodSync(dir, 0o755);
  for (const p of COPIED) if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, '.cellblock'));
  // What setup compiled (the user-namespace helper), as a learner's machine
  // has it after setup: a copy, made after the sources, so it is newer than
  // them and setup has nothing to rebuild (a link would let the copy's setup
  // write into this checkout).
  if (existsSync(join(ROOT, '.cellblock', 'bin'))) {
    cpSync(join(ROOT, '.cellblock', 'bin'), join(dir, '.cellblock', 'bin'), { recursive: true });
  }
  if (existsSync(join(ROOT, '.cellblock', 'npm.stamp'))) {
    cpSync(join(ROOT, '.cellblock', 'npm.stamp'), join(dir, '.cellblock', 'npm.stamp'));
  }
  const git = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync('git', ['-c', 'user.name=Learner', '-c', 'user.email=learner@example.invalid', '-C', dir, ...args], {
      encoding: 'utf8',
    });
  if (opts.git) {
    git(['init', '-q']);
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'the workshop as shipped']);
  }
  return {
    dir,
    run: (args, o = {}) =>
      spawnSync(process.execPath, [join(dir, 'src', 'bin', 'cellblock.mjs'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        input: o.input ?? '',
        env: cliEnv(o.env),
        timeout: 120_000,
      }),
    git,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
