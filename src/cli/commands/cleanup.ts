/** `cellblock cleanup`: remove everything the workshop left behind, item by item. */
import chalk from 'chalk';
import { cleanup as clean, type CleanupResult } from '../../workshop/cleanup.js';

interface CleanupArgs {
  dryRun: boolean;
  json: boolean;
}

const MARK: Record<CleanupResult['action'], string> = {
  removed: chalk.green('removed     '),
  gone: chalk.dim('gone        '),
  kept: chalk.yellow('kept        '),
  failed: chalk.red('FAILED      '),
  'would remove': chalk.cyan('would remove'),
};

export async function cleanup(args: CleanupArgs): Promise<number> {
  const results = await clean({ dryRun: args.dryRun });
  const failed = results.filter((r) => r.action === 'failed');
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, items: results }, null, 2)}\n`);
    return failed.length ? 1 : 0;
  }
  if (results.length === 0) {
    process.stdout.write('Nothing to clean up: no workshop mounts, cgroups, links, namespaces or processes.\n');
    return 0;
  }
  for (const r of results) {
    process.stdout.write(`  ${MARK[r.action]}  ${r.kind.padEnd(7)} ${r.name} ${chalk.dim(`(${r.why})`)}\n`);
    if (r.error) process.stdout.write(`                ${chalk.red(r.error)}\n`);
  }
  process.stdout.write(`\n${summaryLine(results, args.dryRun)}\n`);
  return failed.length ? 1 : 0;
}

/**
 * The last line, counted so a dry run and the real run that follows say the
 * same number: every item the plan would remove is one the real run acts on —
 * removed, already gone when its turn came (a veth's peer goes with it), or
 * failed. "17 removed" after "18 to remove" hid the one that failed.
 */
export function summaryLine(results: CleanupResult[], dryRun: boolean): string {
  const count = (a: CleanupResult['action']): number => results.filter((r) => r.action === a).length;
  const kept = `${count('kept')} kept (in use)`;
  if (dryRun) return `${count('would remove')} to remove, ${kept}`;
  const acted = count('removed') + count('gone') + count('failed');
  const done = count('removed') + count('gone');
  const gone = count('gone') > 0 ? ` (${count('gone')} of them already gone)` : '';
  const failed = count('failed') > 0 ? chalk.red(`, ${count('failed')} failed (above)`) : '';
  return `${done === acted ? `${done}` : `${done} of ${acted}`} removed${gone}${failed}, ${kept}`;
}
