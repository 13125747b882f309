/**
 * The mutation test's machinery (tests/mutations.test.ts on the host, and the
 * cgroup-v2 micro-VM's guest for the lessons it is given).
 *
 * A starter's TODO is one *paragraph* — the lines from `// TODO [key]: …` to
 * the next blank line — and the solution has the paragraph of the same key at
 * the same place, starting with `// [key] …`. A *mutant* is the solution with
 * one paragraph put back to its starter form: a learner who did everything
 * but that one TODO. `verify` must fail for every mutant, or the TODO is not
 * checked.
 *
 * Speed: every mutant of every lesson is written to one temporary directory
 * and built in one esbuild pass; each runs the lesson's checks in this
 * process (as `verify N` does: the reference for the lessons before N), and a
 * run stops at the first failing learner check — it has proved its point.
 * The built mutant imports the runtime through a symlink to this checkout's
 * dist/src, which Node resolves to the real files: one copy of every module,
 * shared with the checks.
 *
 * Safety: a mutant is unfinished code run as root. Each runs on a fresh copy
 * of the rootfs (a mutant of lesson 03 may write device nodes or directories
 * into the directory it was meant to cover with a tmpfs), and whatever the
 * final leak probe finds after a run is removed through the workshop's own
 * cleanup inventory, item by item — never anything the probe did not name.
 */
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Lesson, LoadedLesson } from '../../src/core/lesson.js';
import { execute, plan } from '../../src/workshop/cleanup.js';
import { systemOps } from '../../src/core/inventories.js';
import { defaultRootfs } from '../../src/core/paths.js';
import { LEFTOVER_CHECK, runLessonChecks, type CheckOutcome } from '../../src/workshop/checks.js';
import { DIST, sourceFile, type LessonEntry } from '../../src/workshop/manifest.js';
import { itemLine } from '../../src/workshop/probe.js';

const KEY = '[a-z0-9]+(?:-[a-z0-9]+)*';
const STARTER_MARK = new RegExp(`^\\s*// TODO \\[(${KEY})\\]:`);
const SOLUTION_MARK = new RegExp(`^\\s*// \\[(${KEY})\\]`);
/** A TODO comment in a starter, keyed or not. */
const ANY_TODO = /^\s*\/\/\s*TODO\b/;

export interface Paragraph {
  key: string;
  /** Index of the marker line, and one past the paragraph's last line. */
  start: number;
  end: number;
}

export interface Markers {
  paragraphs: Map<string, Paragraph>;
  /** Everything that breaks the convention, one sentence each, naming the file and line. */
  problems: string[];
}

/** The keyed paragraphs of one file (`starter`: `// TODO [key]:`, `solution`: `// [key]`). */
export function markers(text: string, kind: 'starter' | 'solution', label: string): Markers {
  const lines = text.split('\n');
  const mark = kind === 'starter' ? STARTER_MARK : SOLUTION_MARK;
  const paragraphs = new Map<string, Paragraph>();
  const problems: string[] = [];
  let open: Paragraph | undefined;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') {
      open = undefined;
      continue;
    }
    const m = mark.exec(line);
    if (m) {
      const key = m[1]!;
      if (open)
        problems.push(
          `${label}:${i + 1}: [${key}] starts inside the paragraph of [${open.key}] — one TODO is one paragraph: put a blank line before it`,
        );
      if (paragraphs.has(key)) problems.push(`${label}:${i + 1}: the key [${key}] is used twice in the file`);
      open = { key, start: i, end: i + 1 };
      paragraphs.set(key, open);
    } else if (open) {
      open.end = i + 1;
      if (kind === 'starter' && ANY_TODO.test(line))
        problems.push(
          `${label}:${i + 1}: a second TODO inside the paragraph of [${open.key}]: continue it with a plain \`//\` line, or give it a key of its own`,
        );
    } else if (kind === 'starter' && ANY_TODO.test(line)) {
      problems.push(
        `${label}:${i + 1}: a TODO without a key — write it as \`// TODO [some-key]: …\` (see docs/instructor-guide.md, "TODO markers")`,
      );
    }
  }
  if (kind === 'starter' && paragraphs.size === 0 && problems.length === 0)
    problems.push(`${label}: no \`// TODO [key]: …\` marker — a starter needs at least one keyed TODO`);
  return { paragraphs, problems };
}

export interface Pairing {
  keys: string[];
  problems: string[];
}

/** Do a starter's and its solution's markers pair up, key for key? */
export function pairMarkers(starter: string, solution: string, labels: { starter: string; solution: string }): Pairing {
  const s = markers(starter, 'starter', labels.starter);
  const r = markers(solution, 'solution', labels.solution);
  const problems = [...s.problems, ...r.problems];
  for (const key of s.paragraphs.keys())
    if (!r.paragraphs.has(key))
      problems.push(`${labels.solution}: no \`// [${key}]\` paragraph for the starter's TODO [${key}]`);
  for (const key of r.paragraphs.keys())
    if (!s.paragraphs.has(key))
      problems.push(`${labels.starter}: no \`// TODO [${key}]:\` for the solution's paragraph [${key}]`);
  return { keys: [...s.paragraphs.keys()].filter((k) => r.paragraphs.has(k)), problems };
}

/** The solution with the paragraph `key` put back to the starter's. */
export function mutate(starter: string, solution: string, key: string): string {
  const s = markers(starter, 'starter', 'starter').paragraphs.get(key);
  const r = markers(solution, 'solution', 'solution').paragraphs.get(key);
  if (!s || !r) throw new Error(`no paragraph [${key}] in both files`);
  const sl = starter.split('\n');
  const rl = solution.split('\n');
  return [...rl.slice(0, r.start), ...sl.slice(s.start, s.end), ...rl.slice(r.end)].join('\n');
}

export interface LessonMarkers {
  entry: LessonEntry;
  starter: string;
  solution: string;
  pairing: Pairing;
}

export function lessonMarkers(entry: LessonEntry): LessonMarkers {
  const starter = readFileSync(sourceFile(entry, 'lessons'), 'utf8');
  const solution = readFileSync(sourceFile(entry, 'solutions'), 'utf8');
  const pairing = pairMarkers(starter, solution, {
    starter: `lessons/${entry.id}/${entry.file}`,
    solution: `solutions/${entry.id}/${entry.file}`,
  });
  return { entry, starter, solution, pairing };
}

export interface Mutant {
  entry: LessonEntry;
  key: string;
  /** The built mutant, where the init loads it from. */
  file: string;
}

export interface MutantSet {
  mutants: Mutant[];
  dir: string;
  remove(): void;
}

/**
 * Every mutant of `lessons`, built in one esbuild pass into a temporary
 * directory: <dir>/<lesson>/<key>/solutions/<lesson>/<file>.js, next to a
 * `src` symlink to dist/src so the file's own `../../src/…` imports resolve.
 */
export async function buildMutants(lessons: LessonMarkers[]): Promise<MutantSet> {
  const dir = mkdtempSync(join(tmpdir(), 'cellblock-mutants-'));
  const srcDir = join(dir, 'ts');
  const outDir = join(dir, 'js');
  const mutants: Mutant[] = [];
  const entryPoints: string[] = [];
  for (const l of lessons) {
    for (const key of l.pairing.keys) {
      const rel = join(l.entry.id, key, 'solutions', l.entry.id);
      mkdirSync(join(srcDir, rel), { recursive: true });
      mkdirSync(join(outDir, l.entry.id, key), { recursive: true });
      symlinkSync(join(DIST, 'src'), join(outDir, l.entry.id, key, 'src'));
      const ts = join(srcDir, rel, l.entry.file);
      writeFileSync(ts, mutate(l.starter, l.solution, key));
      entryPoints.push(ts);
      mutants.push({ entry: l.entry, key, file: join(outDir, rel, l.entry.file.replace(/\.ts$/, '.js')) });
    }
  }
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints,
    outbase: srcDir,
    outdir: outDir,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
  });
  return { mutants, dir, remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 }) };
}

export interface MutantOutcome {
  mutant: Mutant;
  /** The first learner check that failed — undefined: the TODO is not checked. */
  caught?: CheckOutcome;
  /** Every check that ran, in order (the run stops after `caught`). */
  checks: CheckOutcome[];
  /** What the leak probe found after the run, and removed. */
  leaks: string[];
  ms: number;
}

/**
 * Run one lesson's checks with `file` (a built lesson module) in place of
 * the lesson, the reference for the ones before it — as `verify N` does.
 * `stopAtFirstFailure`: stop after the first failing learner check.
 */
export async function runWithLessonFile(
  entry: LessonEntry,
  file: string,
  opts: { stopAtFirstFailure?: boolean } = {},
): Promise<{ checks: CheckOutcome[]; leaks: string[] }> {
  const mod = (await import(pathToFileURL(file).href)) as { default: Lesson };
  const report = await runLessonChecks(entry, 'solutions', undefined, {
    wrapLessons: (lessons: LoadedLesson[]) =>
      lessons.map((l) => (l.id === entry.id ? { id: l.id, file, lesson: mod.default } : l)),
    ...(opts.stopAtFirstFailure ? { stopAtFirstFailure: true } : {}),
  });
  const leftover = report.checks.find((c) => c.name === LEFTOVER_CHECK);
  const leaks = leftover && !leftover.ok && leftover.found !== 'no container was run' ? [leftover.found] : [];
  if (leaks.length > 0) await removeLeaks(leftover!.found);
  return { checks: report.checks, leaks };
}

/** Remove exactly the inventory items the leak probe named (its lines are `<item line> (new on the host …)`). */
async function removeLeaks(found: string): Promise<void> {
  const p = plan();
  const named = p.items.filter((i) => !i.keep && found.includes(itemLine(i)));
  if (named.length > 0) await execute({ ...p, items: named }, await systemOps());
}

/**
 * Run one mutant on a fresh copy of the rootfs, in a directory of its own
 * (`rootfs` below `set.dir`): what one mutant did to its rootfs never reaches
 * the next one's. The copy is named by CELLBLOCK_ROOTFS, which this process
 * changes for the run — so one process runs one mutant at a time.
 */
export async function runMutant(mutant: Mutant, rootfs: string): Promise<MutantOutcome> {
  const t0 = performance.now();
  const original = process.env['CELLBLOCK_ROOTFS'];
  const pristine = defaultRootfs();
  const cp = spawnSync('cp', ['-a', pristine, rootfs], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`cannot copy the rootfs ${pristine}: ${cp.stderr}`);
  process.env['CELLBLOCK_ROOTFS'] = rootfs;
  try {
    const { checks, leaks } = await runWithLessonFile(mutant.entry, mutant.file, { stopAtFirstFailure: true });
    const caught = checks.find((c) => !c.ok && !c.provided && !c.skipped && !incomplete(c));
    return { mutant, checks, leaks, ms: performance.now() - t0, ...(caught ? { caught } : {}) };
  } finally {
    if (original === undefined) delete process.env['CELLBLOCK_ROOTFS'];
    else process.env['CELLBLOCK_ROOTFS'] = original;
    // A check that timed out may still have containers on this rootfs: then
    // it goes with the whole directory at the end (MutantSet.remove).
    try {
      rmSync(rootfs, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // left for set.remove()
    }
  }
}

/** The worker script: runs the mutants it is sent, one after the other, and sends back each outcome. */
const WORKER = fileURLToPath(new URL('./mutant-worker.js', import.meta.url));

/**
 * The first run of every mutant, spread over `workers` processes (each its
 * own CELLBLOCK_ROOTFS). A lesson's mutants all go to one worker, one after
 * the other — two runs of the same checks at once would share what those
 * checks make (lesson 09's loop devices, say) — and whole lessons are dealt,
 * the largest first, to the worker with the fewest mutants so far. Mutants
 * of different lessons share only what every container shares (the bridge,
 * the cgroup parent), which the leak probe attributes to whichever run is
 * live. Outcomes come back in the mutants' order.
 */
async function inWorkers(
  set: MutantSet,
  workers: number,
  onRun?: (o: MutantOutcome) => void,
): Promise<MutantOutcome[]> {
  const outcomes: MutantOutcome[] = new Array(set.mutants.length);
  const byLesson = new Map<string, { m: Mutant; i: number }[]>();
  set.mutants.forEach((m, i) => byLesson.set(m.entry.id, [...(byLesson.get(m.entry.id) ?? []), { m, i }]));
  const shares: { m: Mutant; i: number }[][] = Array.from({ length: workers }, () => []);
  for (const group of [...byLesson.values()].sort((a, b) => b.length - a.length)) {
    shares.reduce((least, s) => (s.length < least.length ? s : least)).push(...group);
  }
  await Promise.all(
    shares.map(
      (share, w) =>
        new Promise<void>((resolve, reject) => {
          if (share.length === 0) return resolve();
          const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          let got = 0;
          child.on('message', (msg: { index: number; outcome?: MutantOutcome; error?: string }) => {
            if (msg.error !== undefined) return reject(new Error(`mutant worker ${w}: ${msg.error}`));
            outcomes[msg.index] = msg.outcome!;
            got++;
            onRun?.(msg.outcome!);
            if (got === share.length) resolve();
          });
          child.once('error', reject);
          child.once('exit', (code, signal) => {
            if (got < share.length)
              reject(new Error(`mutant worker ${w} ended (${signal ?? code}) after ${got} of ${share.length} mutants`));
          });
          child.send({ dir: set.dir, worker: w, mutants: share.map(({ m, i }) => ({ index: i, mutant: m })) });
        }),
    ),
  );
  return outcomes;
}

/**
 * Run every mutant, each on a fresh copy of the rootfs: the first run spread
 * over `workers` processes (1: here, one after the other), the retries of
 * undecided ones here, one at a time, once every first run has ended.
 */
export async function runMutants(
  set: MutantSet,
  opts: {
    /** Each run as it ends (a retried mutant runs more than once). */
    onRun?: (o: MutantOutcome) => void;
    /** Each mutant's final outcome. */
    onOutcome?: (o: MutantOutcome) => void;
    retries?: number;
    retryAfterMs?: number;
    /** Processes for the first run of every mutant (default 1). */
    workers?: number;
    /**
     * Mutants whose checks judge what every container shares (lesson 04's
     * bridge: a run in another worker makes it between the check's sweep and
     * this run): their first run too is here, alone, after the workers'.
     */
    alone?: (m: Mutant) => boolean;
  } = {},
): Promise<MutantOutcome[]> {
  let runs = 0;
  const once = async (mutant: Mutant): Promise<MutantOutcome> => {
    const o = await runMutant(mutant, join(set.dir, `rootfs-${runs++}`));
    opts.onRun?.(o);
    return o;
  };
  const outcomes: MutantOutcome[] = new Array(set.mutants.length);
  const alone = (m: Mutant): boolean => (opts.workers ?? 1) <= 1 || opts.alone?.(m) === true;
  if ((opts.workers ?? 1) > 1) {
    const spread = set.mutants.filter((m) => !alone(m));
    const got = await inWorkers({ ...set, mutants: spread }, opts.workers!, opts.onRun);
    spread.forEach((m, i) => (outcomes[set.mutants.indexOf(m)] = got[i]!));
  }
  for (const [i, m] of set.mutants.entries()) if (alone(m)) outcomes[i] = await once(m);
  // A mutant that passed only because a check could not look here (another
  // run on this machine holds the shared bridge, say) or ran out of time on
  // a busy machine is undecided, not unchecked: try it again a little
  // later, a few times — alone.
  for (let round = 0; round < (opts.retries ?? 3); round++) {
    const undecided = outcomes.filter((o) => !o.caught && skippedIn(o).length > 0);
    if (undecided.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, opts.retryAfterMs ?? 3000));
    for (const o of undecided) outcomes[outcomes.indexOf(o)] = await once(o.mutant);
  }
  for (const o of outcomes) opts.onOutcome?.(o);
  return outcomes;
}

/** A check that threw or ran out of time: it proves nothing about the lesson either way. */
function incomplete(c: CheckOutcome): boolean {
  return c.expected === 'the check completes';
}

/**
 * The learner checks that could not decide during the mutant's run, "name:
 * reason": skipped (nothing to look at on this machine now), or timed out.
 */
export function skippedIn(o: MutantOutcome): string[] {
  return o.checks
    .filter((c) => !c.provided && (c.skipped || (!c.ok && incomplete(c))))
    .map((c) => `${c.name}: ${c.skipped ?? c.found}`);
}

/** "[key] of lesson: not caught" sentences for the mutants no learner check failed. */
export function uncaught(outcomes: MutantOutcome[]): string[] {
  return outcomes
    .filter((o) => !o.caught)
    .map((o) => {
      const skipped = skippedIn(o);
      return `${o.mutant.entry.id}: with TODO [${o.mutant.key}] put back to its starter form, every learner check still passes — ${
        skipped.length > 0
          ? `undecided: ${skipped.length} check(s) could not look here (${skipped.join('; ')})`
          : 'add or sharpen a check for it'
      }`;
    });
}

/**
 * The whole mutation check for some lessons, in one call — what the cgroup-v2
 * micro-VM's guest runs for lesson 05: marker problems first (no mutant is
 * built for a lesson whose markers do not pair), then every key no learner
 * check caught. Empty `problems`: every TODO of these lessons is checked here.
 */
export async function mutationProblems(
  entries: LessonEntry[],
  opts: { onRun?: (o: MutantOutcome) => void } = {},
): Promise<{ problems: string[]; outcomes: MutantOutcome[] }> {
  const lessons = entries.map(lessonMarkers);
  const problems = lessons.flatMap((l) => l.pairing.problems);
  const set = await buildMutants(lessons.filter((l) => l.pairing.problems.length === 0));
  try {
    const outcomes = await runMutants(set, opts);
    return { problems: [...problems, ...uncaught(outcomes)], outcomes };
  } finally {
    set.remove();
  }
}
