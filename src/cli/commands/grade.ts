/** `cellblock grade`: every lesson, each on its own, with a table, JSON or JUnit for the instructor. */
import chalk from 'chalk';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { grade as run, toJUnit, type GradeReport, type LessonGrade } from '../../workshop/grade.js';
import { seal } from '../../workshop/integrity.js';
import { findLesson, ROOT } from '../../workshop/manifest.js';

interface GradeArgs {
  json: boolean;
  junit?: string;
  lesson?: string[];
  learner?: string;
  expectFingerprint?: string;
  seal: boolean;
}

/** Exit statuses (docs/grading.md). */
export const EXIT = { ok: 0, failed: 1, tampered: 3 } as const;

type Build = { ensureBuilt(o?: { force?: boolean }): Promise<boolean> };

export async function grade(args: GradeArgs): Promise<number> {
  if (args.seal) {
    const s = seal();
    process.stdout.write(`Wrote ${s.file}: ${s.files} files, fingerprint ${s.fingerprint}\n`);
    return EXIT.ok;
  }
  // Before the build and the first container: `--lesson uts` is a mistake to say, not a lesson to skip.
  const only = args.lesson?.map((q) => findLesson(String(q)).id);
  // dist/ is rebuilt from the sources: a hand-edited dist/lessons/… file must not be graded.
  const build = (await import(pathToFileURL(join(ROOT, 'scripts', 'build.mjs')).href)) as Build;
  await build.ensureBuilt({ force: true });

  const table = !args.json;
  if (table) process.stdout.write(`${chalk.bold('cellblock grade')}\n\n  ${head()}\n`);
  const report = await run({
    ...(only?.length ? { only } : {}),
    ...(args.learner ? { learner: args.learner } : {}),
    ...(args.expectFingerprint ? { expectFingerprint: args.expectFingerprint } : {}),
    onLesson: (g) => table && process.stdout.write(`  ${row(g)}\n`),
  });
  if (args.junit) writeFileSync(resolve(args.junit), toJUnit(report));
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printFooter(report, args.junit);

  const cheated = report.lessons.some((l) => l.cheating.length > 0);
  if (report.integrity.status === 'tampered' || cheated) return EXIT.tampered;
  return report.summary.ok ? EXIT.ok : EXIT.failed;
}

/** checks: the learner's (the starter fails them); provided: those the starter passes, "ok" or how many broke. */
const COLS = { lesson: 16, checks: 8, provided: 10, score: 7, time: 8 };

function head(): string {
  return chalk.dim(
    `${'lesson'.padEnd(COLS.lesson)}${'checks'.padStart(COLS.checks)}${'provided'.padStart(COLS.provided)}` +
      `${'score'.padStart(COLS.score)}${'time'.padStart(COLS.time)}`,
  );
}

const providedCell = (broken: number): string => {
  const text = (broken ? `${broken} broken` : 'ok').padStart(COLS.provided);
  return broken ? chalk.red(text) : text;
};

function row(g: LessonGrade): string {
  const score = `${g.score}%`.padStart(COLS.score);
  const base =
    `${g.id.padEnd(COLS.lesson)}${`${g.passed}/${g.total}`.padStart(COLS.checks)}${providedCell(g.provided.broken.length)}` +
    `${g.ok ? chalk.green(score) : chalk.red(score)}${`${g.seconds.toFixed(1)} s`.padStart(COLS.time)}`;
  // What broke, by name — but not the checks that never ran: their one cause is said once.
  const notRun = g.checks.filter((c) => c.found.startsWith('not run: '));
  const broke = g.checks.filter((c) => c.provided && !c.ok && !notRun.includes(c)).map((c) => c.name);
  const notes = [
    ...g.cheating.map((c) => chalk.red.bold(`CHEATING: ${c}`)),
    ...(g.error ? [chalk.red(`error: ${g.error.split('\n')[0]}`)] : []),
    ...(!g.error && !g.cheating.length && notRun[0] ? [chalk.red(notRun[0].found.split('\n')[0]!)] : []),
    ...(broke.length ? [chalk.red(`broke: ${broke.join('; ')}`)] : []),
  ];
  return notes.length ? `${base}  ${notes.join('; ')}` : base;
}

function printFooter(r: GradeReport, junit?: string): void {
  const s = r.summary;
  const total =
    `${'total'.padEnd(COLS.lesson)}${`${s.checksPassed}/${s.checks}`.padStart(COLS.checks)}${providedCell(s.providedBroken)}` +
    `${`${s.score}%`.padStart(COLS.score)}${`${s.seconds.toFixed(1)} s`.padStart(COLS.time)}`;
  const out = (x = ''): boolean => process.stdout.write(`${x}\n`);
  out(`  ${chalk.bold(total)}  ${s.lessonsPassed}/${s.lessons} lessons pass`);
  out();
  const i = r.integrity;
  if (i.status === 'ok') out(`Integrity:   ${chalk.green('ok')} ${chalk.dim(`(compared with ${i.reference})`)}`);
  else if (i.status === 'unverified')
    out(`Integrity:   ${chalk.yellow('unverified')} ${chalk.dim(`(${i.reference})`)}`);
  else {
    out(`Integrity:   ${chalk.red.bold('TAMPERED')} ${chalk.dim(`(compared with ${i.reference})`)}`);
    for (const c of i.changes) out(`  ${chalk.red(c.change.padEnd(9))} ${c.path}`);
    if (i.fingerprintMismatch)
      out(`  ${chalk.red('fingerprint differs from the expected')} ${i.fingerprintMismatch.expected}`);
    out(
      chalk.dim('  → the results above cannot be trusted: restore the files (git checkout -- <path>) and grade again'),
    );
  }
  out(`Fingerprint: ${i.fingerprint.slice(0, 16)} ${chalk.dim('(equal on every untouched copy of this workshop)')}`);
  if (junit) out(`JUnit:       ${resolve(junit)}`);
}
