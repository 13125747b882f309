/** `cellblock doctor`: a block to read, or to paste into a bug report. */
import chalk from 'chalk';
import { diagnose } from '../../workshop/doctor.js';

export async function doctor(args: { json: boolean }): Promise<number> {
  const findings = diagnose();
  const failed = findings.some((f) => f.level === 'fail');
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ ok: !failed, findings }, null, 2)}\n`);
    return failed ? 1 : 0;
  }
  const mark = { ok: chalk.green('ok  '), warn: chalk.yellow('warn'), fail: chalk.red('FAIL') };
  process.stdout.write('cellblock doctor\n');
  for (const f of findings) {
    process.stdout.write(`  [${mark[f.level]}] ${f.name.padEnd(20)} ${f.value}\n`);
    if (f.fix && f.level !== 'ok') process.stdout.write(`         ${chalk.cyan('fix:')} ${f.fix}\n`);
  }
  return failed ? 1 : 0;
}
