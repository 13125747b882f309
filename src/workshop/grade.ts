/**
 * `cellblock grade`: every lesson of the manifest, graded on its own — the
 * learner's file for that lesson, the reference for the lessons before it — in
 * a guarded process of its own, after a check that the workshop itself was not
 * changed. The JSON and JUnit shapes are documented in docs/grading.md; change
 * them only together with GRADE_FORMAT.
 */
import { hostname } from 'node:os';
import { relative } from 'node:path';
import { loadChecks, notRun, plannedChecks, tally, type CheckOutcome } from './checks.js';
import { cleanup, itemKey, plan } from './cleanup.js';
import { GUARD_MARK } from './guard.js';
import { solutionReferences } from './imports.js';
import { checkIntegrity, type Integrity } from './integrity.js';
import { findLesson, manifest, ROOT, sourceFile, type LessonEntry } from './manifest.js';
import { runWorker } from './runner.js';

export const GRADE_FORMAT = 'cellblock-grade/2';

export interface LessonGrade {
  id: string;
  title: string;
  file: string;
  /** The learner's checks — those the untouched starter fails — that pass… */
  passed: number;
  /** …of those that could look on this machine (skipped ones count for neither). */
  total: number;
  /** The checks the starter already passes: they earn nothing, and must not break. */
  provided: {
    total: number;
    /** The names of those that fail. */
    broken: string[];
  };
  /**
   * 0–100: passed / (total + broken provided checks) — a provided check
   * broken costs as much as a check not done; 0 when the lesson used the
   * reference solution.
   */
  score: number;
  /** Every check passed, provided ones included, and no use of the reference. */
  ok: boolean;
  /** Seconds, for the whole lesson. */
  seconds: number;
  /** How the lesson reached into solutions/ (static references, refused imports); empty when it did not. */
  cheating: string[];
  /** Why the lesson could not be checked at all (crash, time limit); absent otherwise. */
  error?: string;
  checks: {
    name: string;
    /** A check the starter already passes (see `provided`). */
    provided: boolean;
    ok: boolean;
    expected: string;
    found: string;
    hint?: string;
    skipped?: string;
    seconds: number;
  }[];
}

export interface GradeReport {
  format: typeof GRADE_FORMAT;
  generatedAt: string;
  host: string;
  learner: string | null;
  integrity: Integrity;
  lessons: LessonGrade[];
  summary: {
    lessons: number;
    lessonsPassed: number;
    /** The learner's checks, over every lesson graded. */
    checks: number;
    checksPassed: number;
    /** Provided checks that fail, over every lesson graded. */
    providedBroken: number;
    /** Mean of the lesson scores: each lesson weighs the same, however many checks it has. */
    score: number;
    seconds: number;
    /** Every lesson passed, and integrity is not "tampered". */
    ok: boolean;
  };
}

export interface GradeOptions {
  /** Lesson ids or numbers (findLesson); default: the whole manifest. */
  only?: string[];
  learner?: string;
  expectFingerprint?: string;
  /** Per lesson, in ms. */
  timeoutMs?: number;
  onLesson?: (g: LessonGrade) => void;
}

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

export async function grade(opts: GradeOptions = {}): Promise<GradeReport> {
  const started = performance.now();
  const integrity = checkIntegrity(ROOT, { expectFingerprint: opts.expectFingerprint });
  const all = manifest();
  // Looked up before anything runs: an unknown lesson is an error, never a lesson silently left out.
  const asked = new Set(opts.only?.map((q) => findLesson(q)));
  const selected = asked.size ? all.filter((e) => asked.has(e)) : all;

  // What is on the machine before grading is the user's (a `run --keep`
  // container, another terminal's run): grading never touches it.
  const before = new Set(plan().items.map(itemKey));
  const lessons: LessonGrade[] = [];
  for (const entry of selected) {
    const g = await gradeLesson(entry, opts.timeoutMs ?? 180_000);
    lessons.push(g);
    opts.onLesson?.(g);
    // Whatever this lesson's runs left behind must not change the next one's result.
    await cleanup({ only: (item) => !before.has(itemKey(item)) }).catch(() => undefined);
  }

  const checks = lessons.reduce((n, l) => n + l.total, 0);
  const checksPassed = lessons.reduce((n, l) => n + l.passed, 0);
  const providedBroken = lessons.reduce((n, l) => n + l.provided.broken.length, 0);
  const lessonsPassed = lessons.filter((l) => l.ok).length;
  return {
    format: GRADE_FORMAT,
    generatedAt: new Date().toISOString(),
    host: hostname(),
    learner: opts.learner ?? process.env['CELLBLOCK_LEARNER'] ?? null,
    integrity,
    lessons,
    summary: {
      lessons: lessons.length,
      lessonsPassed,
      checks,
      checksPassed,
      providedBroken,
      score: lessons.length ? Math.round(lessons.reduce((n, l) => n + l.score, 0) / lessons.length) : 0,
      seconds: round((performance.now() - started) / 1000),
      ok: lessonsPassed === lessons.length && integrity.status !== 'tampered',
    },
  };
}

async function gradeLesson(entry: LessonEntry, timeoutMs: number): Promise<LessonGrade> {
  const t0 = performance.now();
  const cheating = solutionReferences(entry).map(
    (r) => `${r.file}:${r.line} refers to ${JSON.stringify(r.literal)} (the reference solution)`,
  );
  const outcome = await runWorker(entry, 'lessons', { guard: true, timeoutMs });
  // Without a report (a crash, the time limit) every check is still there, failed:
  // totals stay comparable across a classroom.
  const checks: CheckOutcome[] =
    outcome.report?.checks ??
    notRun(await loadChecks(entry).then(plannedChecks, () => []), outcome.error ?? 'the checks did not run');
  for (const c of checks) {
    const refused = [c.found, c.expected].find((s) => s.includes(GUARD_MARK));
    if (refused)
      cheating.push(
        refused
          .slice(refused.indexOf(GUARD_MARK) + GUARD_MARK.length)
          .trim()
          .split('\n')[0]!,
      );
  }
  if (outcome.output.includes(GUARD_MARK)) {
    const line = outcome.output.split('\n').find((l) => l.includes(GUARD_MARK))!;
    cheating.push(line.slice(line.indexOf(GUARD_MARK) + GUARD_MARK.length).trim());
  }
  const unique = [...new Set(cheating)];
  const t = tally(checks);
  const owed = t.total + t.broken.length;
  // Nothing of the learner's measured (every learner check skipped here): no credit either.
  const score = unique.length > 0 || owed === 0 ? 0 : Math.round((100 * t.passed) / owed);
  return {
    id: entry.id,
    title: entry.title,
    file: relative(ROOT, sourceFile(entry, 'lessons')),
    passed: t.passed,
    total: t.total,
    provided: { total: checks.filter((c) => c.provided).length, broken: t.broken },
    score,
    ok: unique.length === 0 && !outcome.error && checks.length > 0 && checks.every((c) => c.ok),
    seconds: round((performance.now() - t0) / 1000),
    cheating: unique,
    ...(outcome.error ? { error: outcome.error } : {}),
    checks: checks.map((c) => ({
      name: c.name,
      provided: c.provided,
      ok: c.ok,
      expected: c.expected,
      found: c.found,
      ...(c.hint ? { hint: c.hint } : {}),
      ...(c.skipped ? { skipped: c.skipped } : {}),
      seconds: round(c.ms / 1000),
    })),
  };
}

// ─── JUnit ────────────────────────────────────────────────────────────────────

function xml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // Control characters are not allowed in XML 1.0 (terminal escapes in a lesson's output).
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/** The report as JUnit XML: one <testsuite> for integrity, one per lesson, one <testcase> per check. */
export function toJUnit(r: GradeReport): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  type Case = { name: string; failure?: string; skipped?: string };
  const integrityCases: Case[] =
    r.integrity.changes.length > 0
      ? r.integrity.changes.map((c) => ({ name: `${c.path} is unchanged`, failure: `${c.path} was ${c.change}` }))
      : r.integrity.status === 'unverified'
        ? [{ name: 'workshop files are unchanged', skipped: `unverified: ${r.integrity.reference}` }]
        : [{ name: 'workshop files are unchanged' }];
  if (r.integrity.fingerprintMismatch) {
    integrityCases.push({
      name: 'fingerprint matches the instructor’s',
      failure: `fingerprint ${r.integrity.fingerprint} does not start with ${r.integrity.fingerprintMismatch.expected}`,
    });
  }
  const failures =
    integrityCases.filter((c) => c.failure).length +
    r.lessons.reduce((n, l) => n + l.checks.filter((c) => !c.ok).length + (l.cheating.length || l.error ? 1 : 0), 0);
  const tests =
    integrityCases.length + r.lessons.reduce((n, l) => n + l.checks.length + (l.cheating.length || l.error ? 1 : 0), 0);
  const skipped = integrityCases.filter((c) => c.skipped).length;
  out.push(
    `<testsuites name="cellblock" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${r.summary.seconds.toFixed(3)}">`,
  );

  const props = (extra: [string, string | number][]): string[] => [
    '    <properties>',
    ...[
      ['format', r.format],
      ['host', r.host],
      ['learner', r.learner ?? ''],
      ['fingerprint', r.integrity.fingerprint],
      ...extra,
    ].map(([k, v]) => `      <property name="${xml(String(k))}" value="${xml(String(v))}"/>`),
    '    </properties>',
  ];

  out.push(
    `  <testsuite name="integrity" tests="${integrityCases.length}" failures="${integrityCases.filter((c) => c.failure).length}" errors="0" skipped="${skipped}" time="0.000" timestamp="${r.generatedAt}">`,
    ...props([
      ['status', r.integrity.status],
      ['reference', r.integrity.reference],
    ]),
  );
  for (const c of integrityCases) {
    const head = `    <testcase classname="cellblock.integrity" name="${xml(c.name)}" time="0.000"`;
    if (c.failure) out.push(`${head}><failure message="${xml(c.failure)}" type="tampered"/></testcase>`);
    else if (c.skipped) out.push(`${head}><skipped message="${xml(c.skipped)}"/></testcase>`);
    else out.push(`${head}/>`);
  }
  out.push('  </testsuite>');

  for (const l of r.lessons) {
    const extra = l.cheating.length || l.error ? 1 : 0;
    const lf = l.checks.filter((c) => !c.ok).length + extra;
    out.push(
      `  <testsuite name="${xml(l.id)}" tests="${l.checks.length + extra}" failures="${lf}" errors="0" time="${l.seconds.toFixed(3)}" timestamp="${r.generatedAt}">`,
      ...props([
        ['title', l.title],
        ['file', l.file],
        ['score', l.score],
        ['passed', l.passed],
        ['total', l.total],
        ['provided', l.provided.total],
        ['broken', l.provided.broken.length],
      ]),
    );
    if (l.cheating.length) {
      out.push(
        `    <testcase classname="cellblock.${xml(l.id)}" name="does not use the reference solution" time="0.000"><failure message="${xml(l.cheating[0]!)}" type="cheating">${xml(l.cheating.join('\n'))}</failure></testcase>`,
      );
    } else if (l.error) {
      out.push(
        `    <testcase classname="cellblock.${xml(l.id)}" name="the checks run" time="0.000"><failure message="${xml(l.error.split('\n')[0]!)}" type="error">${xml(l.error)}</failure></testcase>`,
      );
    }
    for (const c of l.checks) {
      // Provided checks in a class of their own: a CI view shows the learner's part apart from the rails.
      const cls = `cellblock.${xml(l.id)}${c.provided ? '.provided' : ''}`;
      const head = `    <testcase classname="${cls}" name="${xml(c.name)}" time="${c.seconds.toFixed(3)}"`;
      if (c.skipped) {
        out.push(`${head}><skipped message="${xml(c.skipped)}"/></testcase>`);
      } else if (c.ok) {
        out.push(`${head}/>`);
      } else {
        const body = `expected: ${c.expected}\nfound:    ${c.found}${c.hint ? `\nhint:     ${c.hint}` : ''}`;
        out.push(
          `${head}><failure message="${xml(`expected ${c.expected}, found ${c.found}`)}" type="${c.provided ? 'broken' : 'check'}">${xml(body)}</failure></testcase>`,
        );
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
