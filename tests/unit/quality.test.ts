/**
 * The code-quality gate: type check, lint, format. Part of the suite so a
 * lesson diff never carries unrelated churn and CI fails on a type error.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';

function tool(bin: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', bin), args, { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('code quality', function () {
  this.timeout(120_000);

  it('type-checks (tsc, strict)', function () {
    const r = tool('tsc', ['-p', 'tsconfig.json']);
    expect(r.status, r.output).to.equal(0);
  });

  it('lints clean (eslint)', function () {
    const r = tool('eslint', ['.']);
    expect(r.status, r.output).to.equal(0);
  });

  it('is formatted (prettier --check)', function () {
    const r = tool('prettier', ['--check', '.']);
    expect(r.status, r.output).to.equal(0);
  });
});
