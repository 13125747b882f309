/**
 * `cellblock watch`: the workshop loop. Re-checks the current lesson on every
 * save; keys for the rest (n next, h hint, l list, c check all, r reset, q quit).
 *
 * Three parts: watch/state.ts decides what a key or a finished run changes
 * and asks for effects; watch/screen.ts renders; this file reads keys and
 * saves, and carries the effects out (builds, check processes, files).
 */
import chalk from 'chalk';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanup, systemOps } from '../../workshop/cleanup.js';
import { manifest, ROOT } from '../../workshop/manifest.js';
import { readProgress, recordRun, takeHint } from '../../workshop/progress.js';
import { startWorker } from '../../workshop/runner.js';
import { resetLesson, StarterError } from '../../workshop/starter.js';
import { FileWatcher, syncedFolderType } from '../../workshop/watcher.js';
import { checkPrinter } from '../check-output.js';
import { hintLines } from '../lesson-output.js';
import { LatestJob, type Job } from '../watch/jobs.js';
import * as screen from '../watch/screen.js';
import { current, startState, step, type Effect, type WatchEvent, type WatchState } from '../watch/state.js';

interface WatchArgs {
  poll: boolean;
  lesson?: string;
}

type Build = { ensureBuilt(o?: { force?: boolean }): Promise<boolean> };

/** How long to wait for a second digit of a lesson number. */
const DIGIT_WAIT_MS = 700;

export async function watch(args: WatchArgs): Promise<number> {
  let state: WatchState = startState(manifest(), readProgress(), args.lesson);
  const build = (await import(pathToFileURL(join(ROOT, 'scripts', 'build.mjs')).href)) as Build;
  const out = (...lines: string[]): void => {
    for (const l of lines) process.stdout.write(`${l}\n`);
  };
  const tty = process.stdout.isTTY === true;
  const synced = syncedFolderType(ROOT);
  const watcher = new FileWatcher({
    dirs: [join(ROOT, 'lessons')],
    filter: (p) => /\.(ts|mts|js|mjs)$/.test(p),
    pollOnly: args.poll || synced !== undefined,
    onChange: (files) => perform({ type: 'check', reason: `saved: ${files.map((f) => relative(ROOT, f)).join(', ')}` }),
  });
  const jobs = new LatestJob(cleanup, (err) => {
    out(chalk.red(`watch: ${err instanceof Error ? err.message : String(err)}`), ...screen.footer());
  });
  let digitTimer: NodeJS.Timeout | undefined;
  let quit: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (quit = resolve));

  const send = (e: WatchEvent): void => {
    const next = step(state, e);
    state = next.state;
    for (const effect of next.effects) perform(effect);
  };

  const header = (): void => {
    if (tty) process.stdout.write('\x1b[2J\x1b[H');
    const how =
      watcher.mode === 'poll'
        ? `polling for changes${synced ? ` (${synced} synced folder)` : ''}`
        : 'watching for changes';
    out(...screen.header({ entry: current(state), lessons: state.lessons, progress: readProgress(), how, tty }));
  };

  /** The lesson on screen, built and checked, each check shown as it finishes. */
  async function checkCurrent(j: Job, reason: string): Promise<void> {
    const e = current(state);
    header();
    out(chalk.dim(`checking… (${reason})`));
    try {
      await build.ensureBuilt();
    } catch (err) {
      if (!j.live()) return;
      out('', chalk.red(`Your file does not compile: ${(err as Error).message.split('\n')[0]}`));
      out(chalk.dim('Fix it and save again.'), ...screen.footer());
      return;
    }
    if (!j.live()) return;
    const printCheck = checkPrinter((l) => out(l));
    const result = await j.track(startWorker(e, 'lessons', { onCheck: (c) => j.live() && printCheck(c) }));
    if (!j.live() || result.stopped) return;
    if (result.report) {
      recordRun(result.report);
      send({ type: 'checked', done: screen.isDone(result.report) });
    }
    out(...screen.verdict(e, state.lessons[state.index + 1], result));
  }

  async function checkAll(j: Job): Promise<void> {
    header();
    out(chalk.bold('Checking every lesson (your files)…'));
    try {
      await build.ensureBuilt();
    } catch (err) {
      out(chalk.red(`A file does not compile: ${(err as Error).message.split('\n')[0]}`), ...screen.footer());
      return;
    }
    for (const l of state.lessons) {
      if (!j.live()) return;
      const result = await j.track(startWorker(l, 'lessons'));
      if (result.stopped || !j.live()) return;
      if (result.report) recordRun(result.report);
      out(screen.checkAllLine(l, result));
    }
    out(...screen.footer());
  }

  function reset(): void {
    try {
      const r = resetLesson(current(state));
      out(
        r.changed ? `Restored the starter of ${relative(process.cwd(), r.file)}.` : 'Your file already is the starter.',
      );
      if (r.backup) out(`Your version is kept in ${relative(process.cwd(), r.backup)}.`);
      // Our own write: check it now rather than when the watcher notices it.
      watcher.resync();
      if (r.changed) perform({ type: 'check', reason: 'reset to the starter' });
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

  function perform(effect: Effect): void {
    switch (effect.type) {
      case 'check':
        return jobs.schedule((j) => checkCurrent(j, effect.reason));
      case 'check-all':
        return jobs.schedule((j) => checkAll(j));
      case 'hint':
        return out('', ...hintLines(current(state), takeHint(current(state))));
      case 'list':
        return out(...screen.list(state.lessons, readProgress(), state.index));
      case 'ask-reset':
        return out(...screen.resetQuestion(current(state)));
      case 'reset':
        return reset();
      case 'not-reset':
        return out('Not reset.');
      case 'last-lesson':
        return out(chalk.dim('This is the last lesson.'));
      case 'wait-for-digit':
        clearTimeout(digitTimer);
        digitTimer = setTimeout(() => send({ type: 'digits-timeout' }), DIGIT_WAIT_MS);
        return;
      case 'quit':
        return quit(effect.code);
    }
  }

  const stdin = process.stdin;
  const onData = (d: Buffer): void => {
    const s = d.toString();
    if (stdin.isTTY) for (const ch of s) send({ type: 'key', key: ch });
    else for (const line of s.split('\n')) if (line.trim()) send({ type: 'key', key: line.trim()[0]! });
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData);
  const onEnd = (): void => send({ type: 'end', code: 0 });
  stdin.on('end', onEnd);
  stdin.resume();
  const onSignal = (): void => send({ type: 'end', code: 130 });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Load the kernel bindings now: a rebuild empties dist/ for a moment, and a
  // module first imported then would not be found.
  await systemOps();
  watcher.start();
  perform({ type: 'check', reason: 'start' });
  const code = await finished;

  clearTimeout(digitTimer);
  watcher.stop();
  stdin.off('data', onData);
  stdin.off('end', onEnd);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.pause();
  await jobs.close();
  out('', state.lastDone ? 'Bye — well done.' : 'Bye. `cellblock watch` picks up where you left off.');
  return code;
}
