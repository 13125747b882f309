/**
 * `cellblock grade` in a throwaway learner checkout: honest work, the obvious
 * cheats (editing the checks, importing the reference — plainly, or assembled
 * at run time inside the container), a hand-edited dist/, a sealed copy without
 * .git — and the documented report formats.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';
import type { GradeReport } from '../../src/workshop/grade.js';
import { solutionReferences, stringLiterals } from '../../src/workshop/imports.js';
import { checkIntegrity, SUMS_FILE } from '../../src/workshop/integrity.js';
import { manifest } from '../../src/workshop/manifest.js';
import { learnerCheckout, type Checkout } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

function report(r: { stdout: string; stderr: string }): GradeReport {
  try {
    return JSON.parse(r.stdout) as GradeReport;
  } catch {
    throw new Error(`not JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

/** Every key path of a JSON value ("lessons[].checks[].name"), arrays by all their elements. */
function keyPaths(v: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(v)) for (const x of v) for (const p of keyPaths(x, `${prefix}[]`)) out.add(p);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      for (const q of keyPaths(x, p)) out.add(q);
    }
  }
  return out;
}

describe('grade: finding solutions/ in a lesson (static scan)', function () {
  it('sees string literals, not comments', function () {
    const lits = stringLiterals(
      [
        "// see '../../solutions/x' afterwards",
        '/* "../../solutions/y" */',
        "import a from '../../solutions/01-uts/uts.js';",
        'const b = `./solutions/z`; const c = "it\'s \\"quoted\\"";',
      ].join('\n'),
    ).map((l) => `${l.line}:${l.value}`);
    expect(lits).to.deep.equal(['3:../../solutions/01-uts/uts.js', '4:./solutions/z', '4:it\'s "quoted"']);
  });

  it('scans every file of the lesson directory', function () {
    const root = mkdtempSync(join(tmpdir(), 'scan-'));
    try {
      mkdirSync(join(root, 'lessons', '09-x', 'helpers'), { recursive: true });
      writeFileSync(
        join(root, 'lessons', '09-x', 'x.ts'),
        "import h from './helpers/h.js';\n// solutions/ is for later\n",
      );
      writeFileSync(
        join(root, 'lessons', '09-x', 'helpers', 'h.ts'),
        "\n\nexport default await import('..\\\\..\\\\..\\\\solutions\\\\09-x\\\\x.js');\n",
      );
      const refs = solutionReferences({ id: '09-x', title: '', file: 'x.ts', hints: [] }, root);
      expect(refs).to.deep.equal([
        { file: 'lessons/09-x/helpers/h.ts', line: 3, literal: '..\\..\\..\\solutions\\09-x\\x.js' },
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('cellblock grade (a learner checkout)', function () {
  this.timeout(120_000);
  let co: Checkout;

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (the checks run containers)');
    co = learnerCheckout({ git: true });
  });
  after(() => co?.remove());

  const file = (tree: string, id: string, name: string): string => join(co.dir, tree, id, name);

  it('catches every obvious cheat: edited checks, an imported reference, one assembled at run time in the init', function () {
    // 00: imports its reference outright.
    writeFileSync(
      file('lessons', '00-process', 'process.ts'),
      "import reference from '../../solutions/00-process/process.js';\nexport default reference;\n",
    );
    // 01: does the honest-looking part, then borrows the reference's init() inside the container.
    const uts = readFileSync(file('lessons', '01-uts', 'uts.ts'), 'utf8')
      .replace('cloneFlags: () => 0,', 'cloneFlags: () => CLONE_NEWUTS,')
      .replace(
        'init(config, sys) {},',
        `async init(config, sys) {
    const where = ['..', '..', 'solu' + 'tions', '01-uts', 'uts.js'].join('/');
    const reference = await import(where);
    await reference.default.init(config, sys);
  },`,
      );
    writeFileSync(file('lessons', '01-uts', 'uts.ts'), uts);
    // …and "fixes" a check.
    appendFileSync(join(co.dir, 'tests', '00-process.checks.ts'), '\n// every check passes now\n');

    const junit = join(co.dir, 'grade.xml');
    const r = co.run(['grade', '--json', '--lesson', '0', '--lesson', '1', '--junit', junit, '--learner', 'mallory']);
    expect(r.status, r.stderr).to.equal(3);
    const g = report(r);
    expect(g.format).to.equal('cellblock-grade/2');
    expect(g.learner).to.equal('mallory');
    expect(g.integrity.status).to.equal('tampered');
    expect(g.integrity.reference).to.match(/^git HEAD [0-9a-f]{12}$/);
    expect(g.integrity.changes).to.deep.equal([{ path: 'tests/00-process.checks.ts', change: 'modified' }]);

    const [l0, l1] = g.lessons;
    expect(l0!.cheating.join('\n')).to.match(
      /lessons\/00-process\/process\.ts:1 refers to "..\/..\/solutions\/00-process\/process\.js"/,
    );
    expect(l0!.cheating.join('\n')).to.match(/imports dist\/solutions\/00-process\/process\.js/);
    expect(l0!.score).to.equal(0);
    expect(l0!.ok).to.equal(false);
    // Not even loaded, yet every check of the lesson is there: totals stay comparable.
    expect(l0!.total).to.be.greaterThan(1);
    expect(l0!.checks.every((c) => !c.ok && c.found.startsWith('not run:'))).to.equal(true);
    // The runtime guard inside the container's init caught what no scan can see.
    expect(l1!.cheating.join('\n')).to.match(/imports dist\/solutions\/01-uts\/uts\.js/);
    expect(l1!.score).to.equal(0);
    expect(g.summary.ok).to.equal(false);

    // JUnit: well-formed, one suite for integrity and one per lesson, failures typed.
    const py = spawnSync(
      'python3',
      [
        '-c',
        `import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
print(r.tag, r.get('tests'), r.get('failures'))
for s in r.findall('testsuite'):
    print(s.get('name'), s.get('tests'), s.get('failures'), ','.join(sorted({f.get('type') for f in s.iter('failure')})))`,
        junit,
      ],
      { encoding: 'utf8' },
    );
    if (py.error) return; // no python3: the XML was still written
    expect(py.status, py.stderr).to.equal(0);
    const lines = py.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^testsuites \d+ \d+$/);
    expect(lines[1]).to.equal('integrity 1 1 tampered');
    // Checks that never ran fail too; the provided ones among them as `broken`.
    expect(lines[2]).to.match(/^00-process (\d+) (\d+) broken,cheating,check$/);
    expect(lines[3]).to.match(/^01-uts \d+ \d+ (broken,)?cheating,check$/);
    const [, tests, failures] = /^00-process (\d+) (\d+)/.exec(lines[2]!)!;
    expect(tests).to.equal(failures);
  });

  it('grades honest work, and rebuilds dist/ first (a hand-edited dist/lessons file is not graded)', function () {
    co.git(['checkout', '--', 'tests', 'lessons']);
    copyFileSync(file('solutions', '00-process', 'process.ts'), file('lessons', '00-process', 'process.ts'));
    // 01 stays the starter, but its built file is swapped for the reference's.
    expect(co.run(['status']).status).to.equal(0); // builds dist/
    copyFileSync(
      join(co.dir, 'dist', 'solutions', '01-uts', 'uts.js'),
      join(co.dir, 'dist', 'lessons', '01-uts', 'uts.js'),
    );
    const r = co.run(['grade', '--lesson', '0', '--lesson', '1']);
    expect(r.status, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.match(/lesson\s+checks\s+provided\s+score\s+time/);
    expect(r.stdout).to.match(/00-process\s+(\d+)\/\1\s+ok\s+100%\s+[\d.]+ s/);
    expect(r.stdout).to.match(/01-uts\s+0\/\d+\s+ok\s+0%/);
    expect(r.stdout).to.match(/total\s+\d+\/\d+\s+ok\s+50%\s+[\d.]+ s\s+1\/2 lessons pass/);
    expect(r.stdout).to.match(/Integrity:\s+ok \(compared with git HEAD/);
    expect(r.stdout).to.match(/Fingerprint: [0-9a-f]{16}/);
  });

  /** lessons/<id>/ as the reference has it: every lesson's TODOs done. */
  const solve = (id: string): void => {
    for (const f of readdirSync(join(co.dir, 'solutions', id)).filter((x) => x.endsWith('.ts')))
      copyFileSync(join(co.dir, 'solutions', id, f), join(co.dir, 'lessons', id, f));
  };

  // What a grade counts: the learner's checks — those the untouched starter fails (docs/grading.md).
  // One grade of the whole tree, half of it solved: each lesson is graded on its
  // own (the references for the others), so every other lesson solved and the
  // rest untouched shows both ends in one run — 100% and 0%, and a total between.
  // (tests/lessons.test.ts runs both states of every lesson.)
  it('every other lesson solved, the rest untouched: 100% and 0% side by side, the total between', function () {
    this.timeout(300_000);
    co.git(['checkout', '--', 'tests', 'lessons']);
    const solved = manifest().filter((_, i) => i % 2 === 1);
    const untouched = manifest().filter((_, i) => i % 2 === 0);
    for (const l of solved) solve(l.id);
    const junit = join(co.dir, 'half.xml');
    const r = co.run(['grade', '--json', '--junit', junit]);
    expect(r.status, r.stderr).to.equal(1);
    const g = report(r);
    const byId = new Map(g.lessons.map((l) => [l.id, l]));
    for (const l of untouched) {
      const got = byId.get(l.id)!;
      expect(got.score, `${l.id} untouched: ${JSON.stringify(got)}`).to.equal(0);
      expect(got.passed, l.id).to.equal(0);
      expect(got.total, l.id).to.be.greaterThan(0);
    }
    for (const l of solved) {
      const got = byId.get(l.id)!;
      expect(got.score, `${l.id} solved: ${JSON.stringify(got)}`).to.equal(100);
      expect(got.passed, l.id).to.equal(got.total);
      expect(got.provided.broken, l.id).to.deep.equal([]);
      expect(got.ok, l.id).to.equal(true);
    }
    expect(g.summary.score).to.be.greaterThan(0).and.lessThan(100);
    expect(g.summary.providedBroken).to.equal(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<property name="passed" value="0"\/>/g)).to.have.length(untouched.length);
    expect(xml).to.match(/classname="cellblock\.\d\d-[a-z-]+\.provided"/);
    co.git(['checkout', '--', 'lessons']);
  });

  it('the TODOs done but a provided validation broken: the lesson fails and names it', function () {
    co.git(['checkout', '--', 'lessons']);
    solve('01-uts');
    // The solution's code, with the 64-byte HOST_NAME_MAX check loosened by one byte.
    const uts = join(co.dir, 'lessons', '01-uts', 'uts.ts');
    const loosened = readFileSync(uts, 'utf8').replace(
      'Buffer.byteLength(hostname) <= HOST_NAME_MAX',
      'Buffer.byteLength(hostname) <= HOST_NAME_MAX + 1',
    );
    expect(loosened).to.contain('HOST_NAME_MAX + 1');
    writeFileSync(uts, loosened);
    const broken = 'a 65-byte hostname is rejected before anything is created';

    const junit = join(co.dir, 'broken.xml');
    const table = co.run(['grade', '--lesson', '01', '--junit', junit]);
    expect(table.status, table.stdout + table.stderr).to.equal(1);
    expect(table.stdout).to.match(/01-uts\s+(\d+)\/\1\s+1 broken\s+\d+%/);
    expect(table.stdout).to.contain(`broke: ${broken}`);
    expect(readFileSync(junit, 'utf8')).to.match(
      new RegExp(`classname="cellblock\\.01-uts\\.provided" name="${broken}"[^>]*><failure [^>]*type="broken"`),
    );

    const [l] = report(co.run(['grade', '--json', '--lesson', '01-uts'])).lessons;
    expect(l!.passed, 'every learner check passes').to.equal(l!.total);
    expect(l!.provided.broken).to.deep.equal([broken]);
    expect(l!.ok).to.equal(false);
    expect(l!.score).to.equal(Math.round((100 * l!.passed) / (l!.total + 1)));
  });

  it('without .git: unverified, then sealed (SHA256SUMS), then tampering and a foreign fingerprint are reported', function () {
    co.git(['checkout', '--', 'lessons']);
    rmSync(join(co.dir, '.git'), { recursive: true, force: true });
    let g = report(co.run(['grade', '--json', '--lesson', '1']));
    expect(g.integrity.status).to.equal('unverified');
    const fingerprint = g.integrity.fingerprint;

    const sealed = co.run(['grade', '--seal']);
    expect(sealed.status).to.equal(0);
    expect(sealed.stdout).to.contain(fingerprint); // the fingerprint is the hash of SHA256SUMS
    // It is the format sha256sum reads.
    const check = spawnSync('sha256sum', ['--check', '--quiet', SUMS_FILE], { cwd: co.dir, encoding: 'utf8' });
    if (!check.error) expect(check.status, check.stdout + check.stderr).to.equal(0);

    g = report(co.run(['grade', '--json', '--lesson', '1', '--expect-fingerprint', fingerprint.slice(0, 16)]));
    expect(g.integrity).to.include({ status: 'ok', reference: SUMS_FILE });

    appendFileSync(join(co.dir, 'scripts', 'build.mjs'), '\n// compile the reference instead\n');
    writeFileSync(join(co.dir, 'src', 'workshop', 'always-pass.ts'), 'export {};\n');
    rmSync(join(co.dir, 'solutions', '00-process', 'process.ts'));
    const r = co.run(['grade', '--json', '--lesson', '1', '--expect-fingerprint', fingerprint.slice(0, 16)]);
    expect(r.status).to.equal(3);
    g = report(r);
    expect(g.integrity.status).to.equal('tampered');
    expect(g.integrity.changes).to.deep.equal([
      { path: 'scripts/build.mjs', change: 'modified' },
      { path: 'solutions/00-process/process.ts', change: 'deleted' },
      { path: 'src/workshop/always-pass.ts', change: 'added' },
    ]);
    expect(g.integrity.fingerprintMismatch).to.deep.equal({ expected: fingerprint.slice(0, 16) });
  });

  it('the JSON matches the documented example in docs/grading.md, key for key', function () {
    const doc = readFileSync(join(ROOT, 'docs', 'grading.md'), 'utf8');
    const block = /```json\n([\s\S]*?)\n```/.exec(doc)![1]!;
    const documented = keyPaths(JSON.parse(block));
    const fresh = learnerCheckout({ git: true });
    try {
      appendFileSync(
        join(fresh.dir, 'tests', '01-uts.checks.ts'),
        '\n// changed, so that integrity.changes has an entry\n',
      );
      const real = keyPaths(report(fresh.run(['grade', '--json', '--lesson', '1'])));
      const optional = ['integrity.fingerprintMismatch', 'lessons[].error', 'lessons[].checks[].hint'];
      const strip = (s: Set<string>): string[] =>
        [...s].filter((p) => !optional.some((o) => p === o || p.startsWith(`${o}.`))).sort();
      expect(strip(real)).to.deep.equal(strip(documented));
      for (const o of optional) expect(doc, `${o} is documented`).to.contain(o.split('.').at(-1)!);
    } finally {
      fresh.remove();
    }
  });
});

describe('the sealed checksums of this checkout', function () {
  it('SHA256SUMS, when present, matches the tree (re-seal with `cellblock grade --seal`)', function () {
    if (!existsSync(join(ROOT, SUMS_FILE)))
      skipBecause(this, 'not sealed (no SHA256SUMS): grading compares with git HEAD');
    const i = checkIntegrity(ROOT);
    expect(i.changes, 'stale SHA256SUMS: run `cellblock grade --seal` and commit it').to.deep.equal([]);
  });
});

describe("cellblock grade and the user's own containers", function () {
  it('never touches what was there before: a container kept with `run --keep` survives grading', function () {
    this.timeout(300_000);
    const fresh = learnerCheckout();
    try {
      const id = `cb-kept-${process.pid}`;
      const kept = join(fresh.dir, '.cellblock', 'containers', id);
      const run = fresh.run(['run', '--solutions', '--keep', '--id', id, '--', 'sh', '-c', 'echo changed > /file']);
      expect(run.status, run.stderr).to.equal(0);
      expect(existsSync(join(kept, 'upper', 'file')), 'the kept upper').to.equal(true);
      const g = fresh.run(['grade', '--json', '--lesson', '0']);
      expect(report(g).lessons).to.have.length(1);
      expect(existsSync(join(kept, 'upper', 'file')), 'still kept after grading').to.equal(true);
    } finally {
      fresh.remove();
    }
  });
});
