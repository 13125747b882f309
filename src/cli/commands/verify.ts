/** `cellblock verify [N]`: one lesson's checks, each with expected/found and a hint. */
import chalk from 'chalk';
import { runLessonChecks, type LessonReport } from '../../workshop/checks.js';
import { checkPrinter } from '../check-output.js';
import { tallyLine } from '../lesson-output.js';
import { findLesson, sourceFile } from '../../workshop/manifest.js';
import { nextLesson, pendingLesson, readProgress, recordRun, type Progress } from '../../workshop/progress.js';
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
  const progress = source === 'lessons' ? recordRun(report) : undefined;
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printSummary(report, progress);
  return report.passed === report.total ? 0 : 1;
}

function printSummary(r: LessonReport, progress: Progress | undefined): void {
  const ok = r.passed === r.total;
  process.stdout.write(`\n${tallyLine(r.tally, r.ms)}\n`);
  if (ok && progress) {
    // The same next lesson as `status`: the first one not done — which may come before this one.
    const next = pendingLesson(progress);
    process.stdout.write(
      next
        ? `Next: ${chalk.bold(next.id)} — ${next.title}: ${relative(ROOT, sourceFile(next, 'lessons'))}\n`
        : 'Every lesson is done. 🎉 `cellblock grade` shows the whole picture.\n',
    );
  } else if (!ok) {
    process.stdout.write(`Stuck? ${chalk.bold(`cellblock hint ${r.lesson.slice(0, 2)}`)}\n`);
  }
}
