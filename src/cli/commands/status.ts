/** `cellblock status`: every lesson, done or pending, and the next one. */
import chalk from 'chalk';
import { relative } from 'node:path';
import { ROOT } from '../../core/paths.js';
import { manifest, sourceFile } from '../../workshop/manifest.js';
import { pendingLesson, readProgress } from '../../workshop/progress.js';
import { progressBar } from '../lesson-output.js';

export async function status(args: { json: boolean }): Promise<void> {
  const progress = readProgress();
  const rows = manifest().map((l) => ({
    id: l.id,
    title: l.title,
    file: relative(ROOT, sourceFile(l, 'lessons')),
    done: progress.lessons[l.id]?.passed ?? false,
    // The learner's checks, as verify and watch last found them: the starter's own count for nothing.
    checks: progress.lessons[l.id]?.checks ?? null,
    broken: progress.lessons[l.id]?.broken ?? [],
  }));
  const done = rows.filter((r) => r.done).length;
  const next = pendingLesson(progress);
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ done, total: rows.length, next: next?.id ?? null, lessons: rows }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(`${progressBar(done, rows.length)}\n\n`);
  for (const r of rows) {
    const mark = r.done
      ? chalk.green('✓ done   ')
      : r.id === next?.id
        ? chalk.yellow('→ next   ')
        : chalk.dim('· pending');
    const checks =
      r.checks && !r.done ? ` (${r.checks}${r.broken.length ? `, ${r.broken.length} provided broken` : ''})` : '';
    process.stdout.write(`  ${mark}  ${r.id.padEnd(12)} ${r.title}${chalk.dim(checks)}\n`);
  }
  if (next)
    process.stdout.write(
      `\nNext: edit ${chalk.bold(relative(ROOT, sourceFile(next, 'lessons')))}, then run ${chalk.bold(`cellblock verify ${next.id.slice(0, 2)}`)}\n`,
    );
}
