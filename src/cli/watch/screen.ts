/**
 * What `cellblock watch` shows: each part as lines of text, from the data it
 * is given. Where they go (and when the screen is cleared) is watch.ts's.
 */
import chalk from 'chalk';
import { readText } from '../../core/read.js';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import type { LessonReport } from '../../workshop/checks.js';
import { sourceFile, type LessonEntry } from '../../workshop/manifest.js';
import type { Progress } from '../../workshop/progress.js';
import type { WorkerOutcome } from '../../workshop/runner.js';
import { progressBar, tallyLine } from '../lesson-output.js';

export const KEYS = `${chalk.bold('n')} next · ${chalk.bold('h')} hint · ${chalk.bold('l')} list · ${chalk.bold('c')} check all · ${chalk.bold('r')} reset · ${chalk.bold('q')} quit`;

const here = (file: string): string => relative(process.cwd(), file) || file;

/** The lesson file at its first TODO; in a terminal, an OSC 8 hyperlink to it. */
export function link(e: LessonEntry, tty: boolean): string {
  const abs = sourceFile(e, 'lessons');
  // A missing file is reported by the checks: line 1 here.
  const todo = readText(abs)
    .split('\n')
    .findIndex((l) => l.includes('TODO'));
  const line = todo >= 0 ? todo + 1 : 1;
  const text = `${here(abs)}:${line}`;
  return tty ? `\x1b]8;;file://${hostname()}${abs}\x1b\\${text}\x1b]8;;\x1b\\` : text;
}

export function header(o: {
  entry: LessonEntry;
  lessons: readonly LessonEntry[];
  progress: Progress;
  /** How changes are noticed: 'watching for changes', 'polling for changes (…)'. */
  how: string;
  tty: boolean;
}): string[] {
  const done = o.lessons.filter((l) => o.progress.lessons[l.id]?.passed).length;
  return [
    `${chalk.bold('cellblock watch')} ${chalk.dim(`· ${o.how}`)}`,
    `${progressBar(done, o.lessons.length)} lessons`,
    '',
    `${chalk.bold(`Lesson ${o.entry.id}`)} — ${o.entry.title}`,
    `  ${chalk.cyan(link(o.entry, o.tty))}`,
    '',
  ];
}

export const footer = (): string[] => ['', KEYS];

/** After a run of the lesson's checks: the tally, and what to do next. */
export function verdict(e: LessonEntry, next: LessonEntry | undefined, result: WorkerOutcome): string[] {
  const r = result.report;
  if (!r) {
    return [
      chalk.red(`The checks could not run: ${result.error ?? 'unknown error'}`),
      ...lastLines(result.output),
      ...footer(),
    ];
  }
  const lines = ['', tallyLine(r.tally, r.ms)];
  if (isDone(r)) {
    lines.push(
      '',
      chalk.green.bold(`✓ Lesson ${e.id} done: every check passes.`),
      `  Reference solution, to compare with yours: ${here(sourceFile(e, 'solutions'))}`,
      next
        ? `  Next: ${chalk.bold(next.id)} — ${next.title}: ${here(sourceFile(next, 'lessons'))} (press ${chalk.bold('n')})`
        : '  That was the last lesson. `cellblock grade` shows the whole picture.',
    );
  } else {
    lines.push(chalk.dim(`Save ${here(sourceFile(e, 'lessons'))} to check again; h for a hint.`));
    if (result.output.trim()) lines.push(chalk.dim('Output of your lesson:'), ...lastLines(result.output));
  }
  return [...lines, ...footer()];
}

export const isDone = (r: LessonReport): boolean => r.passed === r.total;

/** One line of `c` (check all): the lesson, and its learner checks or why it did not run. */
export function checkAllLine(l: LessonEntry, result: WorkerOutcome): string {
  const r = result.report;
  const mark = r && isDone(r) ? chalk.green('✓') : chalk.red('✗');
  const broken = r?.tally.broken.length ? chalk.red(` · ${r.tally.broken.length} provided broken`) : '';
  const what = r ? `${r.tally.passed}/${r.tally.total}${broken}` : chalk.red(result.error ?? 'did not run');
  return `  ${mark} ${l.id.padEnd(14)} ${what}`;
}

/** `l`: every lesson with its state. */
export function list(lessons: readonly LessonEntry[], progress: Progress, index: number): string[] {
  return [
    '',
    chalk.bold('Lessons') + chalk.dim(' (type a number to go there)'),
    ...lessons.map((l, i) => {
      const p = progress.lessons[l.id];
      const mark = p?.passed ? chalk.green('✓') : i === index ? chalk.yellow('→') : chalk.dim('·');
      return `  ${mark} ${l.id.padEnd(14)} ${l.title}${p ? chalk.dim(` (${p.checks})`) : ''}`;
    }),
    ...footer(),
  ];
}

export const resetQuestion = (e: LessonEntry): string[] => [
  '',
  `Reset ${here(sourceFile(e, 'lessons'))} to the starter? Your version is backed up first. [y/N]`,
];

function lastLines(output: string): string[] {
  return output.trim() ? [chalk.dim(output.trim().split('\n').slice(-10).join('\n'))] : [];
}
