/**
 * `cellblock grade`: every lesson of the manifest, graded on its own — the
 * learner's file for that lesson, the reference for the lessons before it — in
 * a guarded process of its own, after a check that the workshop itself was not
 * changed. The JSON and JUnit shapes are documented in docs/grading.md; change
 * them only together with GRADE_FORMAT.
 */
import { hostname } from 'node:os';
import { relative } from 'node:path';
import { LEFTOVER_CHECK, loadChecks, type CheckOutcome } from './checks.js';
import { cleanup } from './cleanup.js';
import { GUARD_MARK } from './guard.js';
import { solutionReferences } from './imports.js';
import { checkIntegrity, type Integrity } from './integrity.js';
import { findLesson, manifest, ROOT, sourceFile, type LessonEntry } from './manifest.js';
import { runWorker } from './runner.js';

export const GRADE_FORMAT = 'cellblock-grade/1';

export interface LessonGrade {
  id: string;
  title: string;
  file: string;
  passed: number;
  total: number;
  /** 0–100: passed / total, and 0 when the lesson used the reference solution. */
  score: number;
  /** Every check passed and no use of the reference. */
  ok: boolean;
  /** Seconds, for the whole lesson. */
  seconds: number;
  /** How the lesson reached into solutions/ (static references, refused imports); empty when it did not. */
  cheating: string[];
  /** Why the lesson could not be checked at all (crash, time limit); absent otherwise. */
  error?: string;
  checks: {
    name: string;
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
    checks: number;
    checksPassed: number;
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

  const lessons: LessonGrade[] = [];
  for (const entry of selected) {
    const g = await gradeLesson(entry, opts.timeoutMs ?? 180_000);
    lessons.push(g);
    opts.onLesson?.(g);
    // Whatever this lesson's runs left behind must not change the next one's result.
    await cleanup().catch(() => undefined);
  }

  const checks = lessons.reduce((n, l) => n + l.total, 0);
  const checksPassed = lessons.reduce((n, l) => n + l.passed, 0);
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
  const ran: CheckOutcome[] = outcome.report?.checks ?? [];
  // Every learner's lesson has the same checks, run or not: totals stay comparable
  // across a classroom when a lesson file does not even load.
  const expected = await expectedChecks(entry);
  const notRunBecause =
    ran.find((c) => c.name === LOAD_CHECK && !c.ok)?.found ?? outcome.error ?? 'the checks did not run';
  const byName = new Map(ran.map((c) => [c.name, c]));
  const checks: CheckOutcome[] = expected
    ? [
        ...expected.map(
          (name) =>
            byName.get(name) ?? {
              name,
              ok: false,
              expected: 'the check runs',
              found: `not run: ${notRunBecause}`,
              ms: 0,
            },
        ),
        ...ran.filter((c) => !expected.includes(c.name) && c.name !== LOAD_CHECK),
      ]
    : ran;
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
  const passed = checks.filter((c) => c.ok).length;
  const total = Math.max(checks.length, 1);
  const score = unique.length > 0 ? 0 : Math.round((100 * passed) / total);
  return {
    id: entry.id,
    title: entry.title,
    file: relative(ROOT, sourceFile(entry, 'lessons')),
    passed,
    total,
    score,
    ok: unique.length === 0 && !outcome.error && checks.length > 0 && passed === checks.length,
    seconds: round((performance.now() - t0) / 1000),
    cheating: unique,
    ...(outcome.error ? { error: outcome.error } : {}),
    checks: checks.map((c) => ({
      name: c.name,
      ok: c.ok,
      expected: c.expected,
      found: c.found,
      ...(c.hint ? { hint: c.hint } : {}),
      ...(c.skipped ? { skipped: c.skipped } : {}),
      seconds: round(c.ms / 1000),
    })),
  };
}

/** The name "the lesson file loads" that runLessonChecks reports when it cannot load a lesson. */
const LOAD_CHECK = 'the lesson file loads';

async function expectedChecks(entry: LessonEntry): Promise<string[] | undefined> {
  try {
    return [...(await loadChecks(entry)).checks.map((c) => c.name), LEFTOVER_CHECK];
  } catch {
    return undefined;
  }
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
      const head = `    <testcase classname="cellblock.${xml(l.id)}" name="${xml(c.name)}" time="${c.seconds.toFixed(3)}"`;
      if (c.skipped) {
        out.push(`${head}><skipped message="${xml(c.skipped)}"/></testcase>`);
      } else if (c.ok) {
        out.push(`${head}/>`);
      } else {
        const body = `expected: ${c.expected}\nfound:    ${c.found}${c.hint ? `\nhint:     ${c.hint}` : ''}`;
        out.push(
          `${head}><failure message="${xml(`expected ${c.expected}, found ${c.found}`)}" type="check">${xml(body)}</failure></testcase>`,
        );
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
