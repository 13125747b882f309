/**
 * Runs worker.ts for one lesson and collects what it sends. Used by `watch`
 * (stream each check as it finishes, abort on the next save) and by `grade`
 * (one guarded process per lesson, with a time limit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { CheckOutcome, LessonReport } from './checks.js';
import { guardImport } from './guard.js';
import type { LessonEntry, Source } from './manifest.js';
import type { WorkerMessage } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface WorkerRun {
  /** Resolves when the worker has ended (or was stopped). */
  done: Promise<WorkerOutcome>;
  /** Stop it now (a newer save makes this run pointless). */
  stop(): void;
}

export interface WorkerOutcome {
  report?: LessonReport;
  /** Why there is no report: a crash, the time limit, a stop. */
  error?: string;
  stopped: boolean;
  /** The lesson's own output (console.log in a lesson file), last 8 KB. */
  output: string;
}

export interface WorkerOptions {
  /** Load the import guard in the worker and in every container init. */
  guard?: boolean;
  onCheck?: (c: CheckOutcome) => void;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function startWorker(entry: LessonEntry, source: Source, opts: WorkerOptions = {}): WorkerRun {
  const args = [
    ...(opts.guard ? ['--import', guardImport(entry.id)] : []),
    WORKER,
    entry.id,
    source,
    ...(opts.guard ? ['--guard'] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let report: LessonReport | undefined;
  let error: string | undefined;
  let stopped = false;
  let buffered = '';
  (child.stdio[3] as Readable).on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let m: WorkerMessage;
      try {
        m = JSON.parse(line) as WorkerMessage;
      } catch {
        continue;
      }
      if (m.type === 'check') opts.onCheck?.(m.check);
      else if (m.type === 'report') report = m.report;
      else error = m.message;
    }
  });

  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          error = `timed out after ${Math.round(opts.timeoutMs! / 1000)} s`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;

  const done = new Promise<WorkerOutcome>((resolve) => {
    child.once('error', (err) => {
      error = err.message;
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (!report && !error && !stopped) {
        error = `the check process ended (${signal ?? `exit ${code}`}) before reporting`;
      }
      resolve({ ...(report ? { report } : {}), ...(error ? { error } : {}), stopped, output });
    });
  });

  return {
    done,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      // SIGKILL: the trial's containers die with it (their init has PR_SET_PDEATHSIG).
      child.kill('SIGKILL');
    },
  };
}

export function runWorker(entry: LessonEntry, source: Source, opts: WorkerOptions = {}): Promise<WorkerOutcome> {
  return startWorker(entry, source, opts).done;
}
