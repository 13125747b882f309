/**
 * Runs *inside* the cgroup-v2 micro-VM (started by tests/v2vm/v2vm.test.ts
 * when CELLBLOCK_V2VM_MUTATIONS=1): lesson 05's mutation check on a real v2
 * kernel. Each TODO of the reference solution is put back to its starter form,
 * one at a time — the TODO-marker convention: the solution's paragraph that
 * starts `// [key]` is replaced by the starter's `// TODO [key]` paragraph —
 * and the checks must fail. The mutated file is written to the learner's path
 * of the VM's own copy of the checkout (a tmpfs; the host's tree is untouched)
 * and checked in a fresh process (a module, once imported, stays cached), which
 * stops at the first failing check: that check's name is the proof.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';
import { findLesson, sourceFile } from '../../src/workshop/manifest.js';

const entry = findLesson('05');
const learnerFile = sourceFile(entry, 'lessons');
const solution = readFileSync(sourceFile(entry, 'solutions'), 'utf8');
const starter = readFileSync(learnerFile, 'utf8');

/** key → [first line, line after] of each marked paragraph (it ends at the next blank line). */
export function paragraphs(text: string, marker: RegExp): Map<string, [number, number]> {
  const lines = text.split('\n');
  const out = new Map<string, [number, number]>();
  lines.forEach((line, i) => {
    const key = marker.exec(line)?.[1];
    if (!key) return;
    let end = i;
    while (end < lines.length && lines[end]!.trim() !== '') end++;
    out.set(key, [i, end]);
  });
  return out;
}

const SOLUTION_MARK = /^\s*\/\/ \[([a-z0-9-]+)\]/;
const STARTER_MARK = /^\s*\/\/ TODO \[([a-z0-9-]+)\]/;
const inSolution = paragraphs(solution, SOLUTION_MARK);
const inStarter = paragraphs(starter, STARTER_MARK);

/** The solution with the paragraph `key` put back to the starter's. */
function mutated(key: string): string {
  const [i, j] = inSolution.get(key)!;
  const [a, b] = inStarter.get(key)!;
  const s = solution.split('\n');
  const t = starter.split('\n');
  return [...s.slice(0, i), ...t.slice(a, b), ...s.slice(j)].join('\n');
}

/** Rebuild, run lesson 05's checks on the learner's file, stop at the first failure. */
const RUNNER = `
const { ensureBuilt } = await import(${JSON.stringify(`${ROOT}/scripts/build.mjs`)});
await ensureBuilt();
const { runLessonChecks } = await import(${JSON.stringify(`${ROOT}/dist/src/workshop/checks.js`)});
const { findLesson } = await import(${JSON.stringify(`${ROOT}/dist/src/workshop/manifest.js`)});
const stop = new Error('stop');
let first = null;
try {
  await runLessonChecks(findLesson('05'), 'lessons', (r) => {
    if (!r.ok) { first = { name: r.name, found: r.found }; throw stop; }
  });
} catch (err) {
  if (err !== stop) throw err;
}
process.stdout.write('\\nRESULT ' + JSON.stringify(first) + '\\n');
`;

describe(`lesson ${entry.id} on cgroup v2: each TODO put back to its starter form fails a check`, function () {
  this.timeout(1_800_000);

  it('the starter and the solution mark the same TODOs', function () {
    expect([...inStarter.keys()].sort()).to.deep.equal([...inSolution.keys()].sort());
    expect(inSolution.size).to.be.greaterThan(0);
  });

  after(function () {
    writeFileSync(learnerFile, starter);
  });

  for (const key of inSolution.keys()) {
    it(`[${key}]`, function () {
      writeFileSync(learnerFile, mutated(key));
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER], {
        cwd: ROOT,
        encoding: 'utf8',
        env: process.env,
      });
      const line = /^RESULT (.*)$/m.exec(r.stdout)?.[1];
      expect(line, `the checks did not run (exit ${r.status}):\n${r.stderr.slice(-2000)}`).to.not.equal(undefined);
      const first = JSON.parse(line!) as { name: string; found: string } | null;
      expect(first, `[${key}] put back to the starter's form, and every check still passes`).to.not.equal(null);
      this.test!.title += ` — fails: ${first!.name}`;
    });
  }
});
