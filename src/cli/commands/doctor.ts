/** `cellblock doctor`: a block to read, or to paste into a bug report. */
import chalk from 'chalk';
import { join } from 'node:path';
import { ROOT } from '../../core/paths.js';
import { readJson } from '../../core/read.js';
import { diagnose } from '../../workshop/doctor.js';

function version(): string {
  return readJson<{ version: string }>(join(ROOT, 'package.json'))?.version ?? 'unknown';
}

export async function doctor(args: { json: boolean }): Promise<number> {
  const findings = diagnose();
  const failed = findings.some((f) => f.level === 'fail');
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: !failed, cellblock: version(), at: new Date().toISOString(), findings }, null, 2)}\n`,
    );
    return failed ? 1 : 0;
  }
  const mark = { ok: chalk.green('ok  '), warn: chalk.yellow('warn'), fail: chalk.red('FAIL') };
  const rule = '-'.repeat(72);
  process.stdout.write(`${rule}\ncellblock doctor · cellblock ${version()} · ${new Date().toISOString()}\n`);
  for (const f of findings) {
    process.stdout.write(`  [${mark[f.level]}] ${f.name.padEnd(20)} ${f.value}\n`);
    if (f.fix && f.level !== 'ok') process.stdout.write(`         ${chalk.cyan('fix:')} ${f.fix}\n`);
  }
  const problems = findings.filter((f) => f.level !== 'ok');
  process.stdout.write(
    `${rule}\n${problems.length === 0 ? chalk.green('Everything the workshop needs is here.') : `${problems.length} problem(s): ${problems.map((p) => p.name).join(', ')}`}\n`,
  );
  process.stdout.write(chalk.dim('Reporting a bug? Paste everything between the two lines above.\n'));
  return failed ? 1 : 0;
}
