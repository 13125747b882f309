/** `cellblock reset N`: the lesson's starter back (after asking), a backup of yours, and the kernel tidied. */
import chalk from 'chalk';
import { relative } from 'node:path';
import { createInterface } from 'node:readline';
import { cleanup } from '../../workshop/cleanup.js';
import { findLesson, sourceFile } from '../../workshop/manifest.js';
import { resetLesson, StarterError } from '../../workshop/starter.js';
import { CliError } from '../errors.js';

interface ResetArgs {
  lesson: string;
  yes: boolean;
  from?: string;
}

/** One line from stdin (a terminal or a pipe); '' at end of input. */
function ask(question: string): Promise<string> {
  process.stdout.write(question);
  const rl = createInterface({ input: process.stdin, terminal: false });
  return new Promise((resolve) => {
    let answered = false;
    rl.once('line', (l) => {
      answered = true;
      rl.close();
      resolve(l.trim());
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

export async function reset(args: ResetArgs): Promise<number> {
  const entry = findLesson(args.lesson);
  const file = relative(process.cwd(), sourceFile(entry, 'lessons')) || sourceFile(entry, 'lessons');
  if (!args.yes) {
    const answer = await ask(`Reset ${file} to the starter? Your version is backed up first. [y/N] `);
    if (!/^y(es)?$/i.test(answer)) {
      process.stdout.write('Not reset.\n');
      return 1;
    }
  }
  let r;
  try {
    r = resetLesson(entry, args.from ? { from: args.from } : {});
  } catch (err) {
    if (err instanceof StarterError) throw new CliError(err.message, 1, err.fix);
    throw err;
  }
  process.stdout.write(r.changed ? `Restored the starter of ${file}.\n` : `${file} already is the starter.\n`);
  if (r.backup) process.stdout.write(`Your version is kept in ${relative(process.cwd(), r.backup)}.\n`);
  process.stdout.write(`Progress and hints of ${entry.id} start again.\n`);

  // What the lesson's runs may have left in the kernel.
  const results = await cleanup();
  const removed = results.filter((x) => x.action === 'removed');
  for (const x of removed) process.stdout.write(`  ${chalk.green('removed')} ${x.kind.padEnd(7)} ${x.name}\n`);
  process.stdout.write(
    removed.length ? `Removed ${removed.length} leftover(s) from earlier runs.\n` : 'No leftovers in the kernel.\n',
  );
  return results.some((x) => x.action === 'failed') ? 1 : 0;
}
