/** `cellblock status`: every lesson, done or pending, and the next one. */
import chalk from 'chalk';
import { relative } from 'node:path';
import { ROOT } from '../../core/paths.js';
import { manifest, sourceFile } from '../../workshop/manifest.js';
import { readProgress } from '../../workshop/progress.js';

export async function status(args: { json: boolean }): Promise<void> {
  const progress = readProgress();
  const rows = manifest().map((l) => ({
    id: l.id,
    title: l.title,
    file: relative(ROOT, sourceFile(l, 'lessons')),
    done: progress.lessons[l.id]?.passed ?? false,
    checks: progress.lessons[l.id]?.checks ?? null,
  }));
  const done = rows.filter((r) => r.done).length;
  const next = rows.find((r) => !r.done);
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ done, total: rows.length, next: next?.id ?? null, lessons: rows }, null, 2)}\n`,
    );
    return;
  }
  const width = 30;
  const filled = Math.round((done / rows.length) * width);
  process.stdout.write(
    `Progress: [${chalk.green('#'.repeat(filled))}${'-'.repeat(width - filled)}] ${done}/${rows.length}\n\n`,
  );
  for (const r of rows) {
    const mark = r.done ? chalk.green('✓ done   ') : r === next ? chalk.yellow('→ next   ') : chalk.dim('· pending');
    process.stdout.write(
      `  ${mark}  ${r.id.padEnd(12)} ${r.title}${r.checks && !r.done ? chalk.dim(` (${r.checks})`) : ''}\n`,
    );
  }
  if (next)
    process.stdout.write(
      `\nNext: edit ${chalk.bold(next.file)}, then run ${chalk.bold(`cellblock verify ${next.id.slice(0, 2)}`)}\n`,
    );
}
