/** `cellblock hint N`: one more hint each time, from a nudge to the precise step. */
import chalk from 'chalk';
import { findLesson } from '../../workshop/manifest.js';
import { updateProgress } from '../../workshop/progress.js';

export async function hint(args: { lesson: string; all: boolean }): Promise<void> {
  const entry = findLesson(args.lesson);
  let shown = 0;
  updateProgress((p) => {
    shown = Math.min((p.hints[entry.id] ?? 0) + 1, entry.hints.length);
    p.hints[entry.id] = shown;
  });
  const from = args.all ? 0 : shown - 1;
  entry.hints.slice(from, shown).forEach((h, i) => {
    process.stdout.write(`${chalk.cyan(`Hint ${from + i + 1}/${entry.hints.length}`)} (${entry.id}): ${h}\n`);
  });
  if (shown === entry.hints.length) {
    process.stdout.write(
      chalk.dim(`That is the last hint. The reference is in solutions/${entry.id}/ — try without it first.\n`),
    );
  }
}
