/**
 * Lesson checks: what `cellblock verify N`, `cellblock grade` and the test
 * suite run. Each check looks at a real container from the host and answers
 * with what it expected, what it found, and — when those differ — a hint
 * derived from what it found.
 */
import { pathToFileURL } from 'node:url';
import type { LoadedLesson } from '../core/lesson.js';
import type { RunningContainer } from '../core/host/run.js';
import { trial, type TrialOptions, type TrialResult } from './harness.js';
import { load } from './loader.js';
import { checksFile, type LessonEntry, type Source } from './manifest.js';

export interface CheckResult {
  ok: boolean;
  expected: string;
  found: string;
  hint?: string;
  /** Why the check could not look on this machine (it then counts as passed, and says so). */
  skipped?: string;
}

/** A check that cannot run here: it neither fails the learner nor pretends to have looked. */
/** Timeouts grow on a slow machine (the test suite's emulated v2 VM sets CELLBLOCK_SLOW). */
export const SLOW = Number(process.env['CELLBLOCK_SLOW'] ?? 1) || 1;

/**
 * Resolves true once the running container has printed `text` on stdout, or
 * false after `ms` — so that a check can still report what it found.
 */
export function outputContains(c: Pick<RunningContainer, 'stdout'>, text: string, ms = 5000 * SLOW): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = '';
    const timer = setTimeout(() => resolve(false), ms);
    c.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
}

export function skipCheck(reason: string, expected: string): CheckResult {
  return { ok: true, expected, found: `skipped: ${reason}`, skipped: reason };
}

export interface CheckEnv {
  lessons: LoadedLesson[];
  /** Run a container (see harness.ts); recorded for the final "nothing left behind" check. */
  trial(opts: TrialOptions): Promise<TrialResult>;
  /** The same trial, run once and shared by every check that asks for `key`. */
  shared(key: string, opts: TrialOptions): Promise<TrialResult>;
  /**
   * Anything made once per run of a lesson's checks and shared by the checks
   * that ask for `key` — a scenario of several trials and what the host saw
   * meanwhile. Keys are one namespace with `shared`'s.
   */
  once<T>(key: string, make: () => Promise<T>): Promise<T>;
  /**
   * Containers a check ran some other way than `trial` (the shim lesson's
   * detached ones): what they left, for the final "nothing left behind".
   */
  report(run: Pick<TrialResult, 'leaks' | 'undoFailures' | 'leftoversRemoved'>): void;
}

export interface Check {
  name: string;
  /**
   * The untouched starter already passes this check: it pins behaviour the
   * workshop hands the learner (a validation, the host left alone), not work
   * the learner does. It runs and must pass like any other — a learner must
   * not break it — but it earns no credit (docs/grading.md).
   * tests/lessons.test.ts runs every starter to prove each flag right.
   */
  provided?: boolean;
  run(env: CheckEnv): Promise<CheckResult> | CheckResult;
}

export interface LessonChecks {
  lesson: string;
  checks: Check[];
}

export function defineChecks(lesson: string, checks: Check[]): LessonChecks {
  return { lesson, checks };
}

/** A result from a comparison: ok when found equals expected. */
export function expectEqual(found: unknown, expected: unknown, hint?: string): CheckResult {
  const f = show(found);
  const e = show(expected);
  return { ok: f === e, expected: e, found: f, ...(f !== e && hint ? { hint } : {}) };
}

/** A result from a predicate. */
export function expectThat(ok: boolean, expected: string, found: string, hint?: string): CheckResult {
  return { ok, expected, found, ...(!ok && hint ? { hint } : {}) };
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A trial that failed to start is reported as what it is, not as a wrong value. */
export function startFailure(t: TrialResult): CheckResult | undefined {
  if (!t.error) return undefined;
  return {
    ok: false,
    expected: 'the container starts',
    found: `${t.error.name}: ${t.error.message}`,
    hint: t.error.message.includes('TODO')
      ? 'a TODO in the lesson file throws: finish it (stuck? `cellblock hint` with the lesson number)'
      : 'read the error: it names the step and the system call that failed',
  };
}

export interface CheckOutcome extends CheckResult {
  name: string;
  /** See Check.provided. */
  provided: boolean;
  ms: number;
  /** Set when the check could not run at all (notRun): it fails, but broke nothing the starter had. */
  notRun?: true;
}

/** What one run of a lesson's checks says about the learner's own work. */
export interface Tally {
  /** The learner's checks (those the starter fails) that pass… */
  passed: number;
  /** …of those that could look on this machine: a skipped check counts for neither side. */
  total: number;
  /** Provided checks that fail: what the starter already did right, broken. */
  broken: string[];
}

export function tally(checks: CheckOutcome[]): Tally {
  const learner = checks.filter((c) => !c.provided && !c.skipped);
  return {
    passed: learner.filter((c) => c.ok).length,
    total: learner.length,
    // A provided check that never ran is not "broken": nothing it guards was looked at.
    broken: checks.filter((c) => c.provided && !c.ok && !c.notRun).map((c) => c.name),
  };
}

export interface LessonReport {
  lesson: string;
  source: Source;
  /** Every check, provided ones included: the lesson is done when they are equal. */
  passed: number;
  total: number;
  /** The learner's part: what status, watch and grade count. */
  tally: Tally;
  ms: number;
  checks: CheckOutcome[];
}

const CHECK_TIMEOUT_MS = 20_000;

/**
 * The check every lesson ends with. Provided: the runtime as shipped cleans
 * up after every container, and each starter leaves nothing behind — so it
 * is a rail a learner must not break, not a point to earn.
 */
export const LEFTOVER_CHECK = 'nothing is left behind (processes, mounts, links, cgroups)';

export async function loadChecks(entry: LessonEntry): Promise<LessonChecks> {
  return ((await import(pathToFileURL(checksFile(entry)).href)) as { default: LessonChecks }).default;
}

/** Every check a run of the lesson reports, in order: those of its checks file, then LEFTOVER_CHECK. */
export function plannedChecks(spec: LessonChecks): { name: string; provided: boolean }[] {
  return [
    ...spec.checks.map((c) => ({ name: c.name, provided: c.provided === true })),
    { name: LEFTOVER_CHECK, provided: true },
  ];
}

/**
 * Every planned check, failed because none could run (the lesson file does
 * not load, the check process died): the same checks for every learner, so
 * totals stay comparable across a classroom.
 */
export function notRun(planned: { name: string; provided: boolean }[], reason: string, hint?: string): CheckOutcome[] {
  return planned.map((c) => ({
    ...c,
    ok: false,
    expected: 'the check runs',
    found: `not run: ${reason}`,
    ...(hint ? { hint } : {}),
    ms: 0,
    notRun: true as const,
  }));
}

export interface RunOptions {
  /** Change the loaded lessons before any check runs (grading adds the import guard to the init's arguments). */
  wrapLessons?: (lessons: LoadedLesson[]) => LoadedLesson[];
  /**
   * Stop after the first learner check that fails — completed, not timed out
   * (the mutation test: one failure is all it needs). The final "nothing
   * left behind" still runs.
   */
  stopAtFirstFailure?: boolean;
}

/** Every check of one lesson against `source`, plus the final "nothing left behind". */
export async function runLessonChecks(
  entry: LessonEntry,
  source: Source,
  onResult?: (r: CheckOutcome) => void,
  options: RunOptions = {},
): Promise<LessonReport> {
  const started = performance.now();
  const outcomes: CheckOutcome[] = [];
  const record = (r: CheckOutcome): void => {
    outcomes.push(r);
    onResult?.(r);
  };

  // The checks file is the workshop's own: if it does not load, that is a bug to report as such.
  const spec = await loadChecks(entry);
  let lessons: LoadedLesson[];
  try {
    lessons = await load({ kind: 'verify', id: entry.id, source });
    if (options.wrapLessons) lessons = options.wrapLessons(lessons);
  } catch (err) {
    const reason = `${source}/${entry.id}/${entry.file} does not load: ${String((err as Error).message ?? err)}`;
    const hint = 'fix that first (a syntax error, or a missing `export default defineLesson`)';
    for (const c of notRun(plannedChecks(spec), reason, hint)) record(c);
    return report(entry, source, outcomes, started);
  }

  const trials: TrialResult[] = [];
  const memo = new Map<string, Promise<unknown>>();
  const env: CheckEnv = {
    lessons,
    trial: async (opts) => {
      const t = await trial(lessons, opts);
      trials.push(t);
      return t;
    },
    shared: (key, opts) => env.once(key, () => env.trial(opts)),
    report: (run) => void trials.push(run as TrialResult),
    once: <T>(key: string, make: () => Promise<T>): Promise<T> => {
      if (!memo.has(key)) memo.set(key, make());
      return memo.get(key) as Promise<T>;
    },
  };

  for (const check of spec.checks) {
    const t0 = performance.now();
    let result: CheckResult;
    let completed = true;
    try {
      result = await withTimeout(Promise.resolve(check.run(env)), CHECK_TIMEOUT_MS);
    } catch (err) {
      completed = false;
      result = {
        ok: false,
        expected: 'the check completes',
        found: `${(err as Error).name}: ${(err as Error).message}`,
      };
    }
    record({ name: check.name, ...result, provided: check.provided === true, ms: performance.now() - t0 });
    // A check that threw or timed out says nothing about the lesson: go on.
    if (options.stopAtFirstFailure && completed && !result.ok && !result.skipped && check.provided !== true) break;
  }

  record({ ...leftoverResult(trials), name: LEFTOVER_CHECK, provided: true, ms: 0 });
  return report(entry, source, outcomes, started);
}

/**
 * The final check: nothing new on the host after every trial, and no undo
 * step that threw — each failed step named once (with how many runs it
 * failed in), since the runtime removed what it left and the leak probe
 * alone would not show it.
 */
export function leftoverResult(
  trials: Pick<TrialResult, 'leaks' | 'undoFailures' | 'leftoversRemoved'>[],
): CheckResult {
  const leaks = [...new Set(trials.flatMap((t) => t.leaks))];
  const failed = new Map<string, number>();
  for (const f of trials.flatMap((t) => t.undoFailures)) failed.set(f, (failed.get(f) ?? 0) + 1);
  const removed = [...new Set(trials.flatMap((t) => t.leftoversRemoved))];
  const steps = [...failed].map(([f, n]) => (n > 1 ? `${f} (in ${n} runs)` : f));
  const found = [
    ...steps,
    ...(removed.length ? [`after it, the runtime removed: ${summarise(removed)}`] : []),
    ...(leaks.length ? [`left: ${summarise(leaks)}`] : []),
  ];
  const ok = trials.length > 0 && found.length === 0;
  const stepNames = [...failed.keys()].map((f) => f.split(' threw:')[0]!);
  const hint =
    stepNames.length > 0
      ? `${stepNames.join('; ')} threw, so what it undoes stayed until the runtime removed it: read its error, and make that step work (each step of undo({…}) runs on its own)`
      : 'every run ended without an error, so no undo step failed: something is created and never undone — `cellblock cleanup` removes it, and the leftover above names its kind';
  return {
    ok,
    expected: 'no leftovers after every run, and no undo step that throws',
    found: trials.length === 0 ? 'no container was run' : found.length === 0 ? 'none' : found.join('; '),
    ...(!ok && trials.length > 0 ? { hint } : {}),
  };
}

/** A long list as its count and the first few: "73 items: a; b; c; …". */
export function summarise(items: string[], first = 3): string {
  if (items.length <= first + 1) return items.join('; ');
  return `${items.length} items: ${items.slice(0, first).join('; ')}; … (${items.length - first} more)`;
}

function report(entry: LessonEntry, source: Source, checks: CheckOutcome[], started: number): LessonReport {
  return {
    lesson: entry.id,
    source,
    passed: checks.filter((c) => c.ok).length,
    total: checks.length,
    tally: tally(checks),
    ms: performance.now() - started,
    checks,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
