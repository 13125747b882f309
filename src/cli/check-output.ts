/**
 * How one check prints, in `verify` and in `watch`: ✓, ○ skipped (with why),
 * or ✗ with expected/found/hint. Provided checks (the starter passes them)
 * say so: they are not the learner's to do, only not to break.
 */
import chalk from 'chalk';
import type { CheckOutcome } from '../workshop/checks.js';

/**
 * A printer for one run of checks. When one cause fails many checks (a TODO
 * that throws), the details are printed once and then "(same as above)".
 */
export function checkPrinter(write: (line: string) => void): (c: CheckOutcome) => void {
  let lastFailure = '';
  return (c) => {
    const given = c.provided ? chalk.dim(' (provided)') : '';
    if (c.skipped) {
      write(`  ${chalk.dim('○')} ${c.name}${given} ${chalk.dim(`— skipped: ${c.skipped}`)}`);
      return;
    }
    if (c.ok) {
      write(`  ${chalk.green('✓')} ${c.name}${given}`);
      return;
    }
    write(`  ${chalk.red('✗')} ${c.name}${given}`);
    const detail = `${c.expected}|${c.found}|${c.hint ?? ''}`;
    if (detail === lastFailure) {
      write(chalk.dim('      (same as above)'));
      return;
    }
    lastFailure = detail;
    write(`      expected: ${c.expected}`);
    write(`      found:    ${chalk.yellow(c.found)}`);
    if (c.hint) write(`      ${chalk.cyan('hint:')}     ${c.hint}`);
  };
}
