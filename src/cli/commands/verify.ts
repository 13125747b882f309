/** `cellblock verify [N]`: one lesson's checks, each with expected/found and a hint. */
import chalk from 'chalk';
import { runLessonChecks, type LessonReport } from '../../workshop/checks.js';
import { checkPrinter } from '../check-output.js';
import { tallyLine } from '../lesson-output.js';
import { findLesson, manifest, sourceFile } from '../../workshop/manifest.js';
import { nextLesson, readProgress, recordRun } from '../../workshop/progress.js';
import { relative } from 'node:path';
import { ROOT } from '../../core/paths.js';

interface VerifyArgs {
  lesson?: string;
  solutions: boolean;
  json: boolean;
}

export async function verify(args: VerifyArgs): Promise<number> {
  const entry = args.lesson ? findLesson(args.lesson) : nextLesson(readProgress());
  const source = args.solutions ? 'solutions' : 'lessons';
  if (!args.json) {
    const file = relative(process.cwd(), sourceFile(entry, source)) || sourceFile(entry, source);
    process.stdout.write(`${chalk.bold(`Lesson ${entry.id}`)} — ${entry.title}\n${chalk.dim(file)}\n\n`);
  }
  const report = await runLessonChecks(
    entry,
    source,
    args.json ? undefined : checkPrinter((l) => process.stdout.write(`${l}\n`)),
  );
  if (source === 'lessons') recordRun(report);
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printSummary(report);
  return report.passed === report.total ? 0 : 1;
}

function printSummary(r: LessonReport): void {
  const ok = r.passed === r.total;
  process.stdout.write(`\n${tallyLine(r.tally, r.ms)}\n`);
  if (ok && r.source === 'lessons') {
    const next = manifest()[manifest().findIndex((l) => l.id === r.lesson) + 1];
    process.stdout.write(
      next
        ? `Next: ${chalk.bold(next.id)} — ${next.title}: ${relative(ROOT, sourceFile(next, 'lessons'))}\n`
        : 'That was the last lesson. 🎉\n',
    );
  } else if (!ok) {
    process.stdout.write(`Stuck? ${chalk.bold(`cellblock hint ${r.lesson.slice(0, 2)}`)}\n`);
  }
}
