/**
 * `cellblock watch`: the workshop loop. Re-checks the current lesson on every
 * save; keys for the rest (n next, h hint, l list, c check all, r reset, q quit).
 */
import chalk from 'chalk';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LessonReport } from '../../workshop/checks.js';
import { checkPrinter } from '../check-output.js';
import { cleanup, systemOps } from '../../workshop/cleanup.js';
import { findLesson, manifest, ROOT, sourceFile, type LessonEntry } from '../../workshop/manifest.js';
import { readProgress, recordRun, updateProgress } from '../../workshop/progress.js';
import { startWorker, type WorkerRun } from '../../workshop/runner.js';
import { resetLesson, StarterError } from '../../workshop/starter.js';
import { FileWatcher, syncedFolderType } from '../../workshop/watcher.js';

interface WatchArgs {
  poll: boolean;
  lesson?: string;
}

type Build = { ensureBuilt(o?: { force?: boolean }): Promise<boolean> };

const KEYS = `${chalk.bold('n')} next · ${chalk.bold('h')} hint · ${chalk.bold('l')} list · ${chalk.bold('c')} check all · ${chalk.bold('r')} reset · ${chalk.bold('q')} quit`;

export async function watch(args: WatchArgs): Promise<number> {
  // First: `--lesson uts` is an error to say, not lesson 00 to open.
  const asked = args.lesson ? findLesson(args.lesson) : undefined;
  const build = (await import(pathToFileURL(join(ROOT, 'scripts', 'build.mjs')).href)) as Build;
  const out = (s = ''): boolean => process.stdout.write(`${s}\n`);
  const tty = process.stdout.isTTY === true;
  const lessons = manifest();
  const progress = readProgress();
  let index = asked
    ? lessons.indexOf(asked)
    : Math.max(
        0,
        lessons.findIndex((l) => !progress.lessons[l.id]?.passed),
      );
  if (!asked && lessons.every((l) => progress.lessons[l.id]?.passed)) index = lessons.length - 1;

  const synced = syncedFolderType(ROOT);
  const watcher = new FileWatcher({
    dirs: [join(ROOT, 'lessons')],
    filter: (p) => /\.(ts|mts|js|mjs)$/.test(p),
    pollOnly: args.poll || synced !== undefined,
    onChange: (files) => schedule('one', `saved: ${files.map((f) => relative(ROOT, f)).join(', ')}`),
  });

  // One job at a time (a build, then a worker); a newer request stops the
  // running worker at once and makes the queued ones moot.
  let current: WorkerRun | undefined;
  let runSeq = 0;
  let queue: Promise<void> = Promise.resolve();
  let interrupted = false;
  let confirming = false;
  let digits = '';
  let digitTimer: NodeJS.Timeout | undefined;
  let last: LessonReport | undefined;

  const entry = (): LessonEntry => lessons[index]!;
  const link = (e: LessonEntry): string => {
    const abs = sourceFile(e, 'lessons');
    let line = 1;
    try {
      const i = readFileSync(abs, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('TODO'));
      if (i >= 0) line = i + 1;
    } catch {
      // a missing file is reported by the checks
    }
    const text = `${relative(process.cwd(), abs) || abs}:${line}`;
    // OSC 8: a real hyperlink in terminals that know it; plain text elsewhere.
    return tty ? `\x1b]8;;file://${hostname()}${abs}\x1b\\${text}\x1b]8;;\x1b\\` : text;
  };

  const header = (): void => {
    if (tty) process.stdout.write('\x1b[2J\x1b[H');
    const p = readProgress();
    const done = lessons.filter((l) => p.lessons[l.id]?.passed).length;
    const width = 30;
    const filled = Math.round((done / lessons.length) * width);
    const how =
      watcher.mode === 'poll'
        ? `polling for changes${synced ? ` (${synced} synced folder)` : ''}`
        : 'watching for changes';
    out(`${chalk.bold('cellblock watch')} ${chalk.dim(`· ${how}`)}`);
    out(
      `Progress: [${chalk.green('#'.repeat(filled))}${'-'.repeat(width - filled)}] ${done}/${lessons.length} lessons`,
    );
    out();
    out(`${chalk.bold(`Lesson ${entry().id}`)} — ${entry().title}`);
    out(`  ${chalk.cyan(link(entry()))}`);
    out();
  };

  const footer = (): void => {
    out();
    out(KEYS);
  };

  function schedule(kind: 'one' | 'all', reason = ''): void {
    const seq = ++runSeq;
    if (current) {
      current.stop();
      interrupted = true;
    }
    queue = queue
      .then(async () => {
        if (seq !== runSeq) return;
        if (interrupted) {
          interrupted = false;
          await cleanup().catch(() => undefined); // what the stopped run's containers left
        }
        if (seq !== runSeq) return;
        await (kind === 'one' ? runCurrent(seq, reason) : checkAll(seq));
      })
      .catch((err: unknown) => {
        out(chalk.red(`watch: ${err instanceof Error ? err.message : String(err)}`));
        footer();
      });
  }

  async function runCurrent(seq: number, reason: string): Promise<void> {
    header();
    out(chalk.dim(`checking… (${reason})`));
    try {
      await build.ensureBuilt();
    } catch (err) {
      if (seq !== runSeq) return;
      out();
      out(chalk.red(`Your file does not compile: ${(err as Error).message.split('\n')[0]}`));
      out(chalk.dim('Fix it and save again.'));
      footer();
      return;
    }
    if (seq !== runSeq) return;
    const e = entry();
    const printCheck = checkPrinter(out);
    const run = startWorker(e, 'lessons', { onCheck: (c) => seq === runSeq && printCheck(c) });
    current = run;
    const result = await run.done;
    if (current === run) current = undefined;
    if (seq !== runSeq || result.stopped) return;
    if (!result.report) {
      out(chalk.red(`The checks could not run: ${result.error ?? 'unknown error'}`));
      if (result.output.trim()) out(chalk.dim(result.output.trim().split('\n').slice(-10).join('\n')));
      footer();
      return;
    }
    const r = result.report;
    last = r;
    recordRun(e.id, r.passed, r.total);
    out();
    const line = `${r.passed}/${r.total} checks passed ${chalk.dim(`(${(r.ms / 1000).toFixed(1)} s)`)}`;
    if (r.passed === r.total) {
      out(chalk.green(line));
      out();
      out(chalk.green.bold(`✓ Lesson ${e.id} done: every check passes.`));
      out(`  Reference solution, to compare with yours: ${relative(process.cwd(), sourceFile(e, 'solutions'))}`);
      const next = lessons[index + 1];
      out(
        next
          ? `  Next: ${chalk.bold(next.id)} — ${next.title}: ${relative(process.cwd(), sourceFile(next, 'lessons'))} (press ${chalk.bold('n')})`
          : '  That was the last lesson. `cellblock grade` shows the whole picture.',
      );
    } else {
      out(chalk.red(line));
      out(chalk.dim(`Save ${relative(process.cwd(), sourceFile(e, 'lessons'))} to check again; h for a hint.`));
    }
    if (result.output.trim() && r.passed !== r.total) {
      out(chalk.dim('Output of your lesson:'));
      out(chalk.dim(result.output.trim().split('\n').slice(-10).join('\n')));
    }
    footer();
  }

  async function checkAll(seq: number): Promise<void> {
    header();
    out(chalk.bold('Checking every lesson (your files)…'));
    try {
      await build.ensureBuilt();
    } catch (err) {
      out(chalk.red(`A file does not compile: ${(err as Error).message.split('\n')[0]}`));
      footer();
      return;
    }
    for (const l of lessons) {
      if (seq !== runSeq) return;
      const run = startWorker(l, 'lessons');
      current = run;
      const result = await run.done;
      if (current === run) current = undefined;
      if (result.stopped || seq !== runSeq) return;
      const r = result.report;
      if (r) recordRun(l.id, r.passed, r.total);
      const mark = r && r.passed === r.total ? chalk.green('✓') : chalk.red('✗');
      out(`  ${mark} ${l.id.padEnd(14)} ${r ? `${r.passed}/${r.total}` : chalk.red(result.error ?? 'did not run')}`);
    }
    footer();
  }

  function list(): void {
    const p = readProgress();
    out();
    out(chalk.bold('Lessons') + chalk.dim(' (type a number to go there)'));
    lessons.forEach((l, i) => {
      const mark = p.lessons[l.id]?.passed ? chalk.green('✓') : i === index ? chalk.yellow('→') : chalk.dim('·');
      out(
        `  ${mark} ${l.id.padEnd(14)} ${l.title}${p.lessons[l.id] ? chalk.dim(` (${p.lessons[l.id]!.checks})`) : ''}`,
      );
    });
    footer();
  }

  function hint(): void {
    const e = entry();
    let shown = 0;
    updateProgress((p) => {
      shown = Math.min((p.hints[e.id] ?? 0) + 1, e.hints.length);
      p.hints[e.id] = shown;
    });
    out();
    if (e.hints.length === 0) out(chalk.dim('No hints for this lesson.'));
    else out(`${chalk.cyan(`Hint ${shown}/${e.hints.length}`)}: ${e.hints[shown - 1]}`);
    if (shown === e.hints.length && e.hints.length > 0) {
      out(chalk.dim(`That is the last hint. The reference is in solutions/${e.id}/ — try without it first.`));
    }
  }

  function reset(): void {
    const e = entry();
    try {
      const r = resetLesson(e);
      out(
        r.changed ? `Restored the starter of ${relative(process.cwd(), r.file)}.` : 'Your file already is the starter.',
      );
      if (r.backup) out(`Your version is kept in ${relative(process.cwd(), r.backup)}.`);
      // Our own write: check it now rather than when the watcher notices it.
      watcher.resync();
      if (r.changed) schedule('one', 'reset to the starter');
    } catch (err) {
      out(chalk.red(`Cannot reset: ${(err as Error).message}`));
      if (err instanceof StarterError) out(chalk.dim(`  → ${err.fix}`));
      return;
    }
    void cleanup()
      .then((results) => {
        const removed = results.filter((x) => x.action === 'removed');
        if (removed.length) out(`Removed ${removed.length} leftover(s) from earlier runs.`);
      })
      .catch((err: unknown) => out(chalk.red(`cleanup: ${String(err)}`)));
  }

  function go(i: number): void {
    if (i < 0 || i >= lessons.length) return;
    index = i;
    schedule('one', `lesson ${entry().id}`);
  }

  let quit: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (quit = resolve));

  function onKey(k: string): void {
    if (confirming) {
      confirming = false;
      if (k === 'y' || k === 'Y') reset();
      else out('Not reset.');
      return;
    }
    if (/^[0-9]$/.test(k)) {
      digits += k;
      clearTimeout(digitTimer);
      const jump = (): void => {
        const n = Number(digits);
        digits = '';
        const i = lessons.findIndex((l) => Number(l.id.split('-')[0]) === n);
        if (i >= 0) go(i);
      };
      // Wait for a second digit only when a longer lesson number starts with these (1 → 10, 11…).
      const typed = String(Number(digits));
      const longer = lessons.some((l) => {
        const n = String(Number(l.id.split('-')[0]));
        return n !== typed && n.startsWith(typed);
      });
      if (longer) digitTimer = setTimeout(jump, 700);
      else jump();
      return;
    }
    switch (k) {
      case 'n':
        if (index + 1 < lessons.length) go(index + 1);
        else out(chalk.dim('This is the last lesson.'));
        break;
      case 'h':
        hint();
        break;
      case 'l':
        list();
        break;
      case 'c':
        schedule('all');
        break;
      case 'r':
        out();
        out(
          `Reset ${relative(process.cwd(), sourceFile(entry(), 'lessons'))} to the starter? Your version is backed up first. [y/N]`,
        );
        confirming = true;
        break;
      case 'q':
      case '\x03': // Ctrl-C in raw mode
      case '\x04':
        quit(0);
        break;
      default:
        break;
    }
  }

  const stdin = process.stdin;
  const onData = (d: Buffer): void => {
    const s = d.toString();
    if (stdin.isTTY) for (const ch of s) onKey(ch);
    else for (const line of s.split('\n')) if (line.trim()) onKey(line.trim()[0]!);
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('end', () => quit(0));
  stdin.resume();
  const onSignal = (): void => quit(130);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Load the kernel bindings now: a rebuild empties dist/ for a moment, and a
  // module first imported then would not be found.
  await systemOps();
  watcher.start();
  schedule('one', 'start');
  const code = await finished;

  watcher.stop();
  stdin.off('data', onData);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.pause();
  runSeq++;
  if (current) {
    current.stop();
    await current.done;
    await cleanup().catch(() => undefined);
  }
  await queue;
  out();
  out(last && last.passed === last.total ? 'Bye — well done.' : 'Bye. `cellblock watch` picks up where you left off.');
  return code;
}
