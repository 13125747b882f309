/**
 * How a learner's standing prints, the same in `status`, `verify`, `hint` and
 * `watch`: the progress bar and hints.
 */
import chalk from 'chalk';
import type { LessonEntry } from '../workshop/manifest.js';
import type { HintShown } from '../workshop/progress.js';

/** `Progress: [###----] 2/7`: lessons done of all. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : 0;
  return `Progress: [${chalk.green('#'.repeat(filled))}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/** The hint just taken (or, with `all`, every one so far), and where the reference is after the last. */
export function hintLines(entry: LessonEntry, shown: HintShown, opts: { all?: boolean } = {}): string[] {
  if (shown.of === 0) return [chalk.dim(`No hints for ${entry.id}.`)];
  const from = opts.all ? 1 : shown.number;
  const lines: string[] = [];
  for (let n = from; n <= shown.number; n++) {
    lines.push(`${chalk.cyan(`Hint ${n}/${shown.of}`)} (${entry.id}): ${entry.hints[n - 1]}`);
  }
  if (shown.number === shown.of) {
    lines.push(chalk.dim(`That is the last hint. The reference is in solutions/${entry.id}/ — try without it first.`));
  }
  return lines;
}
