#!/usr/bin/env node
// The `cellblock` command: rebuild dist/ if a source changed (a learner just
// saved a lesson file), then hand over to the CLI.
import module from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ensureBuilt, ROOT } from '../../scripts/build.mjs';

// Node ≥ 22.1 keeps the compiled code of every module it loads on disk (V8's
// code cache) and reuses it next time; Node 20 has no such thing — nothing to do.
module.enableCompileCache?.();
warnIfAnotherCheckout();
// `run` needs src/, lessons/ and solutions/ only; a stale tests/ is rebuilt by
// whatever needs it (verify, grade, the test suite) — stat()ing it costs a run ~3 ms.
await ensureBuilt(process.argv[2] === 'run' ? { only: ['src', 'lessons', 'solutions'] } : {});
const { main } = await import('../../dist/src/cli/main.js');
await main(process.argv.slice(2));

/**
 * `cellblock` on the PATH is a link to the checkout that last ran setup. Run
 * from inside a *different* checkout, it would grade and run that other one's
 * lessons: say so, once, on stderr.
 */
function warnIfAnotherCheckout() {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'lessons', 'manifest.json')) && existsSync(join(dir, 'src', 'bin', 'cellblock.mjs'))) {
      if (relative(dir, ROOT) !== '') {
        process.stderr.write(
          `cellblock: note: this is the checkout in ${ROOT.replace(/\/$/, '')}, not the one you are in (${dir}): run \`node src/bin/cellblock.mjs\` here, or \`bash scripts/setup.sh\` to make \`cellblock\` point here\n`,
        );
      }
      return;
    }
    if (dirname(dir) === dir) return;
  }
}
