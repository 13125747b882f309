/**
 * How a learner's standing prints, the same in `status`, `verify`, `hint` and
 * `watch`: the progress bar, the learner's checks of a lesson, hints.
 */
import chalk from 'chalk';
import type { Tally } from '../workshop/checks.js';
import type { LessonEntry } from '../workshop/manifest.js';
import type { HintShown } from '../workshop/progress.js';

/** `Progress: [###----] 2/7`: lessons done of all. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : 0;
  return `Progress: [${chalk.green('#'.repeat(filled))}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

/**
 * A run's verdict in one line: the learner's checks (those the starter
 * fails), then any provided check that broke — by name, since a learner who
 * broke one rarely knows which.
 */
export function tallyLine(t: Tally, ms: number): string {
  const ok = t.passed === t.total && t.broken.length === 0;
  const head = `${t.passed}/${t.total} checks passed`;
  const lines = [`${ok ? chalk.green(head) : chalk.red(head)} ${chalk.dim(`(${(ms / 1000).toFixed(1)} s)`)}`];
  if (t.broken.length) {
    lines.push(
      chalk.red(`…but ${t.broken.length} that the starter already passed now fail${t.broken.length === 1 ? 's' : ''}:`),
      ...t.broken.map((n) => `  ${chalk.red('✗')} ${n}`),
      chalk.dim(
        '  → they held before your change and do not now: read each one’s “found” line — a step of yours undoes or breaks what the lesson provides (`git diff` shows what you changed)',
      ),
    );
  }
  return lines.join('\n');
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
